import { BatchEngineLauncher } from "./batch-launcher.js";
import { shQuote } from "./launch-tools.js";

export interface SlurmEngineLauncherOptions {
  partition?: string;
  /** Wall time in any form sbatch takes ("30", "1:00:00", "1-0"). */
  time?: string;
  account?: string;
  /** More sbatch options (e.g. ["--mem-per-cpu=1G", "--overcommit"]). */
  slurmArgs?: string[];
  node?: string;
  engineScript?: string;
}

/**
 * One job of n tasks, each task an engine started by `srun`, rather than a job array: the scheduler places
 * the n engines in one decision, one `scancel` ends them all, one job is listed in `squeue`, and each
 * engine gets its task rank (SLURM_PROCID) as `rank`. An array of n one-engine jobs would let engines
 * start piecemeal as resources free up, which suits long queues better; `--batch-template` can do that.
 */
const TEMPLATE = `#!/bin/sh
#SBATCH --job-name={job_name}
#SBATCH --ntasks={n}
#SBATCH --output={log_file}
exec srun {engine_command}
`;

export class SlurmEngineLauncher extends BatchEngineLauncher {
  constructor(options: SlurmEngineLauncherOptions = {}) {
    const args = [
      "--parsable",
      ...(options.partition ? [`--partition=${options.partition}`] : []),
      ...(options.time ? [`--time=${options.time}`] : []),
      ...(options.account ? [`--account=${options.account}`] : []),
      ...(options.slurmArgs ?? []),
    ];
    super({
      name: "slurm",
      template: TEMPLATE,
      submit: `sbatch ${shQuote(...args)} {script}`,
      cancel: "scancel {job_id}",
      status: "squeue --noheader --format=%T --jobs={job_id}",
      node: options.node,
      engineScript: options.engineScript,
    });
  }
}
