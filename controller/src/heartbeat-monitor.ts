import type { Logger, Message, MessageContents, MessageSender } from "@tsparallel/protocol";
import type { EngineRecord } from "./engine-record.js";
import type { EngineRegistry } from "./engines-registry.js";

export interface HeartbeatTimings {
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
}

type Signal = MessageContents["signal_request"]["signal"];

/** cpu in percentage points, rss as a fraction: smaller moves do not warrant a new snapshot. */
const NOTABLE_CPU = 5;
const NOTABLE_RSS = 0.05;

/**
 * The heartbeat ROUTER. Engines send `heartbeat` from a worker thread, so a busy event loop still
 * beats; each beat is echoed back (an engine exits when echoes stop, so a controller that is gone or
 * has declared it dead leaves no orphans). Silence past the timeout declares an engine dead.
 */
export class HeartbeatMonitor {
  #timer?: NodeJS.Timeout;

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
    const every = Math.min(Math.max(this.timings.heartbeatMs / 2, 25), 500);
    this.#timer = setInterval(() => this.#check(), every);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #check(): void {
    const now = Date.now();
    for (const engine of [...this.registry.alive()]) {
      const silent = now - engine.lastHeartbeat;
      if (silent > this.timings.heartbeatTimeoutMs) this.onDead(engine, `no heartbeat for ${silent} ms`);
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
