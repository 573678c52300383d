import { randomUUID } from "node:crypto";
import type { Header } from "@tsparallel/protocol";
import { progressLine, setProgressHooks, type ProgressInfo, type ProgressSource } from "tsparallel";
import type { RecentCalls } from "../comms/recent-calls.js";
import type { IOPub } from "./iopub.js";

/** The progress state itself, for frontends that draw their own (and for tests to tell these displays apart). */
export const PROGRESS_MIME = "application/vnd.tsparallel.progress+json";

/** An awaited result still running after this long gets a progress display. */
const SHOW_AFTER_MS = 1000;
/** At most this many updates per second; none while no task finishes. */
const MIN_UPDATE_INTERVAL_MS = 250;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

function bundle(info: ProgressInfo): Record<string, unknown> {
  const line = progressLine(info);
  const html =
    `<div style="font-family:monospace"><progress value="${info.done}" max="${info.total}" style="width:20em"></progress> ` +
    `${escapeHtml(line)}</div>`;
  return { "text/plain": line, "text/html": html, [PROGRESS_MIME]: info };
}

/** One result's display: shown once, updated in place as tasks finish, ended by a final line. */
class ProgressDisplay {
  readonly #id = randomUUID();
  #shown = false;
  #finished = false;
  #lastUpdate = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #unsubscribe: () => void;

  constructor(
    private readonly iopub: IOPub,
    private readonly result: ProgressSource,
    private readonly parent: Partial<Header>,
  ) {
    this.#unsubscribe = result.onProgress(() => this.#changed());
  }

  /** Shows the display after `ms` if the result is still running then; at once (even if ready) for 0. */
  showAfter(ms: number): void {
    if (ms > 0) this.#timer = setTimeout(() => this.#show(), ms);
    else if (this.result.ready()) {
      this.#finished = true;
      this.#unsubscribe();
      this.iopub.publish("display_data", { data: bundle(this.result.progressInfo()), metadata: {}, transient: { display_id: this.#id } }, this.parent);
    } else this.#show();
  }

  #show(): void {
    this.#timer = undefined;
    if (this.#finished) return;
    if (this.result.ready()) return this.#finish();
    this.#shown = true;
    this.#lastUpdate = performance.now();
    this.iopub.publish("display_data", { data: bundle(this.result.progressInfo()), metadata: {}, transient: { display_id: this.#id } }, this.parent);
  }

  #changed(): void {
    if (this.result.ready()) return this.#finish();
    if (!this.#shown || this.#timer) return;
    const wait = this.#lastUpdate + MIN_UPDATE_INTERVAL_MS - performance.now();
    if (wait <= 0) this.#update();
    else this.#timer = setTimeout(() => this.#update(), wait);
  }

  #update(): void {
    this.#timer = undefined;
    if (this.#finished) return;
    this.#lastUpdate = performance.now();
    this.iopub.publish("update_display_data", { data: bundle(this.result.progressInfo()), metadata: {}, transient: { display_id: this.#id } }, this.parent);
  }

  // Synchronous with the last result, so the final line goes out before the cell that awaited it replies.
  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#timer);
    this.#unsubscribe();
    if (this.#shown) this.iopub.publish("update_display_data", { data: bundle(this.result.progressInfo()), metadata: {}, transient: { display_id: this.#id } }, this.parent);
  }
}

/**
 * Progress in the cell: an awaited AsyncResult still running after a second, or any one whose
 * `display()` is called, gets a display in the output of the cell that was running then. Every call
 * made is also counted in `calls`, for the dashboard.
 */
export function installProgressDisplays(iopub: IOPub, calls: RecentCalls): void {
  setProgressHooks({
    created: (result) => calls.add(result),
    awaited(result) {
      if (!result.ready()) new ProgressDisplay(iopub, result, iopub.parent).showAfter(SHOW_AFTER_MS);
    },
    async display(result) {
      new ProgressDisplay(iopub, result, iopub.parent).showAfter(0);
      await result.wait();
    },
  });
}
