/**
 * Every message of the cluster, by msg_type. The envelope is Jupyter's (envelope.ts); these are the
 * `content` shapes. Values (arguments, results, pushed data) never appear here: they travel as
 * frames after the content, and each item that owns frames says how many (`bufferCount`).
 *
 * Sockets:
 *   client  DEALER  -> controller ROUTER "client"     requests, task submissions; replies, results, streams
 *   client  DEALER  -> controller ROUTER "events"     signed events_subscribe (renewed); engine/task events and snapshots back
 *   engine  DEALER  -> controller ROUTER "engine"     registration, tasks, results, streams
 *   engine  DEALER  -> controller ROUTER "heartbeat"  heartbeats (from an engine thread); signals back
 *   client  DEALER  -> engine ROUTER "direct"         a DirectView's tasks straight to one engine; results, streams back
 *                                                     (the engine reports them to the controller: direct_report)
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

export interface EngineProcess {
  pidSpace: string;
  startTime: number;
}

/**
 * Where a client reaches an engine without the controller: the engine's direct ROUTER, bound on the
 * interface it reaches the controller by, on a random port. `curveKey`: the engine's own CURVE public
 * key (Z85), made at start, when the cluster uses CURVE. `stream`: the same engine's plain TCP listener
 * (`tcp://ip:port`, stream-frames.ts framing, the same signed messages), offered only without CURVE: a
 * round trip over it wakes one thread per hop instead of three (no ZeroMQ I/O threads).
 */
export interface DirectAddress {
  url: string;
  curveKey?: string;
  stream?: string;
}

export interface EngineInfo {
  id: number;
  uuid: string;
  hostname: string;
  pid: number;
  state: EngineState;
  /** Epoch milliseconds. */
  registered: number;
  metadata?: EngineMetadata;
  /** The engine's direct socket, when it has one (see DirectAddress). */
  direct?: DirectAddress;
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

/**
 * What an apply or map task needs in the engine namespace before its function runs (ipyparallel's
 * `@require`), set up by the engine that runs it; a module it cannot import fails the task with
 * `UnmetDependency` (with `retryOnError`, a load-balanced task then tries another engine).
 */
export interface TaskRequirements {
  /** [name, module specifier, bind the default export]: imported as `dv.import` does, bound to name. */
  modules?: [string, string, boolean][];
  /** [name, function source]: defined in the engine namespace, as pushed functions are. */
  functions?: [string, string][];
}

/** What a task does on the engine. Frames: see each kind. */
export type TaskBody =
  /** TypeScript source run like a REPL cell. Result frames: the last expression's value, when it can travel. */
  | { kind: "execute"; code: string; silent?: boolean }
  /**
   * Frames: the packed argument array. `refs` are [argument index, engine name] pairs resolved there,
   * with a path of keys when the reference sits inside an array or object argument.
   */
  | {
    kind: "apply"; fn: FunctionRef; refs?: ([number, string] | [number, string, (string | number)[]])[];
    require?: TaskRequirements;
    /**
     * From a client: arguments that are the results of other tasks (an AsyncResult passed as an
     * argument), as [argument index, msgId] or [argument index, msgId, path]. The controller holds the
     * task until those tasks are done, then replaces this with `inputs`: their result frames follow the
     * argument frames, and never go to the client on the way.
     */
    futures?: ([number, string] | [number, string, (string | number)[]])[];
    /** To an engine: [argument index, frame count, path?] per resolved future, their frames in order after the arguments' frames. */
    inputs?: ([number, number] | [number, number, (string | number)[]])[];
  }
  /**
   * Frames: the packed item array; the result is the array of fn(item). `refs` as for apply, by item index.
   * `first`: the index of the chunk's first item in the whole map (shown in the task stream).
   */
  | { kind: "map"; fn: FunctionRef; refs?: ([number, string] | [number, string, (string | number)[]])[]; first?: number; require?: TaskRequirements }
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
  lb?: { targets?: number[]; retries?: number; timeoutMs?: number; scheme?: SchemeName; retryOnError?: boolean };
  body: TaskBody;
  bufferCount: number;
  /** A user's label for the task (ipyparallel 9.1's task labels): kept in its record, filterable in history. */
  label?: string;
  /**
   * A direct task to several engines sent as one (BroadcastView): the controller gathers the engines'
   * results and sends them to the client together (those in after a short hold go ahead, so a slow
   * engine delays no one's progress for long), instead of one reply per engine.
   */
  broadcast?: boolean;
  /**
   * Of the `futures` of an apply body, those whose task the client sent straight to an engine, as
   * [msgId, engine id]: the controller may not have heard of them yet (engines report direct tasks
   * after the fact), so it waits for their report, while that engine lives, instead of failing at once.
   */
  directInputs?: [string, number][];
}

