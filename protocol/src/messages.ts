/**
 * Every message of the cluster, by msg_type. The envelope is Jupyter's (envelope.ts); these are the
 * `content` shapes. Values (arguments, results, pushed data) never appear here: they travel as
 * frames after the content, and each item that owns frames says how many (`bufferCount`).
 *
 * Sockets:
 *   client  DEALER  -> controller ROUTER "client"     requests, task submissions; replies, results, streams
 *   client  SUB     <- controller PUB    "events"     engine/task events and snapshots (topic = msg_type)
 *   engine  DEALER  -> controller ROUTER "engine"     registration, tasks, results, streams
 *   engine  DEALER  -> controller ROUTER "heartbeat"  heartbeats (from an engine thread); signals back
 */

export type EngineState = "idle" | "busy" | "dead" | "stopped";

/** How the load balancer picks an engine for a task. */
export type SchemeName = "leastload" | "lru" | "random" | "weighted";

/**
 * What an engine says about where and how it was started: `launcher` (local, ssh, mpi, slurm, batch),
 * `host` (the launcher's name for the host), `rank`/`size` (MPI or Slurm task), `launch` (one id per
 * launcher call), `job` (batch job id). Small, flat and bounded (the controller keeps at most 16 entries).
 */
export type EngineMetadata = Record<string, string | number>;

export interface EngineInfo {
  id: number;
  uuid: string;
  hostname: string;
  pid: number;
  state: EngineState;
  /** Epoch milliseconds. */
  registered: number;
  metadata?: EngineMetadata;
}

export interface RemoteErrorInfo {
  ename: string;
  evalue: string;
  /** The remote stack, one frame per line, as Jupyter's `traceback`. */
  traceback: string[];
  engineId?: number;
}

/** A function reference. `source` is sent only the first time the receiver meets `hash`. */
export interface FunctionRef {
  hash: string;
  name: string;
  source?: string;
}

/** What a task does on the engine. Frames: see each kind. */
export type TaskBody =
  /** TypeScript source run like a REPL cell. Result frames: the last expression's value, when it can travel. */
  | { kind: "execute"; code: string; silent?: boolean }
  /** Frames: the packed argument array. `refs` are [argument index, engine name] pairs resolved there. */
  | { kind: "apply"; fn: FunctionRef; refs?: [number, string][] }
  /** Frames: the packed item array; the result is the array of fn(item). */
  | { kind: "map"; fn: FunctionRef }
  /** Frames: a packed object whose entries become names in the engine namespace. */
  | { kind: "push" }
  /** Result: the value of one name, or an array of values for several. */
  | { kind: "pull"; names: string | string[] }
  /** Empties the engine namespace of user names. */
  | { kind: "clear" };

export type TaskKind = TaskBody["kind"];

/** A task as a client submits it. */
export interface TaskRequest {
  /** One id per target engine; exactly one for a load-balanced task. */
  msgIds: string[];
  /** Direct targets, or null for the load-balanced scheduler. */
  targets: number[] | null;
  /** Load-balancing options (targets: engines it may run on; scheme: overrides the controller's). */
  lb?: { targets?: number[]; retries?: number; timeoutMs?: number; scheme?: SchemeName };
  body: TaskBody;
  bufferCount: number;
}

/** A task as the controller hands it to one engine. */
export interface EngineTask {
  msgId: string;
  body: TaskBody;
  bufferCount: number;
}

export type TaskStatus = "ok" | "error" | "aborted";

export interface TaskResult {
  msgId: string;
  engineId: number;
  status: TaskStatus;
  /** Epoch milliseconds (fractional) on the engine's clock. */
  started: number;
  completed: number;
  error?: RemoteErrorInfo;
  /** Output not already streamed. */
  stdout?: string;
  stderr?: string;
  /** execute: the engine's cell counter and a display form of the value (present even if it cannot travel). */
  executionCount?: number;
  repr?: string;
  /** Frames of the packed result value; 0 when there is no value. */
  bufferCount: number;
}

