import { lookUp, type Logger, type Message, type MessageContents, type MessageSender } from "@tsparallel/protocol";
import type { EngineRecord } from "./engine-record.js";
import type { EngineRegistry } from "./engines-registry.js";
import { LoopLag } from "./loop-lag.js";

export interface HeartbeatTimings {
  /** How often engines beat. */
  heartbeatMs: number;
  /** Beats in a row an engine may miss before it is declared dead. */
  heartbeatMisses: number;
  /** heartbeatMs x heartbeatMisses: the silence that means death. */
  heartbeatTimeoutMs: number;
}

/**
 * Until its first beat an engine is given this long. Engines ready their heartbeat thread before
 * they register, so the first beat follows the reply at once (bench --soak: no wait seen with 64
 * engines); an engine whose thread started after registering took up to 23 s, which this covers.
 */
export function firstBeatGraceMs(timings: HeartbeatTimings): number {
  return Math.max(2 * timings.heartbeatTimeoutMs, 60_000);
}

/**
 * True only when the engine runs in our pid space and /proc says that process has gone (or another
 * has its pid). /proc that cannot be read (no file descriptor left) proves nothing.
 */
function processGone(engine: EngineRecord): boolean {
  if (engine.localStartTime === undefined) return false;
  const found = lookUp(engine.pid);
  return found === "gone" || (found !== "unknown" && found.startTime !== engine.localStartTime);
}

/** What judging needs per engine: whether it has beaten yet, and the loop lag summed at its last beat. */
interface Beats {
  beaten: boolean;
  lagAt: number;
}

type Signal = MessageContents["signal_request"]["signal"];

/** cpu in percentage points, rss as a fraction: smaller moves do not warrant a new snapshot. */
const NOTABLE_CPU = 5;
const NOTABLE_RSS = 0.05;

/**
 * The heartbeat ROUTER. Engines send `heartbeat` from a worker thread, so a busy event loop still
 * beats; each beat is echoed back (an engine exits when echoes stop, so a controller that is gone or
 * has declared it dead leaves no orphans).
 *
 * Judging: an engine is dead after `heartbeatMisses` periods of silence counted from its last beat,
 * once it has beaten at all (before that it gets firstBeatGraceMs from registering). Silence is
 * counted in the controller's own time only: how late its check timer ran (LoopLag) is taken off, so
 * a stalled, paused or starved controller never blames engines whose beats wait unread in its socket.
 * An engine in the controller's pid space that has missed a couple of beats is looked up in /proc: a
 * process that has gone is dead at once, not after the whole silence (a paused one is still there).
 */
export class HeartbeatMonitor {
  #timer?: NodeJS.Timeout;
  readonly #beats = new WeakMap<EngineRecord, Beats>();
  #lag?: LoopLag;

  constructor(
    private readonly registry: EngineRegistry,
    private readonly sender: MessageSender,
    private readonly timings: HeartbeatTimings,
    private readonly onDead: (engine: EngineRecord, reason: string) => void,
    private readonly onVitals: () => void,
    private readonly log: Logger,
  ) {}

  handle(msg: Message): void {
    if (msg.header.msg_type !== "heartbeat") {
      this.log.warn(`unexpected ${msg.header.msg_type} on the heartbeat socket; dropped`);
      return;
    }
    const beat = msg.content as Partial<MessageContents["heartbeat"]>;
    const engine = typeof beat.uuid === "string" ? this.registry.byUuid(beat.uuid) : undefined;
    // A stopped engine is on its way out: nothing to say to it.
    if (engine?.lifecycle === "stopped") return;
    if (!engine || !engine.alive || engine.id !== beat.id) {
      // Not an echo: it learns that it must register again (declared dead, or a controller that does not know it).
      const reason = !engine ? "this controller does not know the engine" : !engine.alive ? `engine ${engine.id} was declared dead` : `the engine is ${engine.id}, not ${String(beat.id)}`;
      this.log.debug(`heartbeat from an engine not alive here (id ${String(beat.id)}): ${reason}; asked to register again`);
      const heartbeatTime = typeof beat.time === "number" ? { heartbeatTime: beat.time } : {};
      this.sender.send("reregister_request", { reason, ...heartbeatTime }, { identities: msg.identities, parent: msg.header });
      return;
    }
    engine.heartbeatIdentity = msg.identities;
    engine.lastHeartbeat = Date.now();
    this.#beats.set(engine, { beaten: true, lagAt: this.#lag?.total ?? 0 });
    for (const signal of engine.pendingSignals.splice(0)) this.signal(engine, signal);
    this.#recordVitals(engine, beat);
    this.sender.send("heartbeat", msg.content as MessageContents["heartbeat"], { identities: msg.identities, parent: msg.header });
  }

  /**
   * Sends a signal for the engine to raise in itself. One asked for before the engine's first beat (just
   * after it registered) is held and sent with the echo of that beat.
   */
  signal(engine: EngineRecord, signal: Signal): boolean {
    if (!engine.alive) return false;
    if (!engine.heartbeatIdentity) {
      engine.pendingSignals.push(signal);
      return true;
    }
    this.sender.send("signal_request", { signal }, { identities: engine.heartbeatIdentity });
    return true;
  }

  start(): void {
    const every = this.checkEveryMs;
    this.#lag = new LoopLag(every);
    this.#timer = setInterval(() => this.#check(), every);
  }

  get checkEveryMs(): number {
    return Math.min(Math.max(this.timings.heartbeatMs / 2, 25), 500);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #check(): void {
    const lag = this.#lag!;
    const late = lag.tick();
    if (late >= this.timings.heartbeatMs) {
      this.log.warn(`the controller could not read its sockets for ${Math.round(late)} ms (a stall or a pause); engines are not blamed for it`);
    }
    const now = Date.now();
    // onDead replaces the registry's alive list; this loop keeps the one it started with.
    for (const engine of this.registry.alive()) {
      let beats = this.#beats.get(engine);
      if (!beats) this.#beats.set(engine, (beats = { beaten: false, lagAt: lag.total }));
      const silent = now - engine.lastHeartbeat - (lag.total - beats.lagAt);
      if (silent > 2 * this.timings.heartbeatMs && processGone(engine)) {
        this.onDead(engine, `its process ${engine.pid} on the controller's host has exited`);
      } else if (beats.beaten && silent > this.timings.heartbeatTimeoutMs) {
        this.onDead(engine, `no heartbeat for ${Math.round(silent)} ms (${this.timings.heartbeatMisses} beats of ${this.timings.heartbeatMs} ms missed)`);
      } else if (!beats.beaten && silent > firstBeatGraceMs(this.timings)) {
        this.onDead(engine, `no heartbeat within ${Math.round(silent)} ms of registering`);
      }
    }
  }

  #recordVitals(engine: EngineRecord, beat: Partial<MessageContents["heartbeat"]>): void {
    const cpu = typeof beat.cpu === "number" ? beat.cpu : engine.cpu;
    const rss = typeof beat.rss === "number" ? beat.rss : engine.rss;
    const notable = Math.abs(cpu - engine.cpu) >= NOTABLE_CPU || Math.abs(rss - engine.rss) > NOTABLE_RSS * Math.max(engine.rss, 1);
    engine.cpu = cpu;
    engine.rss = rss;
    if (notable) this.onVitals();
  }
}