/** A task as the controller hands it to one engine. */
export interface EngineTask {
  msgId: string;
  body: TaskBody;
  bufferCount: number;
}

/** A task a client sends straight to an engine (direct_request). */
export interface DirectTask extends EngineTask {
  label?: string;
  /** When the client submitted it (epoch ms, fractional): the record's `submitted`, as ipyparallel takes it from the client. */
  submitted?: number;
}

/**
 * A direct task as the engine reports it to the controller, which keeps its record as if it had
 * routed it. `bufferCount`: its argument frames that follow (0 when they were over the size the
 * engine forwards; then `argsDropped`).
 */
export interface DirectAccepted {
  msgId: string;
  /** The submitting client's routing identity at the controller (hex), as the client said. */
  client: string;
  body: TaskBody;
  bufferCount: number;
  /** Epoch ms (fractional) when the client submitted it (when the engine got it, if the client did not say). */
  submitted: number;
  label?: string;
  argsDropped?: boolean;
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
  /**
   * To a client: the task succeeded with a value that stayed at the controller, because tasks took it
   * as an argument; `result_request` gives it.
   */
  held?: boolean;
}

export interface StreamItem {
  msgId: string;
  engineId: number;
  /**
   * "display": a rich output (`display(...)` on the engine); `text` is `{"data": MimeBundle}` as JSON.
   * "data": an object the task published (`publishData(...)`), encoded by published-data.ts.
   */
  name: "stdout" | "stderr" | "display" | "data";
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
  /** The applied or mapped function's name, for the task stream's details. */
  name?: string;
  /** For a map chunk: the index of its first item in the whole map. */
  index?: number;
  /** For a failed task: "EName: message" (first line, bounded). */
  error?: string;
}

export interface ClusterSnapshot {
  profile: string;
  controller: {
    url: string; pid: number; hostname: string; started: string; scheme: string; hwm: number;
    /** The controller process's own CPU (percent of one core, since the previous snapshot) and RSS (bytes). */
    cpu?: number;
    rss?: number;
    /**
     * How long the controller held its event loop, since it started: the longest time the loop could
     * not turn (wall clock, ms: GC, a SIGSTOP or a starved CPU count too) and the handler that ran
     * that used the most CPU in one go (what it handled, wall and process CPU ms, and how much of its
     * wall time was a garbage collection that happened to run then); the longest GC pause. `cpu` says
     * whose CPU judged the slowest: the process's (every thread's, the default) or the loop thread's own
     * (TSPARALLEL_LOOP_CPU=thread in the controller's environment, as `npm run bench -- --scale` sets).
     */
    loop?: {
      longestHoldMs: number;
      longestGcMs?: number;
      slowest?: { what: string; ms: number; cpuMs: number; gcMs?: number };
      cpu?: "process" | "thread";
      /**
       * What filled the longest hold (with `cpu: "thread"` only): its wall ms, the loop thread's CPU ms
       * in it and the time it waited, runnable, for a core (schedstat), the GC pauses in it (and the kind
       * of the longest), and the timed handlers that ran in it (by what, with how many, their wall and
       * CPU ms); `untimedMs` is the wall time no timed handler covers (receiving and decoding, timers,
       * GC between handlers).
       */
      hold?: LoopHold;
      /** The same for the hold longest once the wait for a core is taken off: what the controller itself held (its work, GC). */
      ownHold?: LoopHold;
    };
  };
  engines: EngineStatus[];
  tasks: { unassigned: number; queued: number; running: number; done: number; failed: number; perSecond: number };
  /** The task store: records and bytes of values it holds, and new tasks not written to it yet. */
  store?: {
    kind: "sqlite" | "memory";
    location?: string;
    records: number;
    bytes: number;
    waiting: number;
    /**
     * sqlite: rows and bytes handed to the writer thread and not committed yet; whether the controller
     * has stopped reading clients and engines until the writer catches up, and how often it did.
     */
    behind?: { rows: number; bytes: number; paused: boolean; pauses: number };
  };
  /** The controller's function cache: sources held, their bytes and the bound, sources refused for a wrong hash. */
  functions?: { count: number; bytes: number; capacity: number; refused: number };
  /**
   * Connections per controller port (open now, accepted, closed in their handshake, accept errors), and
   * the connection caps: handshaken connections they count (an upper bound) and handshakes they refused.
   */
  connections?: Record<string, { open: number; accepted: number; droppedInHandshake: number; acceptErrors: number; counted?: number; refused?: number }>;
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
  label?: string;
  /** Result frames kept for this record, in order after the content. */
  bufferCount: number;
  /** Why the result value is not kept (it was over the store's size cap), when it is not. */
  note?: string;
}

