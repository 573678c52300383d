/**
 * Worker thread that keeps Node's SIGINT watchdog running for the whole life of the engine.
 *
 * Node starts a helper thread (and takes over SIGINT) when the first `breakOnSigint` script starts,
 * and joins it (handing SIGINT back to the default action, death) when the last one ends. While a
 * holder sits inside one, the engine's own breakOnSigint sections only count up and down: no thread
 * is created or joined per task, no signal handler is swapped.
 *
 * Node gives each SIGINT to the newest running breakOnSigint script only. The Interrupter runs two
 * holders, so one always holds the watchdog while the other answers a signal:
 * - main thread inside a section (the shared depth is > 0): the signal was meant for it; this holder
 *   only got it because it entered after the section did. It sends SIGINT again, now that it is out
 *   of the way, so the section (or, if that just ended, the other holder) gets it.
 * - otherwise: the signal is for an awaiting task or an idle engine; the main thread is told.
 * Either way the holder enters again at once.
 */
import vm from "node:vm";
import { parentPort, workerData } from "node:worker_threads";

const sectionDepth = new Int32Array((workerData as { sectionDepth: SharedArrayBuffer }).sectionDepth);
const park = new Int32Array(new SharedArrayBuffer(4));
(globalThis as Record<symbol, unknown>)[Symbol.for("tsparallel.sigint-holder.park")] = park;
// Waits on a cell nobody ever notifies: only a SIGINT (or the worker's termination) ends the wait.
const wait = new vm.Script(`Atomics.wait(globalThis[Symbol.for("tsparallel.sigint-holder.park")], 0, 0)`, { filename: "tsparallel-sigint-holder" });

parentPort!.postMessage("ready");
for (;;) {
  try {
    wait.runInThisContext({ breakOnSigint: true, displayErrors: false });
  } catch (err) {
    if ((err as { code?: string } | null)?.code !== "ERR_SCRIPT_EXECUTION_INTERRUPTED") throw err;
    if (Atomics.load(sectionDepth, 0) > 0) process.kill(process.pid, "SIGINT");
    else parentPort!.postMessage("sigint");
  }
}
