import { cancelJobs, jobPresent } from "./batch-launcher.js";
import type { ControllerLauncher, LaunchedProcess } from "./launcher.js";
import { CONTROLLER_LAUNCHERS, controllerLauncherName, type ControllerLauncherName, type LauncherSpelling } from "./launcher-names.js";
import { LocalControllerLauncher } from "./local-launcher.js";
import { isOurs } from "./process-identity.js";
import { SlurmControllerLauncher, releaseAttachedJob, type SlurmControllerLauncherOptions } from "./slurm-controller-launcher.js";
import { SshControllerLauncher, type SshControllerLauncherOptions } from "./ssh-controller-launcher.js";
import { stopSshProcesses } from "./ssh-launcher.js";

export { CONTROLLER_LAUNCHERS, type ControllerLauncherName };

/**
 * The controller launchers by name, as `Cluster.start({ controller: { launcher: "ssh", host } })`,
 * `--controller` and the profile's cluster-config.json take them; the name in any case ("SSH").
 */
export type ControllerLauncherSpec =
  | { launcher: LauncherSpelling<"local"> }
  | ({ launcher: LauncherSpelling<"ssh"> } & SshControllerLauncherOptions)
  | ({ launcher: LauncherSpelling<"slurm"> } & SlurmControllerLauncherOptions);

/** A spec, or only the name of a launcher that needs no options ("local", "slurm"). */
export type ControllerLauncherChoice = ControllerLauncherSpec | LauncherSpelling<ControllerLauncherName>;

/** The spec a choice stands for, its launcher named in lower case; a clear error for an unknown name. */
export function controllerLauncherSpec(choice: ControllerLauncherChoice): ControllerLauncherSpec {
  if (typeof choice === "string") return { launcher: controllerLauncherName(choice) } as ControllerLauncherSpec;
  if (typeof choice !== "object" || choice === null) throw new TypeError(`a controller launcher is a name or { launcher, ...options }, got ${String(choice)}`);
  return { ...choice, launcher: controllerLauncherName(choice.launcher) } as ControllerLauncherSpec;
}

export function createControllerLauncher(choice: ControllerLauncherChoice): ControllerLauncher {
  const spec = controllerLauncherSpec(choice);
  switch (spec.launcher as ControllerLauncherName) {
    case "local":
      return new LocalControllerLauncher();
    case "ssh": {
      const ssh = spec as SshControllerLauncherOptions;
      if (!ssh.host) throw new Error("the ssh controller launcher needs a host (--controller-host [user@]host[:port])");
      return new SshControllerLauncher(ssh);
    }
    case "slurm":
      return new SlurmControllerLauncher(spec as SlurmControllerLauncherOptions);
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
