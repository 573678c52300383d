/**
 * What the panel and the notebook's kernel say to each other over the Jupyter comm `tsparallel.status`.
 * The kernel side lives in kernel/src/comms/. Cluster types come from the wire protocol (types only: the
 * browser bundle must not pull in zeromq).
 */
import type { ClusterSnapshot, TaskStreamItem } from '@tsparallel/protocol/messages';

export type { ClusterSnapshot, EngineStatus, TaskStreamItem } from '@tsparallel/protocol/messages';

export const STATUS_COMM_TARGET = 'tsparallel.status';

export type ActionName =
  | 'start'
  | 'connect'
  | 'reconnect'
  | 'add_engines'
  | 'stop_engine'
  | 'interrupt_engine'
  | 'restart_engine'
  | 'stop_cluster';

/** A running cluster the panel offers for Connect: a profile and which of its clusters ("" for its own). */
export interface RunningCluster {
  profile: string;
  clusterId: string;
}

/**
 * kernel -> panel: the whole picture; `snapshot` is null while the kernel has no cluster. `running`
 * (the running clusters, offered for Connect) comes with the first and with changes.
 */
export interface SnapshotMessage {
  type: 'snapshot';
  snapshot: ClusterSnapshot | null;
  profile: string;
  running?: RunningCluster[];
}

/** kernel -> panel: the active client's controller shut down or went silent; nothing it showed is live. */
export interface ControllerLostMessage {
  type: 'controller_lost';
  profile: string;
  reason: string;
  running: RunningCluster[];
}

/** kernel -> panel: tasks finished since the last such message. */
export interface TaskStreamMessage {
  type: 'task_stream';
  tasks: TaskStreamItem[];
}

/** kernel -> panel: the outcome of one ActionMessage, matched by id. */
export interface ActionResultMessage {
  type: 'action_result';
  id: string;
  ok: boolean;
  message: string;
}

/** One call made in the kernel (a map, an apply...): how many of its tasks are done and failed. */
export interface CallProgress {
  id: number;
  kind: string;
  label?: string;
  total: number;
  done: number;
  failed: number;
  /** Tasks an engine runs now; the others not done are queued. */
  running?: number;
  submitted: number;
}

/** kernel -> panel: the kernel's recent calls (the newest last), whenever one of them moved. */
export interface CallsMessage {
  type: 'calls';
  calls: CallProgress[];
}

/**
 * kernel -> panel: an engine's recent log lines, answering the EngineLogRequest with the same id. `source`
 * is the file they were read from ("" when none could be); `note` says whose lines they are (a log shared
 * by all ranks of an mpiexec, say) or why there are none.
 */
export interface EngineLogMessage {
  type: 'engine_log';
  id: string;
  engineId: number;
  source: string;
  lines: string[];
  note: string;
}

export type KernelMessage = SnapshotMessage | ControllerLostMessage | TaskStreamMessage | ActionResultMessage | CallsMessage | EngineLogMessage;

/** panel -> kernel */
export interface ActionMessage {
  type: 'action';
  id: string;
  action: ActionName;
  n?: number;
  engineId?: number;
  /** For `connect`: the profile whose running cluster to connect to. */
  profile?: string;
  /** For `connect`: which of the profile's clusters ("" or absent: its own). */
  clusterId?: string;
}

export type ActionRequest = Omit<ActionMessage, 'type' | 'id'>;

/** panel -> kernel: the last `lines` lines of an engine's log. */
export interface EngineLogRequest {
  type: 'engine_log';
  id: string;
  engineId: number;
  lines?: number;
}

export type PanelMessage = ActionMessage | EngineLogRequest;

/** The most lines of a log the panel keeps (the kernel sends at most as many). */
export const MAX_LOG_LINES = 200;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * Checks the shape of what arrives from the kernel; anything else is dropped (and logged by the caller),
 * never half-applied to the panel.
 */
export function parseKernelMessage(data: unknown): KernelMessage | null {
  if (!isObject(data)) return null;
  switch (data.type) {
    case 'snapshot': {
      const snapshot = data.snapshot;
      if (snapshot !== null && !(isObject(snapshot) && Array.isArray(snapshot.engines) && isObject(snapshot.tasks))) return null;
      const running = runningList(data.running);
      return { type: 'snapshot', snapshot: snapshot as ClusterSnapshot | null, profile: String(data.profile ?? ''), ...(running ? { running } : {}) };
    }
    case 'controller_lost':
      return { type: 'controller_lost', profile: String(data.profile ?? ''), reason: String(data.reason ?? ''), running: runningList(data.running) ?? [] };
    case 'task_stream':
      return Array.isArray(data.tasks) ? { type: 'task_stream', tasks: data.tasks.filter(isTaskStreamItem) } : null;
    case 'calls':
      return Array.isArray(data.calls) ? { type: 'calls', calls: data.calls.filter(isCallProgress).slice(-50) } : null;
    case 'engine_log':
      return typeof data.id === 'string' && typeof data.engineId === 'number' && Array.isArray(data.lines)
        ? {
            type: 'engine_log',
            id: data.id,
            engineId: data.engineId,
            source: String(data.source ?? ''),
            lines: data.lines.slice(-MAX_LOG_LINES).map(line => String(line).slice(0, 1000)),
            note: String(data.note ?? '')
          }
        : null;
    case 'action_result':
      return typeof data.id === 'string' && typeof data.ok === 'boolean'
        ? { type: 'action_result', id: data.id, ok: data.ok, message: String(data.message ?? '') }
        : null;
    default:
      return null;
  }
}

function runningList(value: unknown): RunningCluster[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value
    .filter((c): c is RunningCluster => isObject(c) && typeof c.profile === 'string' && typeof c.clusterId === 'string')
    .map(({ profile, clusterId }) => ({ profile, clusterId }))
    .slice(0, 50);
}

function isCallProgress(call: unknown): call is CallProgress {
  return (
    isObject(call) &&
    typeof call.id === 'number' &&
    typeof call.kind === 'string' &&
    typeof call.total === 'number' &&
    typeof call.done === 'number' &&
    typeof call.failed === 'number' &&
    (call.running === undefined || typeof call.running === 'number') &&
    typeof call.submitted === 'number'
  );
}

function isTaskStreamItem(item: unknown): item is TaskStreamItem {
  return (
    isObject(item) &&
    typeof item.msgId === 'string' &&
    typeof item.engineId === 'number' &&
    typeof item.started === 'number' &&
    typeof item.completed === 'number'
  );
}
