import type { ProgressSource } from "tsparallel";

/** One call (one AsyncResult: a map, an apply, an execute...) as the dashboard draws its bar. */
export interface CallProgress {
  id: number;
  kind: string;
  label?: string;
  total: number;
  done: number;
  failed: number;
  /** Tasks an engine is running now (from the latest snapshot); the rest not done are queued. */
  running: number;
  /** Epoch ms the call was made. */
  submitted: number;
}

/** How many calls the dashboard is told about: the newest ones. */
const KEEP = 20;

/**
 * The calls made in this kernel, newest last, with their counts kept up to date as tasks finish.
 * It holds counts only, never the results themselves, so keeping calls costs no memory of their values.
 */
export class RecentCalls {
  readonly #calls: CallProgress[] = [];
  /** The task ids of calls not done yet, to tell which of them engines are running. Dropped when done. */
  readonly #pendingIds = new Map<CallProgress, Set<string>>();
  #nextId = 1;
  /** Bumped at every change, so the status comm sends only when something moved. */
  version = 0;

  add(result: ProgressSource): void {
    const first = result.metadata[0];
    const call: CallProgress = {
      id: this.#nextId++,
      kind: first?.kind ?? "apply",
      ...(first?.label ? { label: first.label } : {}),
      total: result.metadata.length,
      done: 0,
      failed: 0,
      running: 0,
      submitted: first?.submitted ?? Date.now(),
    };
    this.#calls.push(call);
    this.#pendingIds.set(call, new Set(result.metadata.map((m) => m.msgId)));
    if (this.#calls.length > KEEP) this.#pendingIds.delete(this.#calls.shift()!);
    this.version++;
    const unsubscribe = result.onProgress(() => {
      const info = result.progressInfo();
      call.done = info.done;
      call.failed = info.failed;
      this.version++;
      if (info.ready) {
        unsubscribe();
        this.#pendingIds.delete(call);
      }
    });
  }

  /** The calls, newest last; `runningIds`: the tasks the engines said they run now. */
  list(runningIds: ReadonlySet<string> = new Set()): CallProgress[] {
    return this.#calls.map((call) => {
      const ids = this.#pendingIds.get(call);
      let running = 0;
      if (ids) for (const id of runningIds) if (ids.has(id)) running++;
      // A snapshot may be a moment older than the results: never more running than not done.
      return { ...call, running: Math.min(running, call.total - call.done) };
    });
  }
}
