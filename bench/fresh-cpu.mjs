/**
 * A fresh cluster's CPU per load-balanced task, by process, with the client's main thread apart from
 * its other threads (V8's compiler and GC helpers, ZeroMQ's I/O thread): 500 warm-up tiny applies,
 * then 2 × 5,000 tiny applies awaited together and 2 × 5,000-item lb maps (chunkSize 1), as the
 * bench's fresh rows do. Run it for two checkouts in turn, several times, alternating.
 *
 *   node bench/fresh-cpu.mjs CHECKOUT [tiny,lbmap]
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { cpuOf, ownThreads } from "./proc-cpu.mjs";

const dir = process.argv[2];
if (!dir) throw new Error("usage: node bench/fresh-cpu.mjs CHECKOUT [tiny,lbmap]");
const what = (process.argv[3] ?? "tiny,lbmap").split(",");
const mod = await import(pathToFileURL(resolve(dir, "client/dist/index.js")).href);
process.env.TSPARALLEL_DIR = mkdtempSync(join(tmpdir(), "fresh-cpu-"));
const cluster = await mod.Cluster.start({ n: 2, profile: "fresh-cpu", timeout: 60_000 });
const rc = await cluster.connect();
await rc.waitForEngines(2, { timeout: 60_000 });
const snap = await rc.status();
const lv = rc.loadBalancedView();
const identity = (x) => x;
const square = (x) => x * x;
const pids = { controller: cluster.controller.pid, engine0: snap.engines[0].pid, engine1: snap.engines[1].pid };
await Promise.all(Array.from({ length: 500 }, (_, i) => lv.apply(identity, i)));
const numbers = Array.from({ length: 5000 }, (_, i) => i);
const lines = [];
for (const w of what) {
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuOf(p)]));
  const own0 = ownThreads();
  const t = performance.now();
  for (let b = 0; b < 2; b++) {
    if (w === "tiny") await Promise.all(Array.from({ length: 5000 }, (_, i) => lv.apply(identity, i)));
    else if ((await lv.map(square, numbers, { chunkSize: 1 }))[4999] !== 4999 * 4999) throw new Error("lbmap returned wrong results");
  }
  const wall = performance.now() - t;
  const own1 = ownThreads();
  const per = (us) => (us / 10_000).toFixed(1);
  lines.push(`${w.padEnd(6)} per task: wall ${per(wall * 1000)} µs  client main ${per(own1[0] - own0[0])} other ${per(own1[1] - own0[1])}  ` + Object.entries(pids).map(([k, p]) => `${k} ${per(cpuOf(p) - before[k])}`).join("  "));
}
console.log(`${dir} (load ${readFileSync("/proc/loadavg", "utf8").split(" ")[0]})\n${lines.join("\n")}`);
rc.close();
await cluster.stop();
process.exit(0);
