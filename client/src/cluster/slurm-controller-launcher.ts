import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { logDir, readConnectionFile } from "@tsparallel/protocol";
import { cancelJobs, jobPresent, parseJobId } from "./batch-launcher.js";
import type { ControllerLaunch, ControllerLaunchOptions, ControllerLauncher, LaunchedJob } from "./launcher.js";
import { CONTROLLER_NODE_FLAGS, controllerArgs, controllerScript, logTail, parseReadyLine, runCommand, shQuote, type ControllerReadyLine } from "./launch-tools.js";

export interface SlurmControllerLauncherOptions {
  partition?: string;
  /** Wall time in any form sbatch takes ("30", "1:00:00", "1-0"). */
  time?: string;
  account?: string;
  /** More sbatch options (e.g. ["--mem=2G"]). */
  slurmArgs?: string[];
  /** Node and tspcontroller.js on the compute node (default: this node and this installation's script). */
  node?: string;
  controllerScript?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Controller jobs of clusters that do not outlive this process (not daemonized): cancelled when it exits. */
const attachedJobs = new Set<LaunchedJob>();
process.once("exit", () => {
  // Synchronous: the loop has ended. What scancel says about a job that already finished is ignored;
  // then up to 3 s until squeue no longer lists it, so that it is gone once this process is.
  for (const job of attachedJobs) {
    spawnSync("scancel", [job.jobId], { stdio: "ignore", timeout: 5000 });
    const wait = `i=0; while [ $i -lt 30 ] && [ -n "$(squeue --noheader --jobs=${shQuote(job.jobId)} 2>/dev/null)" ]; do sleep 0.1; i=$((i+1)); done`;
    spawnSync("/bin/sh", ["-c", wait], { stdio: "ignore", timeout: 5000 });
  }
});

/**
 * The controller in its own Slurm job (`sbatch`, one task, the job script `exec`s tspcontroller on the
 * node Slurm picks). Its connection info comes back through the files it writes in the profile's
 * security directory, which the login and compute nodes share (Slurm sites share home and scratch; the
 * job inherits TSPARALLEL_DIR through sbatch's default --export=ALL), and its ready line through the
 * job's output file in the profile's log directory. That beats reading srun's output: an `srun` would
 * have to stay running here for the cluster's whole life (the controller would die with the login
 * session), while a batch job outlives the submitting process as `--daemonize` requires and is what
 * `stop` cancels. The controller binds all interfaces and gives its node's host name as its location
 * (unless told otherwise). A supervisor cannot restart it (it is not a child of ours); Slurm's own
 * `--requeue` is the tool for that.
 */
export class SlurmControllerLauncher implements ControllerLauncher {
  readonly remote = true;
  readonly #options: SlurmControllerLauncherOptions;

  constructor(options: SlurmControllerLauncherOptions = {}) {
    this.#options = options;
  }

  async start(options: ControllerLaunchOptions): Promise<ControllerLaunch> {
    const stamp = Date.now();
    const dir = logDir(options.profile);
    const script = join(dir, `controller-${stamp}-slurm.sh`);
    const logFile = join(dir, `controller-${stamp}-slurm.log`);
    const command = shQuote(
      "env", "MALLOC_ARENA_MAX=2", this.#options.node ?? process.execPath, ...CONTROLLER_NODE_FLAGS, this.#options.controllerScript ?? controllerScript(),
      ...controllerArgs({ ...options, ip: options.ip ?? "0.0.0.0" }),
    );
    writeFileSync(script, `#!/bin/sh\nexec ${command}\n`, { mode: 0o700 });
    const sbatch = [
      "--parsable", `--job-name=tspcontroller-${options.profile}`, "--ntasks=1", `--output=${logFile}`,
      ...(this.#options.partition ? [`--partition=${this.#options.partition}`] : []),
      ...(this.#options.time ? [`--time=${this.#options.time}`] : []),
      ...(this.#options.account ? [`--account=${this.#options.account}`] : []),
      ...(this.#options.slurmArgs ?? []),
      script,
    ];
    const outcome = await runCommand("sbatch", sbatch, { timeoutMs: 60_000 });
    const jobId = outcome.code === 0 ? parseJobId(outcome.stdout) : undefined;
    if (!jobId) {
      throw new Error(`submitting the controller's job failed (\`sbatch ${shQuote(...sbatch)}\`, exit ${outcome.code}): ${(outcome.stderr || outcome.stdout).trim() || "no job id in its output"}`);
    }
    const job: LaunchedJob = {
      launcher: "slurm", jobId, engines: 0, logFile, cancel: "scancel {job_id}", status: "squeue --noheader --format=%T --jobs={job_id}",
    };
    if (!options.detached) attachedJobs.add(job);
    try {
      const ready = await this.#waitReady(job, options.timeoutMs);
      const client = readConnectionFile(ready.clientFile, "client");
      readConnectionFile(ready.engineFile, "engine");
      if (client.controller?.pid !== ready.pid) {
        throw new Error(`${ready.clientFile} belongs to controller pid ${client.controller?.pid}, not to the one job ${jobId} started (pid ${ready.pid})`);
      }
      return {
        process: { pid: ready.pid, host: client.controller.hostname, logFile, launcher: "slurm", job },
        clientFile: ready.clientFile,
        engineFile: ready.engineFile,
      };
    } catch (err) {
      await cancelJobs([job]);
      attachedJobs.delete(job);
      throw err;
    }
  }

  /** Polls the job's output for the controller's ready line, and the queue for the job ending first. */
  async #waitReady(job: LaunchedJob, timeoutMs: number): Promise<ControllerReadyLine> {
    const deadline = Date.now() + timeoutMs;
    let nextJobCheck = 0;
    const failure = (why: string) => new Error(`the controller did not start in slurm job ${job.jobId}: ${why}\n--- ${job.logFile} ---\n${logTail(job.logFile)}`);
    for (;;) {
      const ready = readyLineIn(job.logFile!);
      if (ready) return ready;
      if (Date.now() >= nextJobCheck) {
        nextJobCheck = Date.now() + 1000;
        if (!(await jobPresent(job))) {
          // It may have printed the line just before it ended (then it is gone anyway: a failure).
          throw failure("the job ended");
        }
      }
      if (Date.now() > deadline) throw failure(`not ready after ${timeoutMs} ms (still queued? see squeue)`);
      await sleep(200);
    }
  }
}

function readyLineIn(file: string): ControllerReadyLine | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return null;
  }
  for (const line of text.split("\n")) {
    const ready = parseReadyLine(line);
    if (ready) return ready;
  }
  return null;
}

/** Forgets a job this process no longer needs to cancel at exit (its cluster was stopped). */
export function releaseAttachedJob(jobId: string): void {
  for (const job of attachedJobs) if (job.jobId === jobId) attachedJobs.delete(job);
}
