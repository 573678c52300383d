/**
 * How a fresh cluster warms up: the first 300 direct applies and executes (after 5), then blocks of
 * 500 applies and executes, then blocks of 5,000 tiny load-balanced applies, printed as medians (ms)
 * and rates. V8 runs a fresh process's message path unoptimized for its first few thousand messages.
 *
 *   node bench/warm-curve.mjs [CHECKOUT=.]
 */
import { mkdtempSync, rmSync } from "node:fs"; import { tmpdir } from "node:os"; import { join, resolve } from "node:path"; import { pathToFileURL } from "node:url";
const dir = process.argv[2] ?? "."; const mod = await import(pathToFileURL(resolve(dir, "client/dist/index.js")).href);
const root = (process.env.TSPARALLEL_DIR = mkdtempSync(join(tmpdir(), "warm-curve-")));
const cluster = await mod.Cluster.start({ n: 2, profile: "rt", timeout: 60_000 });
const rc = await cluster.connect(); await rc.waitForEngines?.(2);
const one = rc.directView(rc.ids[0]); const lv = rc.loadBalancedView();
const nothing = () => null; const identity = (x) => x;
const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
async function rt(n) { const t = []; for (let i = 0; i < n; i++) { const s = performance.now(); await one.apply(nothing); t.push(performance.now() - s); } return med(t); }
async function ex(n) { const t = []; for (let i = 0; i < n; i++) { const s = performance.now(); await one.execute("const a = 5; let b = a * 2"); t.push(performance.now() - s); } return med(t); }
const out = [];
for (let i = 0; i < 5; i++) await one.apply(nothing);
out.push(["apply cold (after 5)", await rt(300)]);
for (let i = 0; i < 5; i++) await one.execute("1");
out.push(["execute cold", await ex(300)]);
for (let b = 0; b < 6; b++) { out.push([`apply after ${(b + 1) * 500 + 305} more`, await rt(500)]); }
for (let b = 0; b < 4; b++) { out.push([`execute block ${b}`, await ex(500)]); }
async function tiny(n) { const s = performance.now(); await Promise.all(Array.from({ length: n }, (_, i) => lv.apply(identity, i))); return n / ((performance.now() - s) / 1000); }
await tiny(500);
for (let b = 0; b < 8; b++) out.push([`tiny block ${b} (5000) /s`, await tiny(5000)]);
for (const [k, v] of out) console.log(k.padEnd(30), v.toFixed(3));
await rc.close?.(); await cluster.stop();
rmSync(root, { recursive: true, force: true });
process.exit(0);
