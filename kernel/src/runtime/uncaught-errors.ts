import { AsyncLocalStorage } from "node:async_hooks";
import type { Header, Logger } from "@tsparallel/protocol";
import { runtimeError } from "../output/traceback.js";

/** The execute request a piece of work was started by: timers and promises a cell makes carry it. */
export interface CellOrigin {
  header: Partial<Header>;
  cellNumber: number;
}

export interface UncaughtReport {
  /** The traceback lines, as an error output shows them. */
  text: string;
  /** The request whose output the report belongs to. */
  parent: Partial<Header>;
}

/**
 * Keeps the kernel alive through errors nobody catches (a throw in a setTimeout callback, a
 * rejected promise left floating). Each cell runs inside an async context naming it, so an error
 * escaping later is reported as stderr in the cell that is running now, or else in the cell that
 * started the work; the notebook's scope and any cluster the kernel started carry on.
 */
export class UncaughtErrors {
  readonly #origins = new AsyncLocalStorage<CellOrigin>();
  #running: CellOrigin | null = null;
  #installed = false;

  constructor(
    private readonly report: (report: UncaughtReport) => void,
    private readonly log: Logger,
    /** Where output goes when no cell is known (the last request served). */
    private readonly fallbackParent: () => Partial<Header>,
  ) {}

  /** Runs a cell with its origin attached to every callback and promise it creates. */
  async runCell<T>(origin: CellOrigin, work: () => Promise<T>): Promise<T> {
    this.#running = origin;
    try {
      return await this.#origins.run(origin, work);
    } finally {
      if (this.#running === origin) this.#running = null;
    }
  }

  install(): void {
    if (this.#installed) return;
    this.#installed = true;
    process.on("uncaughtException", this.#onUncaught);
    process.on("unhandledRejection", this.#onUnhandled);
  }

  uninstall(): void {
    process.off("uncaughtException", this.#onUncaught);
    process.off("unhandledRejection", this.#onUnhandled);
    this.#installed = false;
  }

  readonly #onUncaught = (err: unknown): void => this.#handle(err, "Uncaught");
  readonly #onUnhandled = (reason: unknown): void => this.#handle(reason, "Unhandled promise rejection");

  #handle(err: unknown, kind: string): void {
    try {
      // Node runs these listeners in the async context of the failed callback or promise.
      const origin = this.#origins.getStore();
      const running = this.#running;
      const lines = runtimeError(err).traceback;
      if (kind !== "Uncaught" || !lines[0]!.includes("Uncaught")) lines[0] = `${kind}: ${lines[0]}`;
      if (origin && origin !== running) lines.push(`(from work started by cell [${origin.cellNumber}])`);
      const parent = running?.header ?? origin?.header ?? this.fallbackParent();
      this.log.warn(`${kind.toLowerCase()} kept the kernel alive: ${(err as Error)?.stack ?? String(err)}`);
      this.report({ text: `${lines.join("\n")}\n`, parent });
    } catch (failure) {
      this.log.error(`cannot report an uncaught error: ${(failure as Error)?.stack ?? failure}`);
    }
  }
}
