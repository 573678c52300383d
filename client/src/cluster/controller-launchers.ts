import { cancelJobs, jobPresent } from "./batch-launcher.js";
import type { ControllerLauncher, LaunchedProcess } from "./launcher.js";
import { LocalControllerLauncher } from "./local-launcher.js";
import { isOurs } from "./process-identity.js";
import { SlurmControllerLauncher, releaseAttachedJob, type SlurmControllerLauncherOptions } from "./slurm-controller-launcher.js";
import { SshControllerLauncher, type SshControllerLauncherOptions } from "./ssh-controller-launcher.js";
import { stopSshProcesses } from "./ssh-launcher.js";

/** The controller launchers by name, as `Cluster.start({ controller: { launcher: "ssh", host } })` and `--controller` take them. */
export type ControllerLauncherSpec =
  | { launcher: "local" }
  | ({ launcher: "ssh" } & SshControllerLauncherOptions)
  | ({ launcher: "slurm" } & SlurmControllerLauncherOptions);

export const CONTROLLER_LAUNCHERS = ["local", "ssh", "slurm"] as const;

export function createControllerLauncher(spec: ControllerLauncherSpec): ControllerLauncher {
  switch (spec.launcher) {
    case "local":
      return new LocalControllerLauncher();
    case "ssh":
      if (!spec.host) throw new Error("the ssh controller launcher needs a host (--controller-host [user@]host[:port])");
      return new SshControllerLauncher(spec);
    case "slurm":
      return new SlurmControllerLauncher(spec);
    default:
      throw new Error(`unknown controller launcher "${(spec as { launcher: string }).launcher}": expected one of ${CONTROLLER_LAUNCHERS.join(", ")}`);
  }
}

/**
 * Whether a recorded controller still runs: a local one (or the local ssh client of a remote one) by its
 * verified identity, one in a batch job by asking the scheduler.
 */
export async function controllerRunning(controller: LaunchedProcess): Promise<boolean> {
  if (controller.job) return jobPresent(controller.job);
  return isOurs(controller);
}

/** The same without waiting: a controller in a job counts as running until the scheduler is asked. */
export function controllerMayRun(controller: LaunchedProcess): boolean {
  return controller.job !== undefined || isOurs(controller);
}

/** "controller pid N" here; "controller pid N on HOST (ssh)" or "... (slurm job J)" elsewhere. */
export function describeController(controller: LaunchedProcess): string {
  if (controller.remote) return `controller pid ${controller.remote.pid} on ${controller.remote.host ?? "its host"} (ssh)`;
  if (controller.job) return `controller pid ${controller.pid} on ${controller.host} (${controller.job.launcher} job ${controller.job.jobId})`;
  return `controller pid ${controller.pid}`;
}

/**
 * Ends a controller that outlived its shutdown elsewhere: over ssh by its remote pid (checked to still
 * be a tspcontroller), in a job by cancelling the job; nothing for a local one.
 */
export async function stopRemoteController(controller: LaunchedProcess): Promise<void> {
  if (controller.remote) await stopSshProcesses([controller], "tspcontroller");
  if (controller.job) {
    await cancelJobs([controller.job]);
    releaseAttachedJob(controller.job.jobId);
  }
}
