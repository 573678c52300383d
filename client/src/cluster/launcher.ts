/**
 * How processes of a cluster are started. The local launchers are the only ones so far; SSH, MPI or
 * Slurm launchers implement the same two interfaces and nothing else changes.
 */
export interface LaunchedProcess {
  readonly pid: number;
  readonly host: string;
  /** Where its output goes, if anywhere. */
  readonly logFile?: string;
  /**
   * For a process on this host: its start time (/proc/<pid>/stat field 22) and command line, which
   * must both match before anything signals the pid. Left out by launchers of remote processes.
   */
  readonly startTime?: number;
  readonly cmdline?: string[];
}

export interface ControllerLaunchOptions {
  profile: string;
  ip?: string;
  location?: string;
  /** Extra tspcontroller arguments (e.g. ["--scheme", "lru"]). */
  args?: string[];
  /** Outlive the launching process (tspcluster start --daemonize). */
  detached: boolean;
  timeoutMs: number;
  /**
   * A restart after a crash (by a supervisor): the controller comes back with `--restore` (same ports and
   * key from the profile's connection files, its task store reopened) where it supports it.
   */
  restore?: boolean;
}

export interface ControllerLaunch {
  process: LaunchedProcess;
  clientFile: string;
  engineFile: string;
}

export interface EngineLaunchOptions {
  profile: string;
  engineFile: string;
  args?: string[];
  detached: boolean;
  /** Numbers the engines' log files. */
  firstIndex: number;
}

export interface ControllerLauncher {
  start(options: ControllerLaunchOptions): Promise<ControllerLaunch>;
}

export interface EngineLauncher {
  start(count: number, options: EngineLaunchOptions): Promise<LaunchedProcess[]>;
}
