/**
 * The --scale map (1,000,000 items, chunkSize 1, 2 engines, x => x + 1) from one checkout, with CPU per
 * item by process (the client's main thread apart from its other threads), which `--scale` does not
 * print for the client and engines. Run it for two checkouts in turn, alternating, both orders.
 *
 *   node bench/map1m-cpu.mjs CHECKOUT [items=1000000]
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { cpuOf, ownThreads } from "./proc-cpu.mjs";

const dir = process.argv[2];
if (!dir) throw new Error("usage: node bench/map1m-cpu.mjs CHECKOUT [items]");
const items = Number(process.argv[3] ?? 1_000_000);
const mod = await import(pathToFileURL(resolve(dir, "client/dist/index.js")).href);
process.env.TSPARALLEL_DIR = mkdtempSync(join(tmpdir(), "map1m-"));
process.env.TSPARALLEL_LOOP_CPU = "thread"; // as --scale runs the controller
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ")[0];
const cluster = await mod.Cluster.start({ n: 2, profile: "map1m", timeout: 60_000 });
const rc = await cluster.connect();
await rc.waitForEngines(2, { timeout: 60_000 });
const snap = await rc.status();
const pids = { controller: cluster.controller.pid, engine0: snap.engines[0].pid, engine1: snap.engines[1].pid };
const input = Array.from({ length: items }, (_, i) => i);
const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuOf(p)]));
const own0 = ownThreads();
const load0 = load();
const t = performance.now();
const out = await rc.loadBalancedView().map((x) => x + 1, input, { chunkSize: 1 });
const seconds = (performance.now() - t) / 1000;
const own1 = ownThreads();
let wrong = 0;
for (let i = 0; i < items; i++) if (out[i] !== i + 1) wrong++;
const per = (us) => (us / items).toFixed(1);
console.log(`${dir}: ${items} in ${seconds.toFixed(1)} s, ${Math.round(items / seconds)}/s, wrong ${wrong}, load ${load0} -> ${load()}; µs per item: client main ${per(own1[0] - own0[0])} other ${per(own1[1] - own0[1])} ` + Object.entries(pids).map(([k, p]) => `${k} ${per(cpuOf(p) - before[k])}`).join(" "));
rc.close();
await cluster.stop();
process.exit(0);