export interface StreamItem {
  msgId: string;
  engineId: number;
  name: "stdout" | "stderr";
  text: string;
}

export interface EngineStatus {
  id: number;
  hostname: string;
  pid: number;
  state: EngineState;
  /** The task running now and when it started (epoch ms), if any. */
  current?: { msgId: string; kind: TaskKind; started: number };
  queue: number;
  completed: number;
  failed: number;
  cpu: number;
  rss: number;
  /** Epoch ms of the last heartbeat. */
  lastHeartbeat: number;
  metadata?: EngineMetadata;
}

export interface TaskStreamItem {
  msgId: string;
  engineId: number;
  kind: TaskKind;
  status: TaskStatus;
  started: number;
  completed: number;
}

export interface ClusterSnapshot {
  profile: string;
  controller: { url: string; pid: number; hostname: string; started: string; scheme: string; hwm: number };
  engines: EngineStatus[];
  tasks: { unassigned: number; queued: number; running: number; done: number; failed: number; perSecond: number };
  time: number;
}

export interface QueueStatus {
  queue: number;
  completed: number;
  failed: number;
  tasks?: string[];
}

export interface TaskRecordInfo {
  msgId: string;
  engineId: number | null;
  kind: TaskKind;
  pending: boolean;
  status?: TaskStatus;
  submitted: number;
  started?: number;
  completed?: number;
  error?: RemoteErrorInfo;
  stdout?: string;
  stderr?: string;
  repr?: string;
  executionCount?: number;
  /** Result frames kept for this record, in order after the content. */
  bufferCount: number;
}

/** Content of each message type, by msg_type. */
export interface MessageContents {
  // engine <-> controller ("engine" socket)
  registration_request: { uuid: string; hostname: string; pid: number; version: string; metadata?: EngineMetadata };
  registration_reply:
    | { status: "ok"; id: number; heartbeatMs: number; heartbeatTimeoutMs: number }
    | { status: "error"; message: string };
  unregistration_request: { reason?: string };
  task_request: { tasks: EngineTask[] };
  task_reply: { results: TaskResult[] };
  stream: { items: StreamItem[] };
  abort_request: { msgIds?: string[]; targets?: number[] };
  abort_reply: { aborted: string[] };
  shutdown_request: { targets?: number[] | null; hub?: boolean };
  shutdown_reply: { engines: number[] };

  // engine thread <-> controller ("heartbeat" socket)
  heartbeat: { uuid: string; id: number; cpu: number; rss: number; heapUsed: number; time: number };
  signal_request: { signal: "SIGINT" | "SIGTERM" | "SIGKILL" };

  // client <-> controller ("client" socket)
  connect_request: Record<string, never>;
  connect_reply: { engines: EngineInfo[]; snapshot: ClusterSnapshot };
  submit_request: { tasks: TaskRequest[] };
  queue_status_request: { targets?: number[]; verbose?: boolean };
  queue_status_reply: { engines: Record<string, QueueStatus>; unassigned: number };
  result_request: { msgIds: string[] };
  result_reply: { records: TaskRecordInfo[] };
  history_request: Record<string, never>;
  history_reply: { msgIds: string[] };
  interrupt_request: { targets: number[] };
  interrupt_reply: { engines: number[] };
  engine_stop_request: { targets: number[] };
  engine_stop_reply: { engines: number[] };
  status_request: Record<string, never>;
  status_reply: ClusterSnapshot;
  error_reply: { ename: string; evalue: string };

  // controller -> clients ("events" socket; the topic frame is the msg_type)
  engine_registered: { engine: EngineInfo };
  engine_dead: { id: number; reason: string };
  engine_unregistered: { id: number };
  cluster_snapshot: ClusterSnapshot;
  task_stream: { tasks: TaskStreamItem[] };
  controller_heartbeat: { time: number; pid: number };
  controller_shutdown: { reason: string };
}

export type MessageType = keyof MessageContents;
