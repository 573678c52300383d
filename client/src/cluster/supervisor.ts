import type { LaunchedProcess } from "./launcher.js";
import { childOf } from "./local-launcher.js";
import { RestartBudget, type RestartPolicy } from "./restart-policy.js";
import type { SupervisorLog } from "./supervisor-log.js";

export type MemberRole = "controller" | "engine";

/** What a supervisor needs from the cluster it keeps running. */
export interface SupervisedCluster {
  /** True once anyone began stopping the cluster (here, or another process through cluster.json). */
  isStopping(): boolean;
  /** Starts the controller again with its original arguments plus --restore; resolves once it is ready. */
  relaunchController(): Promise<LaunchedProcess>;
  /** Starts an engine again in the place of `old`, with the original arguments. */
  relaunchEngine(old: LaunchedProcess): Promise<LaunchedProcess>;
  /** `old` is gone for good (stopped on purpose, or given up on). */
  forgetEngine(old: LaunchedProcess): void;
  /** Counts a restart in cluster.json. */
  countRestart(): void;
}

function describe(role: MemberRole, member: LaunchedProcess): string {
  return `${role} pid ${member.pid}`;
}

/**
 * Restarts crashed members of a cluster started in this process, as ipcluster and Dask's nanny do: a
 * member that exits with code 0 was stopped on purpose and stays stopped; one that exits otherwise (or
 * is killed by a signal) is started again after a backoff, within its RestartBudget. Engines are
 * restarted only once the controller is up. Every decision goes to the log.
 */
export class Supervisor {
  readonly #cluster: SupervisedCluster;
  readonly #policy: RestartPolicy;
  readonly #log: SupervisorLog;
  readonly #budgets = new Map<LaunchedProcess, RestartBudget>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Restarts run one after another, so an engine queued behind a controller restart meets the new controller. */
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;
  #settleEnded!: (reason: string) => void;
  /** Settles when there is nothing left to supervise (the controller ended or was given up on, or stop()). */
  readonly ended: Promise<string>;

  constructor(cluster: SupervisedCluster, policy: RestartPolicy, log: SupervisorLog) {
    this.#cluster = cluster;
    this.#policy = policy;
    this.#log = log;
    this.ended = new Promise((resolve) => (this.#settleEnded = resolve));
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Settles once no restart is under way (after stop(), nothing new starts). */
  async settled(): Promise<void> {
    await this.#chain;
  }

  /** Watches a member started by a local launcher in this process (others cannot be watched here). */
  watch(member: LaunchedProcess, role: MemberRole): void {
    const child = childOf(member);
    if (!child) {
      this.#log.write(`${describe(role, member)} was not started by this process: not supervised`);
      return;
    }
    if (child.exitCode !== null || child.signalCode !== null) this.#exited(member, role, child.exitCode, child.signalCode);
    else child.once("exit", (code, signal) => this.#exited(member, role, code, signal));
  }

  /** Stops restarting anything (pending restarts are dropped). */
  stop(reason = "stopped"): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#log.write(`supervision ends: ${reason}`);
    this.#settleEnded(reason);
  }

  #exited(member: LaunchedProcess, role: MemberRole, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#stopped) return;
    if (this.#cluster.isStopping()) return this.stop("the cluster is being stopped");
    const what = describe(role, member);
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    if (code === 0) {
      if (role === "controller") return this.stop(`the ${what} exited with code 0 (the cluster was shut down)`);
      this.#log.write(`${what} exited with code 0 (stopped on purpose): not restarted`);
      this.#cluster.forgetEngine(member);
      return;
    }
    const budget = this.#budgets.get(member) ?? new RestartBudget(this.#policy);
    this.#budgets.delete(member);
    const delay = budget.take();
    if (delay === undefined) {
      const gaveUp = `${what} ${how}: giving up on it after ${this.#policy.maxRestarts} restarts within ${this.#policy.windowMs / 1000} s`;
      if (role === "controller") return this.stop(gaveUp);
      this.#log.write(gaveUp);
      this.#cluster.forgetEngine(member);
      return;
    }
    this.#log.write(`${what} ${how}: restarting it in ${delay} ms (restart ${budget.recent} of at most ${this.#policy.maxRestarts} within ${this.#policy.windowMs / 1000} s)`);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#chain = this.#chain
        .then(() => this.#restart(member, role, budget))
        .catch((err: Error) => this.#log.write(`restarting the ${what} failed: ${err.message}`));
    }, delay);
    this.#timers.add(timer);
  }

  async #restart(old: LaunchedProcess, role: MemberRole, budget: RestartBudget): Promise<void> {
    if (this.#stopped) return;
    if (this.#cluster.isStopping()) return this.stop("the cluster is being stopped");
    const started = Date.now();
    let next: LaunchedProcess;
    try {
      next = role === "controller" ? await this.#cluster.relaunchController() : await this.#cluster.relaunchEngine(old);
    } catch (err) {
      this.#log.write(`restarting the ${describe(role, old)} failed: ${(err as Error).message.split("\n")[0]}`);
      // A failed start is one more crash of the same member, under the same budget.
      this.#budgets.set(old, budget);
      this.#exited(old, role, 1, null);
      return;
    }
    if (this.#stopped) return;
    this.#budgets.set(next, budget);
    this.#cluster.countRestart();
    this.#log.write(`restarted the ${role}: pid ${next.pid} replaces pid ${old.pid} (started in ${Date.now() - started} ms)`);
    this.watch(next, role);
  }
}