/**
 * A task as the controller's task store keeps it: what `db_query_request` matches and returns (only
 * the keys asked for; msgId always). Times are epoch ms; absent values are null, so that a filter can
 * ask for them (`{ completed: null }` = still pending).
 */
export interface TaskDbRecord {
  msgId: string;
  /** The submitting client (hex of its routing identity). */
  client: string;
  engineId: number | null;
  kind: TaskKind;
  pending: boolean;
  status: TaskStatus | null;
  submitted: number;
  started: number | null;
  completed: number | null;
  error: RemoteErrorInfo | null;
  stdout: string | null;
  stderr: string | null;
  repr: string | null;
  executionCount: number | null;
  /** The msgId this task was resubmitted as, once it was. */
  resubmitted: string | null;
  /** Size of the result value in bytes (0 for none), kept or not. */
  resultBytes: number;
  /** Why the result value is not stored, when it is not. */
  note: string | null;
}

export type TaskDbKey = keyof TaskDbRecord;

/** Operators of a db query, as ipyparallel's (MongoDB's): `{ submitted: { $lt: t } }`, `{ msgId: { $in: ids } }`. */
export interface TaskDbOperators {
  $lt?: unknown;
  $gt?: unknown;
  $lte?: unknown;
  $gte?: unknown;
  $eq?: unknown;
  $ne?: unknown;
  $in?: unknown[];
  $nin?: unknown[];
  $exists?: boolean;
}

/** Every condition must hold; a plain value (or null) means equality. */
export type TaskDbFilter = { [K in TaskDbKey]?: TaskDbRecord[K] | null | TaskDbOperators };

/** One hold of the controller's loop and what filled it (ClusterSnapshot's controller.loop.hold). */
export interface LoopHold {
  ms: number;
  cpuMs: number;
  waitMs?: number;
  gcMs?: number;
  gcKind?: string;
  untimedMs: number;
  spans: { what: string; count: number; ms: number; cpuMs: number }[];
}

/** Content of each message type, by msg_type. */
export interface MessageContents {
  // engine <-> controller ("engine" socket)
  /**
   * `uuid` is fixed for the life of the engine process; `id` is the id it had before, when it
   * registers again (after being declared dead, or losing the controller). A known uuid gets its id back.
   */
  /**
   * `process`: where the engine's pid can be looked up (see pidSpace) and its start time there, so a
   * controller in the same pid space sees at once that the process has gone.
   */
  /** `functionCacheBytes`: the engine's function-cache capacity; the controller models that cache with it to know when to resend a source. */
  /** `direct`: the engine's direct socket, for clients to send DirectView work to (see DirectAddress). */
  registration_request: { uuid: string; hostname: string; pid: number; version: string; id?: number; metadata?: EngineMetadata; process?: EngineProcess; functionCacheBytes?: number; direct?: DirectAddress };
  registration_reply:
    | { status: "ok"; id: number; heartbeatMs: number; heartbeatTimeoutMs: number }
    /** `retryAfterMs`: a refusal for now (too many new engines at once); the engine asks again after it. */
    | { status: "error"; message: string; retryAfterMs?: number };
  unregistration_request: { reason?: string };
  /** `fns`: the functions the tasks name by index (shared-functions.ts). */
  task_request: { tasks: EngineTask[]; fns?: FunctionRef[] };
  task_reply: { results: TaskResult[] };
  stream: { items: StreamItem[] };
  /**
   * Engine -> controller, after the replies left: direct tasks it accepted (their argument frames
   * first, in order) and results of direct tasks (their frames after). The controller records them as
   * if it had routed them, but sends no result to the client (the engine did). A result value over 16 MiB
   * (what the task store keeps at most by default) is not sent: `valueBytes` gives its size by msgId.
   */
  direct_report: { accepted: DirectAccepted[]; results: TaskResult[]; flushed?: number; valueBytes?: Record<string, number> };
  /**
   * Controller -> engine: send your direct_report now (with `flushed: token`, even if empty). The
   * controller asks before it answers a query that may name direct tasks (result_request, history,
   * db_query), so a client that has a direct result sees it in the controller's records at once.
   */
  report_request: { token: number };
  abort_request: { msgIds?: string[]; targets?: number[] };
  abort_reply: { aborted: string[] };
  shutdown_request: { targets?: number[] | null; hub?: boolean };
  shutdown_reply: { engines: number[] };

