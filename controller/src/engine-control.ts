import type { Logger, MessageSender } from "@tsparallel/protocol";
import type { EngineRecord } from "./engine-record.js";
import type { EngineRegistry } from "./engines-registry.js";
import type { HeartbeatMonitor } from "./heartbeat-monitor.js";

/** Stops and interrupts engines: politely over the engine socket, by signal through the heartbeat one. */
export class EngineControl {
  constructor(
    private readonly registry: EngineRegistry,
    private readonly engineSender: MessageSender,
    private readonly heartbeat: HeartbeatMonitor,
    private readonly log: Logger,
    /** How long an engine asked to stop may take to unregister before it gets SIGTERM. */
    private readonly stopGraceMs = 3000,
  ) {}

  /** Alive engines among the targets (all alive engines for null/undefined) and the ids that are not. */
  resolve(targets: readonly number[] | null | undefined): { engines: EngineRecord[]; invalid: number[] } {
    if (targets === null || targets === undefined) return { engines: [...this.registry.alive()], invalid: [] };
    const engines: EngineRecord[] = [];
    const invalid: number[] = [];
    for (const id of targets) {
      const engine = this.registry.byId(id);
      if (engine?.alive) engines.push(engine);
      else invalid.push(id);
    }
    return { engines, invalid };
  }

  /** Asks engines to shut down; any still registered after the grace period gets SIGTERM. */
  stop(engines: readonly EngineRecord[]): number[] {
    for (const engine of engines) {
      this.engineSender.send("shutdown_request", {}, { identities: engine.identity });
      if (engine.stopTimer) continue;
      engine.stopTimer = setTimeout(() => {
        engine.stopTimer = undefined;
        if (!engine.alive) return;
        this.log.warn(`engine ${engine.id} did not unregister within ${this.stopGraceMs} ms of a shutdown request; sending SIGTERM`);
        this.heartbeat.signal(engine, "SIGTERM");
      }, this.stopGraceMs).unref();
    }
    return engines.map((e) => e.id);
  }

  interrupt(engines: readonly EngineRecord[]): number[] {
    return engines.filter((engine) => this.heartbeat.signal(engine, "SIGINT")).map((e) => e.id);
  }

  /** SIGTERM now to those of the engines that have not unregistered (the controller is exiting). */
  terminateStragglers(engines: readonly EngineRecord[]): void {
    for (const engine of engines) {
      this.settled(engine);
      if (engine.alive) this.heartbeat.signal(engine, "SIGTERM");
    }
  }

  /** The engine is gone: no fallback signal is needed any more. */
  settled(engine: EngineRecord): void {
    clearTimeout(engine.stopTimer);
    engine.stopTimer = undefined;
  }
}
