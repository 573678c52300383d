import { newMessageId } from "@tsparallel/protocol";
import { AsyncResult, type TaskOwner } from "../async-result.js";
import { TaskTable } from "../task-table.js";
import type { Client, TaskSpec } from "../client.js";
import { ImpossibleDependencyError, InvalidDependencyError, TaskAbortedError, TimeoutError } from "../errors.js";

type Job = AsyncResult<unknown> | string;

/**
 * Tasks another task waits for (ipyparallel's Dependency): met when all of them (or, with
 * `all: false`, any) ended as wanted: successfully (`success`, default) and/or failed (`failure`).
 */
export class Dependency {
  readonly msgIds: ReadonlySet<string>;
  readonly all: boolean;
  readonly success: boolean;
  readonly failure: boolean;
  /** @internal Results passed in, whose outcome is known here without asking the controller. */
  readonly _results: ReadonlyMap<string, [AsyncResult<unknown>, number]>;

  constructor(jobs: Job | Iterable<Job>, { all = true, success = true, failure = false }: { all?: boolean; success?: boolean; failure?: boolean } = {}) {
    if (!success && !failure) throw new RangeError("a dependency must wait for success, failure or both");
    const list = typeof jobs === "string" || jobs instanceof AsyncResult ? [jobs] : [...jobs];
    const ids = new Set<string>();
    const results = new Map<string, [AsyncResult<unknown>, number]>();
    for (const job of list) {
      if (typeof job === "string") ids.add(job);
      else job.msgIds.forEach((id, i) => (ids.add(id), results.set(id, [job, i])));
    }
    this.msgIds = ids;
    this._results = results;
    this.all = all;
    this.success = success;
    this.failure = failure;
  }

  /** Whether the dependency is met, given the tasks that succeeded and failed so far. */
  check(succeeded: ReadonlySet<string>, failed: ReadonlySet<string>): boolean {
    if (this.msgIds.size === 0) return true;
    const good = (id: string) => (this.success && succeeded.has(id)) || (this.failure && failed.has(id));
    return this.all ? [...this.msgIds].every(good) : [...this.msgIds].some(good);
  }

  /** Whether it can never be met, given the tasks that succeeded and failed so far. */
  unreachable(succeeded: ReadonlySet<string>, failed: ReadonlySet<string>): boolean {
    if (this.msgIds.size === 0) return false;
    const bad = (id: string) => (!this.success && succeeded.has(id)) || (!this.failure && failed.has(id));
    return this.all ? [...this.msgIds].some(bad) : [...this.msgIds].every(bad);
  }
}

export type DependencyLike = Dependency | Job | Iterable<Job>;

export function asDependency(value: DependencyLike): Dependency {
  return value instanceof Dependency ? value : new Dependency(value);
}

interface Outcomes {
  succeeded: Set<string>;
  failed: Set<string>;
  engines: Map<string, number>;
}

const POLL_MS = 100;

/** Where each task of the dependencies stands now: from the results passed in, else from the controller's records. */
async function outcomes(client: Client, deps: Dependency[]): Promise<Outcomes> {
  const found: Outcomes = { succeeded: new Set(), failed: new Set(), engines: new Map() };
  for (const dep of deps) {
    for (const id of dep.msgIds) {
      if (found.succeeded.has(id) || found.failed.has(id)) continue;
      const local = dep._results.get(id);
      let status: string | undefined;
      let engineId: number | null | undefined;
      if (local) {
        const [ar, index] = local;
        const known = ar._tasks.status(index);
        if (known === undefined && !ar._tasks.error(index)) continue;
        status = known ?? "error";
        engineId = ar._tasks.engineId(index);
      } else {
        const record = await client.getResult(id).catch((err: Error) => {
          throw /no record/.test(err.message) ? new InvalidDependencyError(`the dependency ${id} is not a task the controller knows`) : err;
        });
        if (record.pending) continue;
        status = record.status;
        engineId = record.engineId;
      }
      (status === "ok" ? found.succeeded : found.failed).add(id);
      if (engineId !== null && engineId !== undefined) found.engines.set(id, engineId);
    }
  }
  return found;
}

/** Engines a task following `follow` may run on: where all (or any) of the followed tasks ran. */
function followTargets(follow: Dependency, engines: Map<string, number>): Set<number> | undefined {
  if (follow.msgIds.size === 0) return undefined;
  const ran = [...follow.msgIds].map((id) => engines.get(id)).filter((e): e is number => e !== undefined);
  if (!follow.all) return new Set(ran);
  return new Set(ran.length === follow.msgIds.size && new Set(ran).size === 1 ? ran : []);
}

