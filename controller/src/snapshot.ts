import type { ClusterSnapshot, EngineStatus } from "@tsparallel/protocol";
import type { EngineRecord } from "./engine-record.js";
import type { ConnectionCaps } from "./connection-caps.js";
import type { ConnectionWatch } from "./connection-watch.js";
import { functionCounters, type FunctionCache } from "./function-cache.js";
import type { EngineRegistry } from "./engines-registry.js";
import type { LoadBalancer } from "./load-balancer.js";
import type { TaskRecords } from "./records/task-records.js";
import type { TaskStore } from "./store/task-store.js";
import type { Throughput } from "./throughput.js";

export interface SnapshotSources {
  profile: string;
  controller: ClusterSnapshot["controller"];
  registry: EngineRegistry;
  records: TaskRecords;
  balancer: LoadBalancer;
  throughput: Throughput;
  store: TaskStore;
  functions: FunctionCache;
  connections: ConnectionWatch;
  caps: ConnectionCaps;
}

export function engineStatus(engine: EngineRecord): EngineStatus {
  const status: EngineStatus = {
    id: engine.id,
    hostname: engine.hostname,
    pid: engine.pid,
    state: engine.state,
    queue: engine.outstanding,
    completed: engine.completed,
    failed: engine.failed,
    cpu: engine.cpu,
    rss: engine.rss,
    lastHeartbeat: engine.lastHeartbeat,
  };
  if (engine.metadata) status.metadata = engine.metadata;
  const current = engine.current();
  if (current) status.current = { msgId: current.record.msgId, kind: current.record.kind, started: current.since };
  return status;
}

/**
 * The whole cluster at a glance. Task counts: `done` is every finished task and `failed` the ones
 * among them that did not end "ok"; `queued` is held by engines but not at the head of a queue.
 */
export function buildSnapshot(s: SnapshotSources): ClusterSnapshot {
  const engines = [...s.registry.all()].map(engineStatus);
  let held = 0;
  let running = 0;
  for (const engine of engines) {
    held += engine.queue;
    if (engine.current) running++;
  }
  const { done, failed } = s.records.counts;
  return {
    profile: s.profile,
    controller: s.controller,
    engines,
    tasks: { unassigned: s.balancer.waiting, queued: held - running, running, done, failed, perSecond: Math.round(s.throughput.perSecond() * 10) / 10 },
    store: s.store.stats(),
    functions: { count: s.functions.size, bytes: s.functions.bytes, capacity: s.functions.capacity, refused: functionCounters.hashMismatches },
    connections: Object.fromEntries(Object.entries(s.connections.ports).map(([name, port]) => [name, { ...port, ...s.caps.figures(name) }])),
    time: Date.now(),
  };
}
