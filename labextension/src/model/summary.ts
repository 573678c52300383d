import type { ClusterSnapshot, EngineStatus } from './comm-messages.js';

/** Engine states as the panel shows them: the protocol's, plus engines an action is bringing up. */
export type EngineDisplayState = EngineStatus['state'] | 'starting';

export interface ClusterSummary {
  registered: number;
  busy: number;
  dead: number;
  queued: number;
  running: number;
  done: number;
  failed: number;
  perSecond: number;
}

export function summarize(snapshot: ClusterSnapshot): ClusterSummary {
  const live = snapshot.engines.filter(e => e.state === 'idle' || e.state === 'busy');
  return {
    registered: live.length,
    busy: live.filter(e => e.state === 'busy').length,
    dead: snapshot.engines.filter(e => e.state === 'dead').length,
    queued: snapshot.tasks.queued + snapshot.tasks.unassigned,
    running: snapshot.tasks.running,
    // The controller counts every finished task as done; the panel shows the ones that succeeded.
    done: Math.max(0, snapshot.tasks.done - snapshot.tasks.failed),
    failed: snapshot.tasks.failed,
    perSecond: snapshot.tasks.perSecond
  };
}

/**
 * Ages are measured on the controller's clock (snapshot.time) and advanced by the time since the
 * snapshot arrived, so a browser whose clock differs from the cluster's still shows true ages.
 */
export function controllerNow(snapshot: ClusterSnapshot, receivedAt: number, now: number): number {
  return snapshot.time + Math.max(0, now - receivedAt);
}

export function heartbeatAge(engine: EngineStatus, controllerTime: number): number {
  return Math.max(0, controllerTime - engine.lastHeartbeat);
}

export function currentTaskAge(engine: EngineStatus, controllerTime: number): number | null {
  return engine.current ? Math.max(0, controllerTime - engine.current.started) : null;
}