/**
 * Submits load-balanced tasks once their dependencies are met: `after` (when they may start) and
 * `follow` (and on which engine: where the followed tasks ran). The result exists at once; a dependency
 * that can never be met, names an unknown task, or is not met within `timeoutMs` fails the tasks
 * without running them. Held back here, in the client: the controller only ever sees runnable tasks.
 */
export function submitAfter<R extends AsyncResult<unknown>>(
  client: Client,
  specs: TaskSpec[],
  make: (tasks: TaskTable, owner: TaskOwner) => R,
  { after, follow, timeoutMs, targets, label }: { after?: DependencyLike; follow?: DependencyLike; timeoutMs?: number; targets?: number[]; label?: string },
): R {
  const afterDep = after === undefined ? new Dependency([]) : asDependency(after);
  const followDep = follow === undefined ? new Dependency([]) : asDependency(follow);
  const submitted = Date.now();
  const withIds = specs.map((spec) => ({ ...spec, msgIds: [newMessageId()] }));
  const tasks = TaskTable.of(withIds.map((spec) => ({ msgId: spec.msgIds[0]!, kind: spec.body.kind, engineId: null })), submitted, label);
  let sent = false;
  let cancelled = false;
  const fail = (error: Error) => {
    for (let i = 0; i < tasks.length; i++) {
      tasks.update(i, { error, status: error instanceof TaskAbortedError ? "aborted" : "error" });
      result._settle(i, undefined, error);
    }
  };
  const owner: TaskOwner = {
    // Not sent yet: nothing to ask the controller, the tasks end here and now.
    abort: async (msgIds) => {
      if (sent) return client.abort(msgIds);
      cancelled = true;
      fail(new TaskAbortedError(tasks.msgIds[0]!));
      return msgIds;
    },
  };
  const result = make(tasks, owner);
  const deadline = timeoutMs === undefined ? Infinity : submitted + timeoutMs;
  void (async () => {
    for (;;) {
      if (cancelled) return;
      const now = await outcomes(client, [afterDep, followDep]);
      if (afterDep.unreachable(now.succeeded, now.failed) || followDep.unreachable(now.succeeded, now.failed)) {
        return fail(new ImpossibleDependencyError(`the dependencies of ${tasks.length > 1 ? "these tasks" : "this task"} can no longer be met (${now.failed.size} failed, ${now.succeeded.size} succeeded)`));
      }
      if (afterDep.check(now.succeeded, now.failed) && followDep.check(now.succeeded, now.failed)) {
        let allowed = followTargets(followDep, now.engines);
        if (targets) allowed = new Set([...(allowed ?? targets)].filter((id) => targets.includes(id)));
        if (allowed && allowed.size === 0) return fail(new ImpossibleDependencyError("no engine ran all the followed tasks (and is allowed by the view)"));
        const left = deadline === Infinity ? undefined : Math.max(1, deadline - Date.now());
        const ready = withIds.map((spec) => ({ ...spec, lb: { ...spec.lb, ...(allowed ? { targets: [...allowed] } : {}), ...(left !== undefined ? { timeoutMs: left } : {}) } }));
        sent = true;
        client._submit(ready, () => result, label);
        return;
      }
      if (Date.now() >= deadline) return fail(new TimeoutError(`the dependencies were not met within ${timeoutMs} ms`));
      await waitForChange([afterDep, followDep], deadline);
    }
  })().catch((err: Error) => {
    if (!sent) fail(err);
  });
  return result;
}

/**
 * Until a result passed in gets a result, the overall deadline, or the next poll of the controller's
 * records (for tasks known only by id).
 */
async function waitForChange(deps: Dependency[], deadline: number): Promise<void> {
  const pending = [...new Set(deps.flatMap((d) => [...d._results.values()].map(([ar]) => ar)))].filter((ar) => !ar.ready());
  const foreign = deps.some((d) => [...d.msgIds].some((id) => !d._results.has(id)));
  const wake = foreign || pending.length === 0 ? Math.min(deadline, Date.now() + POLL_MS) : deadline;
  let timer: NodeJS.Timeout | undefined;
  const waits: Promise<unknown>[] = pending.map((ar) => ar._nextArrivalBefore(wake));
  if (wake !== Infinity) waits.push(new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, wake - Date.now())))));
  try {
    await Promise.race(waits);
  } finally {
    clearTimeout(timer);
  }
}
