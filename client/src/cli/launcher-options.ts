import { Command, InvalidArgumentError, Option } from "commander";
import { parse } from "shell-quote";
import type { ControllerLauncherSpec } from "../cluster/controller-launchers.js";
import type { EngineLauncherSpec } from "../cluster/engine-launchers.js";
import { controllerLauncherName, engineLauncherName, LauncherNameError, type ControllerLauncherName, type EngineLauncherName } from "../cluster/launcher-names.js";

/** The `--engines` options shared by `tspcluster start` and `tspcluster engines add`. */
export interface LauncherCliOptions {
  /** Absent: the profile's cluster-config.json says, else local. */
  engines?: EngineLauncherName;
  hosts?: string;
  sshArgs?: string;
  remoteDir?: string;
  remoteNode?: string;
  remoteEngine?: string;
  mpiexec?: string;
  mpiArgs?: string;
  partition?: string;
  time?: string;
  account?: string;
  slurmArgs?: string;
  batchTemplate?: string;
  batchSubmit?: string;
  batchCancel?: string;
  batchStatus?: string;
  queue?: string;
}

/** Splits a quoted option value ("-i key -o 'A=b c'") into words as a shell would; no expansion. */
export function words(value: string | undefined, option: string): string[] {
  if (!value) return [];
  return parse(value).map((entry) => {
    if (typeof entry !== "string") throw new InvalidArgumentError(`${option} takes plain words, not shell operators or globs: "${value}"`);
    return entry;
  });
}

/** A launcher name in any case ("MPI", "Slurm"), or commander's usage error listing the known ones. */
function launcherName<N>(lookUp: (name: string) => N): (value: string) => N {
  return (value) => {
    try {
      return lookUp(value);
    } catch (err) {
      if (err instanceof LauncherNameError) throw new InvalidArgumentError(err.message);
      throw err;
    }
  };
}

export function addLauncherOptions(command: Command): Command {
  return command
    .addOption(new Option("--engines <launcher>", "how engines start: local, ssh, mpi, slurm, batch, pbs, sge, lsf, any case (default: the profile's cluster-config.json, else local)").argParser(launcherName(engineLauncherName)))
    .option("--hosts <list>", "ssh: comma-separated [user@]host[:port][:count], e.g. \"hostA:4,me@hostB:2222:2\"")
    .option("--ssh-args <args>", "ssh: options passed to every ssh, e.g. \"-i ~/.ssh/key -o StrictHostKeyChecking=no\"")
    .option("--remote-dir <dir>", "ssh: working directory on the hosts (of the engines, and of an ssh controller)")
    .option("--remote-node <path>", "ssh: node on the hosts (default: node in the login PATH)")
    .option("--remote-engine <path>", "ssh/mpi/batch: tspengine.js where engines run (default: this installation's path)")
    .option("--mpiexec <path>", "mpi: the MPI launcher (default mpiexec)")
    .option("--mpi-args <args>", "mpi: options before -n, e.g. \"--hostfile hosts --oversubscribe\"")
    .option("--partition <name>", "slurm: partition")
    .option("--time <limit>", "slurm: wall time, e.g. 1:00:00")
    .option("--account <name>", "slurm: account to charge")
    .option("--slurm-args <args>", "slurm: more sbatch options, e.g. \"--mem-per-cpu=1G\"")
    .option("--batch-template <file>", "batch: job script template with {n} {queue} {time} {account} {engine_command} ... (see README)")
    .option("--batch-submit <command>", "batch: submit command with {script} (default from the template's #PBS/#BSUB/#$/#SBATCH lines)")
    .option("--batch-cancel <command>", "batch: cancel command with {job_id}")
    .option("--batch-status <command>", "batch: prints while {job_id} is queued or running, nothing after")
    .option("--queue <name>", "batch: value of {queue}");
}

/** The engine launcher the options ask for; undefined without --engines (the profile's config, else local). */
export function launcherSpec(opts: LauncherCliOptions): EngineLauncherSpec | undefined {
  const remoteEngine = opts.remoteEngine;
  switch (opts.engines) {
    case undefined:
      return undefined;
    case "local":
      return { launcher: "local" };
    case "ssh":
      if (!opts.hosts) throw new InvalidArgumentError("--engines ssh needs --hosts \"host:count,...\"");
      return { launcher: "ssh", hosts: opts.hosts, sshArgs: words(opts.sshArgs, "--ssh-args"), remoteDir: opts.remoteDir, remoteNode: opts.remoteNode, remoteEngine };
    case "mpi":
      return { launcher: "mpi", mpiexec: opts.mpiexec, mpiArgs: words(opts.mpiArgs, "--mpi-args"), engineScript: remoteEngine };
    case "slurm":
      return { launcher: "slurm", partition: opts.partition, time: opts.time, account: opts.account, slurmArgs: words(opts.slurmArgs, "--slurm-args"), engineScript: remoteEngine };
    case "batch":
    case "pbs":
    case "sge":
    case "lsf":
      if (!opts.batchTemplate) throw new InvalidArgumentError(`--engines ${opts.engines} needs --batch-template FILE`);
      return {
        launcher: opts.engines, templateFile: opts.batchTemplate, submit: opts.batchSubmit, cancel: opts.batchCancel, status: opts.batchStatus,
        queue: opts.queue ?? opts.partition, time: opts.time, account: opts.account, engineScript: remoteEngine,
      };
  }
}

/** The `--controller` options of `tspcluster start` (ssh options, --partition/--time/--account shared with the engines'). */
export interface ControllerCliOptions {
  /** Absent: the profile's cluster-config.json says, else local. */
  controller?: ControllerLauncherName;
  controllerHost?: string;
  remoteController?: string;
  remoteTsparallelDir?: string;
  controllerSlurmArgs?: string;
}

export function addControllerOptions(command: Command): Command {
  return command
    .addOption(new Option("--controller <launcher>", "where the controller runs: local, ssh, slurm, any case (default: the profile's cluster-config.json, else local)").argParser(launcherName(controllerLauncherName)))
    .option("--controller-host <host>", "ssh: the controller's host, [user@]host[:port] (--ssh-args and --remote-node apply)")
    .option("--remote-controller <path>", "ssh/slurm: tspcontroller.js where the controller runs (default: this installation's path)")
    .option("--remote-tsparallel-dir <dir>", "ssh: TSPARALLEL_DIR of the controller on its host (default: its login's ~/.tsparallel)")
    .option("--controller-slurm-args <args>", "slurm: more sbatch options for the controller's job (--partition, --time, --account apply too)");
}

export function controllerSpec(opts: ControllerCliOptions & LauncherCliOptions): ControllerLauncherSpec | undefined {
  switch (opts.controller) {
    case undefined:
      return undefined;
    case "local":
      return { launcher: "local" };
    case "ssh":
      if (!opts.controllerHost) throw new InvalidArgumentError("--controller ssh needs --controller-host [user@]host[:port]");
      return {
        launcher: "ssh", host: opts.controllerHost, sshArgs: words(opts.sshArgs, "--ssh-args"), remoteNode: opts.remoteNode, remoteDir: opts.remoteDir,
        remoteController: opts.remoteController, remoteTsparallelDir: opts.remoteTsparallelDir,
      };
    case "slurm":
      return {
        launcher: "slurm", partition: opts.partition, time: opts.time, account: opts.account,
        slurmArgs: words(opts.controllerSlurmArgs, "--controller-slurm-args"), controllerScript: opts.remoteController,
      };
  }
}
