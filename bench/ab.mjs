/**
 * A/B in one process: two built checkouts (say main and a branch) each start a 2-engine cluster, and
 * blocks of apply/execute round trips and tiny load-balanced applies alternate between them, so a load
 * swing on a shared machine hits both alike. Prints median wall times and CPU per unit per process
 * (/proc for the controller and engines; the client figure is this whole process, both clients).
 *
 *   node bench/ab.mjs BEFORE_CHECKOUT AFTER_CHECKOUT [blocks=8] [roundTripsPerBlock=100] [tinyPerBlock=2000] [apply,execute,tiny,lbmap,dmap,dmapstr]
 *
 * lbmap is a load-balanced map of tinyPerBlock numbers, chunkSize 1 (x => x * x).
 *
 * dmap is the bench's DirectView map (x => x * x over 200,000 numbers on both engines, roundTripsPerBlock/10
 * maps a block); dmapstr the same over 200,000 short strings (s => s + "!").
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
const [beforeDir, afterDir, ...rest] = process.argv.slice(2);
if (!beforeDir || !afterDir) throw new Error("usage: node bench/ab.mjs BEFORE_CHECKOUT AFTER_CHECKOUT [blocks] [perBlock] [tinyPerBlock] [workloads]");
const load = (dir) => import(pathToFileURL(resolve(dir, "client/dist/index.js")).href);
const sides = { base: await load(beforeDir), wire: await load(afterDir) };
const cpuOf = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10000; }; // µs
const blocks = Number(rest[0] ?? 8), per = Number(rest[1] ?? 100), tiny = Number(rest[2] ?? 2000);
const what = (rest[3] ?? "apply,execute,tiny").split(",");
const nothing = () => null; const identity = (x) => x; const square = (x) => x * x; const bang = (s) => s + "!";
const numbers = Array.from({ length: 200_000 }, (_, i) => i);
const strings = numbers.map((i) => `item-${i}`);
const maps = Math.max(1, Math.round(per / 10));
const s = {};
for (const [name, mod] of Object.entries(sides)) {
  process.env.TSPARALLEL_DIR = mkdtempSync(join(tmpdir(), `ab-${name}-`));
  const cluster = await mod.Cluster.start({ n: 2, profile: "ab", timeout: 60_000 });
  const rc = await cluster.connect();
  await rc.waitForEngines?.(2);
  const snap = await rc.status();
  // engine0 is the one the round trips go to (rc.ids[0]).
  const engines = [...snap.engines].sort((a, b) => (a.id === rc.ids[0] ? -1 : b.id === rc.ids[0] ? 1 : 0)).map((e) => e.pid);
  s[name] = { cluster, rc, one: rc.directView(rc.ids[0]), all: rc.directView(rc.ids.slice(0, 2)), lv: rc.loadBalancedView(), pids: { controller: cluster.controller.pid, engine0: engines[0], engine1: engines[1] }, res: {} };
  for (let i = 0; i < 200; i++) await s[name].one.apply(nothing);
  await Promise.all(Array.from({ length: 1000 }, (_, i) => s[name].lv.apply(identity, i)));
  if (what.includes("lbmap")) await s[name].lv.map(square, numbers.slice(0, 1000), { chunkSize: 1 });
  if (what.includes("dmap")) for (let i = 0; i < 3; i++) await s[name].all.map(square, numbers);
  if (what.includes("dmapstr")) for (let i = 0; i < 3; i++) await s[name].all.map(bang, strings);
}
const med = (a) => { const b = [...a].sort((x, y) => x - y); return b[Math.floor(b.length / 2)]; };
for (let b = 0; b < blocks; b++) {
  for (const name of b % 2 ? ["wire", "base"] : ["base", "wire"]) {
    const x = s[name];
    for (const w of what) {
      const r = (x.res[w] ??= { wall: [], cpu: { client: 0, controller: 0, engine0: 0, engine1: 0 }, n: 0 });
      const c0 = Object.fromEntries(Object.entries(x.pids).map(([k, p]) => [k, cpuOf(p)])); const cc = process.cpuUsage();
      if (w === "tiny") {
        const t = performance.now();
        await Promise.all(Array.from({ length: tiny }, (_, i) => x.lv.apply(identity, i)));
        r.wall.push((performance.now() - t) / tiny * 1000); r.n += tiny;
      } else if (w === "lbmap") {
        const t = performance.now();
        const out = await x.lv.map(square, numbers.slice(0, tiny), { chunkSize: 1 });
        r.wall.push((performance.now() - t) / tiny * 1000); r.n += tiny;
        if (out.length !== tiny || out[tiny - 1] !== (tiny - 1) ** 2) throw new Error(`${name}: lbmap returned wrong results`);
      } else if (w === "dmap" || w === "dmapstr") {
        const [fn, items] = w === "dmap" ? [square, numbers] : [bang, strings];
        for (let i = 0; i < maps; i++) {
          const t = performance.now();
          const out = await x.all.map(fn, items);
          r.wall.push((performance.now() - t) * 1000);
          if (out.length !== items.length || out[1234] !== fn(items[1234])) throw new Error(`${name}: ${w} returned wrong results`);
        }
        r.n += maps;
      } else {
        for (let i = 0; i < per; i++) {
          const t = performance.now();
          await (w === "apply" ? x.one.apply(nothing) : x.one.execute("const a = 5; let b = a * 2"));
          r.wall.push((performance.now() - t) * 1000);
        }
        r.n += per;
      }
      const cu = process.cpuUsage(cc); r.cpu.client += cu.user + cu.system;
      for (const [k, p] of Object.entries(x.pids)) r.cpu[k] += cpuOf(p) - c0[k];
    }
  }
}
const loadavg = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(`load ${loadavg}; ${blocks} alternating blocks; round trips: ${per}/block, tiny: ${tiny}/block, maps: ${maps}/block; wall µs median (per task for tiny and lbmap, per map for dmap); cpu µs per unit`);
for (const w of what) for (const name of ["base", "wire"]) {
  const label = name === "base" ? "before" : "after ";
  const r = s[name].res[w]; const c = r.cpu; const all = c.client + c.controller + c.engine0 + c.engine1;
  const f = (v) => String(Math.round(v / r.n)).padStart(5);
  console.log(`${w.padEnd(8)} ${label}  wall ${med(r.wall).toFixed(1).padStart(7)}  cpu client ${f(c.client)} controller ${f(c.controller)} engine0 ${f(c.engine0)} engine1 ${f(c.engine1)} all ${f(all)}`);
}
for (const x of Object.values(s)) { await x.rc.close?.(); await x.cluster.stop(); }
process.exit(0);
