import type { ClusterSnapshot, Logger, MessageSender, RateLimitedWarnings } from "@tsparallel/protocol";
import type { RegistrationBudget } from "./registration-budget.js";
import type { ClientLiveness } from "./client-liveness.js";
import type { EngineControl } from "./engine-control.js";
import type { EngineRecord } from "./engine-record.js";
import type { EngineRegistry } from "./engines-registry.js";
import type { EventPublisher } from "./events.js";
import type { HeartbeatTimings } from "./heartbeat-monitor.js";
import type { TaskRecords } from "./records/task-records.js";
import type { TaskStore } from "./store/task-store.js";
import type { TaskRouter } from "./task-router.js";

/** What the message handlers of each socket work with. */
export interface ControllerContext {
  readonly registry: EngineRegistry;
  readonly records: TaskRecords;
  /** Where records live beyond the live ones (SQLite or memory); results, history and db queries read it. */
  readonly store: TaskStore;
  readonly router: TaskRouter;
  readonly events: EventPublisher;
  readonly control: EngineControl;
  readonly engineSender: MessageSender;
  readonly clientSender: MessageSender;
  readonly timings: HeartbeatTimings;
  /** Which clients are alive (their tasks are orphaned when they are gone). */
  readonly clients: ClientLiveness;
  readonly log: Logger;
  /** Warnings that a flood would repeat: one line per key per interval. */
  readonly warnings: RateLimitedWarnings;
  /** New engines per second (fake registrations by the thousand are refused for now). */
  readonly registrations: RegistrationBudget;
  snapshot(): ClusterSnapshot;
  /**
   * Resolves once the engines that may hold unreported direct tasks among `msgIds` (when absent: any,
   * on `targets` when given) have reported them, or after a bounded wait (see DirectBarrier).
   */
  directReported(msgIds?: readonly string[], targets?: readonly number[] | null): Promise<void>;
  /** An engine's direct_report that answers a report_request (its token) has been handled. */
  directReportAnswered(engineId: number, token: unknown): void;
  /** An engine left: unregistered ("stopped") or silent too long ("dead"). */
  engineLost(engine: EngineRecord, lifecycle: "dead" | "stopped", reason: string): void;
  /** Stops the targets (all engines for null) and then the controller; `reply` runs just before exit. */
  shutdownHub(reason: string, targets: number[] | null, reply?: (engines: number[]) => void): Promise<void>;
}
