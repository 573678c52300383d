/** How far a result got: what a progress display shows, read from AsyncResult#progressInfo(). */
export interface ProgressInfo {
  done: number;
  /** Finished tasks that failed (included in `done`). */
  failed: number;
  total: number;
  /** Milliseconds since the first task was submitted (until the last result, once ready). */
  elapsedMs: number;
  /** Tasks finished per second so far. */
  rate: number;
  /** Estimated milliseconds until every task is done; undefined before the first result and once ready. */
  etaMs: number | undefined;
  ready: boolean;
}

import type { TaskMetadata } from "./async-result.js";

/** The slice of an AsyncResult a progress display needs. */
export interface ProgressSource {
  readonly metadata: readonly TaskMetadata[];
  ready(): boolean;
  progressInfo(): ProgressInfo;
  onProgress(listener: () => void): () => void;
  wait(timeoutMs?: number): Promise<boolean>;
}

/** What a host (the notebook kernel) lends AsyncResult to show progress where the user looks. */
export interface ProgressHooks {
  /** Called for each call made (each AsyncResult), as it is made: the dashboard's progress per call. */
  created?(result: ProgressSource): void;
  /** Called once when a result that is not ready yet is awaited (`await ar`). */
  awaited?(result: ProgressSource): void;
  /** Shows the progress of a result at once, until it is ready (`ar.display()`). */
  display?(result: ProgressSource): Promise<void>;
}

// A global symbol, not a module variable: a notebook may load its own copy of this package.
const SLOT = Symbol.for("tsparallel.progressHooks");

export function setProgressHooks(hooks: ProgressHooks | undefined): void {
  (globalThis as Record<symbol, unknown>)[SLOT] = hooks;
}

export function progressHooks(): ProgressHooks | undefined {
  return (globalThis as Record<symbol, unknown>)[SLOT] as ProgressHooks | undefined;
}

function seconds(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** One line of text: "12/40 tasks done (1 failed), 3.2 tasks/s, ETA 8.8 s" while running, "... in 12.5 s" once ready. */
export function progressLine(info: ProgressInfo): string {
  const failed = info.failed > 0 ? ` (${info.failed} failed)` : "";
  const rate = `${info.rate.toFixed(1)} tasks/s`;
  if (info.ready) return `${info.done}/${info.total} tasks done${failed} in ${seconds(info.elapsedMs)}, ${rate}`;
  const eta = info.etaMs === undefined ? "" : `, ETA ${seconds(info.etaMs)}`;
  return `${info.done}/${info.total} tasks finished${failed}, ${rate}${eta}`;
}
