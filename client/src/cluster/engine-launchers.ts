import { readFileSync } from "node:fs";
import { BatchEngineLauncher, type BatchEngineLauncherOptions } from "./batch-launcher.js";
import type { EngineLauncher } from "./launcher.js";
import { ENGINE_LAUNCHERS, engineLauncherName, type EngineLauncherName, type LauncherSpelling } from "./launcher-names.js";
import { LocalEngineLauncher } from "./local-launcher.js";
import { MpiEngineLauncher, type MpiEngineLauncherOptions } from "./mpi-launcher.js";
import { SlurmEngineLauncher, type SlurmEngineLauncherOptions } from "./slurm-launcher.js";
import { SshEngineLauncher, type SshEngineLauncherOptions } from "./ssh-launcher.js";

export { ENGINE_LAUNCHERS, type EngineLauncherName };

type BatchSpec = { templateFile?: string } & Partial<BatchEngineLauncherOptions>;

/**
 * The engine launchers by name, as `Cluster.start({ engines: { launcher: "ssh", hosts: "a:2,b:2" } })`,
 * `--engines` and the profile's cluster-config.json take them; the name in any case ("MPI", "Slurm").
 * "pbs", "sge" and "lsf" are the batch launcher with that scheduler's submit/cancel/status commands.
 */
export type EngineLauncherSpec =
  | { launcher: LauncherSpelling<"local"> }
  | ({ launcher: LauncherSpelling<"ssh"> } & SshEngineLauncherOptions)
  | ({ launcher: LauncherSpelling<"mpi"> } & MpiEngineLauncherOptions)
  | ({ launcher: LauncherSpelling<"slurm"> } & SlurmEngineLauncherOptions)
  | ({ launcher: LauncherSpelling<"batch" | "pbs" | "sge" | "lsf"> } & BatchSpec);

/** A spec, or only the name of a launcher that needs no options ("local", "mpi", "slurm"). */
export type EngineLauncherChoice = EngineLauncherSpec | LauncherSpelling<EngineLauncherName>;

/** The spec a choice stands for, its launcher named in lower case; a clear error for an unknown name. */
export function engineLauncherSpec(choice: EngineLauncherChoice): EngineLauncherSpec {
  if (typeof choice === "string") return { launcher: engineLauncherName(choice) } as EngineLauncherSpec;
  if (typeof choice !== "object" || choice === null) throw new TypeError(`an engine launcher is a name or { launcher, ...options }, got ${String(choice)}`);
  return { ...choice, launcher: engineLauncherName(choice.launcher) } as EngineLauncherSpec;
}

/** Submit/cancel/status commands of the schedulers whose directives a template uses. */
const SCHEDULERS: { directive: RegExp; name: string; submit: string; cancel: string; status: string }[] = [
  { directive: /^#SBATCH\b/m, name: "slurm", submit: "sbatch --parsable {script}", cancel: "scancel {job_id}", status: "squeue --noheader --format=%T --jobs={job_id}" },
  { directive: /^#PBS\b/m, name: "pbs", submit: "qsub {script}", cancel: "qdel {job_id}", status: "qstat {job_id}" },
  { directive: /^#BSUB\b/m, name: "lsf", submit: "bsub < {script}", cancel: "bkill {job_id}", status: "bjobs -noheader -o stat {job_id} | grep -v -e DONE -e EXIT" },
  { directive: /^#\$ /m, name: "sge", submit: "qsub {script}", cancel: "qdel {job_id}", status: "qstat -j {job_id}" },
];

function batchLauncher(spec: BatchSpec, scheduler: string | undefined): BatchEngineLauncher {
  let template = spec.template;
  if (template === undefined) {
    if (!spec.templateFile) throw new Error("the batch launcher needs a template (--batch-template FILE)");
    try {
      template = readFileSync(spec.templateFile, "utf8");
    } catch (err) {
      throw new Error(`cannot read the batch template ${spec.templateFile}: ${(err as Error).message}`);
    }
  }
  // A scheduler named by the launcher ("sge") wins over the template's directives.
  const known = scheduler ? SCHEDULERS.find((s) => s.name === scheduler) : SCHEDULERS.find((s) => s.directive.test(template));
  const submit = spec.submit ?? known?.submit;
  const cancel = spec.cancel ?? known?.cancel;
  if (!submit || !cancel) {
    throw new Error("the batch template has no #SBATCH, #PBS, #BSUB or #$ directive to tell its scheduler: give --batch-submit and --batch-cancel");
  }
  return new BatchEngineLauncher({ ...spec, name: spec.name ?? known?.name ?? "batch", template, submit, cancel, status: spec.status ?? known?.status });
}

export function createEngineLauncher(choice: EngineLauncherChoice): EngineLauncher {
  const spec = engineLauncherSpec(choice);
  const name = spec.launcher as EngineLauncherName;
  switch (name) {
    case "local":
      return new LocalEngineLauncher();
    case "ssh":
      return new SshEngineLauncher(spec as SshEngineLauncherOptions);
    case "mpi":
      return new MpiEngineLauncher(spec as MpiEngineLauncherOptions);
    case "slurm":
      return new SlurmEngineLauncher(spec as SlurmEngineLauncherOptions);
    case "batch":
      return batchLauncher(spec as BatchSpec, undefined);
    case "pbs":
    case "sge":
    case "lsf":
      return batchLauncher(spec as BatchSpec, name);
  }
}
