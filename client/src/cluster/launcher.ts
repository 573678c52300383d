/**
 * How processes of a cluster are started: local processes (local-launcher.ts), engines over ssh
 * (ssh-launcher.ts), under mpiexec (mpi-launcher.ts) or in a batch job (batch-launcher.ts, Slurm's in
 * slurm-launcher.ts), all behind the same two interfaces.
 */
export interface LaunchedProcess {
  /** A process on this host (for the ssh launcher: the local ssh client). */
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
  /** The launcher that started it ("local" when absent). */
  readonly launcher?: string;
  /** How many engines this process runs (mpiexec runs n); 1 when absent. */
  readonly engines?: number;
  /**
   * A process on another host: its pid there and the ssh command that reaches that host. For the ssh
   * controller, `host` names that host (its record's own pid, start time and command line are the local
   * ssh client's, which lives exactly as long as the remote controller does).
   */
  readonly remote?: { pid: number; ssh: string[]; host?: string };
  /** A process that is a batch job (the Slurm controller): pid and host are where it runs, the job is what stops it. */
  readonly job?: LaunchedJob;
}

/** Engines in a batch job: no local process, only a job id the scheduler knows. */
export interface LaunchedJob {
  readonly launcher: string;
  readonly jobId: string;
  readonly engines: number;
  /** Where the job's output goes. */
  readonly logFile?: string;
  /** Shell commands with `{job_id}`: cancel the job; print its state while it is queued or running. */
  readonly cancel: string;
  readonly status?: string;
}

/** What an engine launcher started: processes here, jobs in a scheduler, or both. */
export interface EngineLaunch {
  processes: LaunchedProcess[];
  jobs: LaunchedJob[];
}

export interface ControllerLaunchOptions {
  profile: string;
  /** One of several clusters in the profile (`tspcontroller --cluster-id`); "" or absent: the profile's own. */
  clusterId?: string;
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
  /** Tagged on the engines (`launch` in their metadata), so the cluster knows which registrations are theirs. */
  launchId?: string;
}

export interface ControllerLauncher {
  start(options: ControllerLaunchOptions): Promise<ControllerLaunch>;
  /** The controller runs on another host: it binds all interfaces unless told an address. */
  readonly remote?: boolean;
}

export interface EngineLauncher {
  start(count: number, options: EngineLaunchOptions): Promise<LaunchedProcess[] | EngineLaunch>;
  /** Engines reach the controller over the network: it binds all interfaces unless told an address. */
  readonly remote?: boolean;
  /** Engines to start when the caller gives no count (the ssh launcher: the sum over its hosts). */
  defaultCount?(): number;
}
