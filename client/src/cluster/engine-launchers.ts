import { readFileSync } from "node:fs";
import { BatchEngineLauncher, type BatchEngineLauncherOptions } from "./batch-launcher.js";
import type { EngineLauncher } from "./launcher.js";
import { LocalEngineLauncher } from "./local-launcher.js";
import { MpiEngineLauncher, type MpiEngineLauncherOptions } from "./mpi-launcher.js";
import { SlurmEngineLauncher, type SlurmEngineLauncherOptions } from "./slurm-launcher.js";
import { SshEngineLauncher, type SshEngineLauncherOptions } from "./ssh-launcher.js";

/** The engine launchers by name, as `Cluster.start({ engines: { launcher: "ssh", hosts: "a:2,b:2" } })` and `--engines` take them. */
export type EngineLauncherSpec =
  | { launcher: "local" }
  | ({ launcher: "ssh" } & SshEngineLauncherOptions)
  | ({ launcher: "mpi" } & MpiEngineLauncherOptions)
  | ({ launcher: "slurm" } & SlurmEngineLauncherOptions)
  | ({ launcher: "batch"; templateFile?: string } & Partial<BatchEngineLauncherOptions>);

export const ENGINE_LAUNCHERS = ["local", "ssh", "mpi", "slurm", "batch"] as const;

/** Submit/cancel/status commands of the schedulers whose directives a template uses. */
const SCHEDULERS: { directive: RegExp; name: string; submit: string; cancel: string; status: string }[] = [
  { directive: /^#SBATCH\b/m, name: "slurm", submit: "sbatch --parsable {script}", cancel: "scancel {job_id}", status: "squeue --noheader --format=%T --jobs={job_id}" },
  { directive: /^#PBS\b/m, name: "pbs", submit: "qsub {script}", cancel: "qdel {job_id}", status: "qstat {job_id}" },
  { directive: /^#BSUB\b/m, name: "lsf", submit: "bsub < {script}", cancel: "bkill {job_id}", status: "bjobs -noheader -o stat {job_id} | grep -v -e DONE -e EXIT" },
  { directive: /^#\$ /m, name: "sge", submit: "qsub {script}", cancel: "qdel {job_id}", status: "qstat -j {job_id}" },
];

function batchLauncher(spec: Extract<EngineLauncherSpec, { launcher: "batch" }>): BatchEngineLauncher {
  let template = spec.template;
  if (template === undefined) {
    if (!spec.templateFile) throw new Error("the batch launcher needs a template (--batch-template FILE)");
    try {
      template = readFileSync(spec.templateFile, "utf8");
    } catch (err) {
      throw new Error(`cannot read the batch template ${spec.templateFile}: ${(err as Error).message}`);
    }
  }
  const known = SCHEDULERS.find((s) => s.directive.test(template));
  const submit = spec.submit ?? known?.submit;
  const cancel = spec.cancel ?? known?.cancel;
  if (!submit || !cancel) {
    throw new Error("the batch template has no #SBATCH, #PBS, #BSUB or #$ directive to tell its scheduler: give --batch-submit and --batch-cancel");
  }
  return new BatchEngineLauncher({ ...spec, name: spec.name ?? known?.name ?? "batch", template, submit, cancel, status: spec.status ?? known?.status });
}

export function createEngineLauncher(spec: EngineLauncherSpec): EngineLauncher {
  switch (spec.launcher) {
    case "local":
      return new LocalEngineLauncher();
    case "ssh":
      return new SshEngineLauncher(spec);
    case "mpi":
      return new MpiEngineLauncher(spec);
    case "slurm":
      return new SlurmEngineLauncher(spec);
    case "batch":
      return batchLauncher(spec);
    default:
      throw new Error(`unknown engine launcher "${(spec as { launcher: string }).launcher}": expected one of ${ENGINE_LAUNCHERS.join(", ")}`);
  }
}