  // engine thread <-> controller ("heartbeat" socket)
  heartbeat: { uuid: string; id: number; cpu: number; rss: number; heapUsed: number; time: number };
  signal_request: { signal: "SIGINT" | "SIGTERM" | "SIGKILL" };
  /**
   * The answer to a heartbeat from an engine the controller does not hold as alive (declared dead,
   * unknown id or uuid, or any engine after a controller restart): register again. `heartbeatTime`
   * is the `time` of the beat it answers, so an engine can ignore one that predates its registration.
   */
  reregister_request: { reason: string; heartbeatTime?: number };

  // client <-> controller ("client" socket)
  connect_request: Record<string, never>;
  /**
   * A client is alive: sent every CLIENT_HEARTBEAT_MS from a thread of the client (its own socket,
   * the same header.session as the client's requests), and once on the client's socket before anything
   * else. No reply. A client silent past the controller's tolerance is gone (`--orphan-tasks`).
   */
  client_heartbeat: { time: number };
  /** `client`: the requesting client's routing identity here (hex); a client names itself with it in direct_request. */
  connect_reply: { engines: EngineInfo[]; snapshot: ClusterSnapshot; client?: string };
  /** `fns`: the functions the tasks name by index (shared-functions.ts). */
  submit_request: { tasks: TaskRequest[]; fns?: FunctionRef[] };
  queue_status_request: { targets?: number[]; verbose?: boolean };
  queue_status_reply: { engines: Record<string, QueueStatus>; unassigned: number };
  result_request: { msgIds: string[] };
  result_reply: { records: TaskRecordInfo[] };
  /** With `label`, only the tasks submitted with that label. */
  history_request: { label?: string };
  /** A long history comes in pieces: every reply but the last says `more` (the client joins them in order). */
  history_reply: { msgIds: string[]; more?: boolean };
  /** The task store: records matching `filter`, with `keys` only (default: all). */
  db_query_request: { filter: TaskDbFilter; keys?: TaskDbKey[] };
  /** Many records come in pieces: every reply but the last says `more` (the client joins them in order). */
  db_query_reply: { records: Partial<TaskDbRecord>[]; more?: boolean };
  /** Runs stored tasks again (load-balanced) under the new msgIds the client chose, one per old id. */
  resubmit_request: { msgIds: string[]; newMsgIds: string[] };
  resubmit_reply: { resubmitted: Record<string, string>; kinds: Record<string, TaskKind> };
  /** Forgets finished tasks: the given ones (none may be pending) or "all" finished ones. */
  purge_request: { msgIds: string[] | "all" };
  purge_reply: { purged: number };
  interrupt_request: { targets: number[] };
  interrupt_reply: { engines: number[] };
  engine_stop_request: { targets: number[] };
  engine_stop_reply: { engines: number[] };
  status_request: Record<string, never>;
  status_reply: ClusterSnapshot;
  error_reply: { ename: string; evalue: string };

  // client <-> engine ("direct" socket); task_reply, stream and abort_request as on the other sockets
  /**
   * Opens a direct link; the welcome says which engine answers and how many bad messages its direct socket
   * dropped. `link` (hex, at most 32 characters): the same on a link's DEALER and stream, so the engine can
   * send a big reply to a task that came by the stream over the DEALER (see DirectLink).
   */
  direct_hello: { link?: string; trust?: string };
  direct_welcome: { id: number; uuid: string; dropped: number };
  /**
   * A direct stream's trust exchange (stream-trust.ts): the engine's answer to a hello's `trust` nonce on a
   * loopback connection, and the client's answer to the engine's nonce; after it, messages go unsigned.
   */
  direct_challenge: { echo: string; nonce: string };
  direct_trust: { nonce: string };
  /** `client`: the client's routing identity at the controller (connect_reply.client), for the controller's records. */
  direct_request: { client: string; tasks: DirectTask[] };

  // client -> controller on the "events" socket: send me events (renewed every EVENTS_RENEW_MS), or stop
  events_subscribe: Record<string, never>;
  events_unsubscribe: Record<string, never>;

  // controller -> subscribed clients ("events" socket)
  engine_registered: { engine: EngineInfo };
  engine_dead: { id: number; reason: string };
  engine_unregistered: { id: number };
  cluster_snapshot: ClusterSnapshot;
  task_stream: { tasks: TaskStreamItem[] };
  controller_heartbeat: { time: number; pid: number };
  controller_shutdown: { reason: string };
}

export type MessageType = keyof MessageContents;

/**
 * How often a client renews its `events_subscribe`; the controller forgets a subscriber silent for
 * EVENTS_EXPIRE_MS (a client gone without unsubscribing).
 */
export const EVENTS_RENEW_MS = 5000;
export const EVENTS_EXPIRE_MS = 30_000;

/** How often a client beats (`client_heartbeat`). */
export const CLIENT_HEARTBEAT_MS = 500;
