import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONNECTION_INFO_ENV, logDir } from "@tsparallel/protocol";
import type { EngineLaunch, EngineLaunchOptions, EngineLauncher, LaunchedJob } from "./launcher.js";
import { REMOTE_ENGINE_NODE_FLAGS, engineScript, runShell, shQuote } from "./launch-tools.js";

/**
 * Placeholders a batch template may use, as `{name}`. `${NAME}` (shell) is left alone, and so is any
 * brace that does not hold a lower-case name.
 */
export const BATCH_PLACEHOLDERS = ["n", "queue", "time", "account", "engine_command", "profile", "job_name", "log_file", "launch_id"] as const;
export type BatchValues = Partial<Record<(typeof BATCH_PLACEHOLDERS)[number], string>>;

export class BatchTemplateError extends Error {
  override name = "BatchTemplateError";
}

export function renderBatchTemplate(template: string, values: BatchValues): string {
  return template.replace(/(?<!\$)\{([a-z_]+)\}/g, (whole, name: string) => {
    if (!(BATCH_PLACEHOLDERS as readonly string[]).includes(name)) {
      throw new BatchTemplateError(`unknown placeholder {${name}} in the batch template; known: ${BATCH_PLACEHOLDERS.map((p) => `{${p}}`).join(" ")}`);
    }
    return values[name as keyof BatchValues] ?? "";
  });
}

export interface BatchEngineLauncherOptions {
  /** Name in the engines' metadata and in `tspcluster list` (default "batch"). */
  name?: string;
  /** The job script, with placeholders (see BATCH_PLACEHOLDERS). */
  template: string;
  /** Shell command that submits `{script}` and prints the job id (e.g. "qsub {script}", "bsub < {script}"). */
  submit: string;
  /** Shell command that cancels `{job_id}` (e.g. "qdel {job_id}", "bkill {job_id}"). */
  cancel: string;
  /** Shell command that prints something while `{job_id}` is queued or running and nothing after. */
  status?: string;
  queue?: string;
  time?: string;
  account?: string;
  /** Node and tspengine.js on the compute nodes (default: this node and this installation's script). */
  node?: string;
  engineScript?: string;
}

/** The job id in a submit command's output: "Submitted batch job 12", "12.pbs-server", "Job <12> is submitted...". */
export function parseJobId(output: string): string | undefined {
  return /(\d+(?:\.[A-Za-z][\w.-]*)?)/.exec(output)?.[1];
}

/**
 * Engines in one batch job rendered from a template (PBS, SGE, LSF, Slurm...). The connection info goes
 * in the submitting environment as TSPARALLEL_CONNECTION_INFO, which sbatch and bsub pass on by default
 * (qsub with `-V`), so no shared file system is needed for it.
 */
export class BatchEngineLauncher implements EngineLauncher {
  readonly remote = true;
  readonly #options: BatchEngineLauncherOptions;

  constructor(options: BatchEngineLauncherOptions) {
    this.#options = options;
    // A bad template is refused before anything starts.
    renderBatchTemplate(options.template, {});
  }

  get name(): string {
    return this.#options.name ?? "batch";
  }

  async start(count: number, options: EngineLaunchOptions): Promise<EngineLaunch> {
    const stamp = `${Date.now()}-${options.firstIndex}`;
    const dir = logDir(options.profile);
    const script = join(dir, `engines-${stamp}-${this.name}.sh`);
    const logFile = join(dir, `engines-${stamp}-${this.name}.log`);
    const tags = [`launcher=${this.name}`, ...(options.launchId ? [`launch=${options.launchId}`] : [])].flatMap((t) => ["--tag", t]);
    const engineCommand = shQuote(
      this.#options.node ?? process.execPath, ...REMOTE_ENGINE_NODE_FLAGS, this.#options.engineScript ?? engineScript(),
      "--connection-info", "env", ...tags, ...(options.args ?? []),
    );
    const text = renderBatchTemplate(this.#options.template, {
      n: String(count), queue: this.#options.queue, time: this.#options.time, account: this.#options.account,
      engine_command: engineCommand, profile: options.profile, job_name: `tspengines-${options.profile}`, log_file: logFile,
      launch_id: options.launchId,
    });
    writeFileSync(script, text, { mode: 0o700 });
    const line = this.#options.submit.includes("{script}")
      ? this.#options.submit.replaceAll("{script}", shQuote(script))
      : `${this.#options.submit} ${shQuote(script)}`;
    const env = { ...process.env, MALLOC_ARENA_MAX: "2", [CONNECTION_INFO_ENV]: readFileSync(options.engineFile, "utf8").trim() };
    const outcome = await runShell(line, { env, timeoutMs: 60_000 });
    const jobId = outcome.code === 0 ? parseJobId(outcome.stdout) : undefined;
    if (!jobId) {
      throw new Error(`submitting the engines' job failed (\`${line}\`, exit ${outcome.code}): ${(outcome.stderr || outcome.stdout).trim() || "no job id in its output"}`);
    }
    const job: LaunchedJob = { launcher: this.name, jobId, engines: count, logFile, cancel: this.#options.cancel, status: this.#options.status };
    return { processes: [], jobs: [job] };
  }
}

const fill = (command: string, job: LaunchedJob) => command.replaceAll("{job_id}", shQuote(job.jobId));

/** Whether the scheduler still holds the job (queued, running or completing); true when it cannot tell. */
export async function jobPresent(job: LaunchedJob): Promise<boolean> {
  if (!job.status) return true;
  const outcome = await runShell(fill(job.status, job), { timeoutMs: 30_000 });
  return outcome.code === 0 && outcome.stdout.trim() !== "";
}

/** Cancels batch jobs and waits (up to timeoutMs) until the scheduler no longer lists them. */
export async function cancelJobs(jobs: readonly LaunchedJob[], timeoutMs = 30_000): Promise<void> {
  await Promise.all(
    jobs.map(async (job) => {
      // A job whose engines all stopped has usually left the queue already: nothing to cancel.
      if (!(await jobPresent(job))) return;
      const outcome = await runShell(fill(job.cancel, job), { timeoutMs: 30_000 });
      if (outcome.code !== 0) process.emitWarning(`cancelling job ${job.jobId} failed: ${outcome.stderr.trim()}`);
      const deadline = Date.now() + timeoutMs;
      while ((await jobPresent(job)) && job.status && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    }),
  );
}
