import { randomUUID } from "node:crypto";
import type { AsyncResult } from "tsparallel";
import type { IOPub } from "../output/iopub.js";

const WIDTH = 30;

function bundle(done: number, total: number, seconds: number, finished: boolean): Record<string, string> {
  const filled = total === 0 ? WIDTH : Math.round((done / total) * WIDTH);
  const bar = `${"#".repeat(filled)}${".".repeat(WIDTH - filled)}`;
  const text = `%px: [${bar}] ${done}/${total} tasks ${finished ? "done" : "finished"} after ${seconds.toFixed(1)} s`;
  const percent = total === 0 ? 100 : Math.round((done / total) * 100);
  const html =
    `<div style="font-family:monospace">%px: <progress value="${done}" max="${total}" style="width:20em"></progress> ` +
    `${done}/${total} tasks (${percent}%) after ${seconds.toFixed(1)} s</div>`;
  return { "text/plain": text, "text/html": html };
}

/**
 * Waits for a result, and if it takes longer than `afterSeconds`, shows a progress bar that is
 * updated in place (update_display_data) until every task is done.
 */
export async function waitWithProgress(iopub: IOPub, ar: AsyncResult<unknown>, afterSeconds: number): Promise<void> {
  if (afterSeconds < 0) {
    await ar.wait();
    return;
  }
  const started = performance.now();
  if (afterSeconds > 0 && (await ar.wait(afterSeconds * 1000))) return;
  const displayId = randomUUID();
  const elapsed = () => (performance.now() - started) / 1000;
  iopub.publish("display_data", { data: bundle(ar.progress, ar.length, elapsed(), false), metadata: {}, transient: { display_id: displayId } });
  let shown = ar.progress;
  let updated = performance.now();
  while (!(await ar.wait(250))) {
    // A new count at once; the clock once a second.
    if (ar.progress !== shown || performance.now() - updated >= 1000) {
      shown = ar.progress;
      updated = performance.now();
      iopub.publish("update_display_data", { data: bundle(shown, ar.length, elapsed(), false), metadata: {}, transient: { display_id: displayId } });
    }
  }
  iopub.publish("update_display_data", { data: bundle(ar.length, ar.length, elapsed(), true), metadata: {}, transient: { display_id: displayId } });
}
