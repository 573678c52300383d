/**
 * `npm run bench -- --fanout [--fanout-engines 64,128,256]`: do-on-all calls at growing engine counts
 * (ipyparallel's broadcast scheduler exists for exactly this). For each count: time until every engine
 * registered, then the median of repeated `dv.execute`, `dv.apply`, `dv.push` and `dv.pull` to all
 * engines (a DirectView on all engines goes through the broadcast path), and the same through an
 * explicit per-engine list of targets, so the cost per engine can be compared across counts.
 * Memory per engine is the engines' summed PSS (shared pages split between the processes that map them)
 * divided by their count.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, type Client } from "tsparallel";

export interface FanoutRow {
  engines: number;
  secondsToRegister: number;
  /** Median ms per call, by call. */
  ms: Record<string, number>;
  /** Mean CPU ms per call of the client and of the controller, by call. */
  cpu: Record<string, [number, number]>;
  pssPerEngineMiB: number;
  controllerPssMiB: number;
}

const CALLS = ["execute", "apply", "push", "pull"] as const;
const MODES = ["per engine", "broadcast"] as const;

/** Proportional set size: shared pages (node's own code) counted once across the engines. */
function pssBytes(pid: number): number {
  try {
    const match = /^Pss:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** CPU time of a process so far (user + system), ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

interface Timing {
  wall: number;
  clientCpu: number;
  controllerCpu: number;
}

async function timeCall(repeats: number, controllerPid: number, call: () => PromiseLike<unknown>): Promise<Timing> {
  await call(); // warm-up: function sources reach every engine once
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  const controller0 = cpuMs(controllerPid);
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await call();
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  return { wall: median(times), clientCpu: (cpu.user + cpu.system) / 1000 / repeats, controllerCpu: (cpuMs(controllerPid) - controller0) / repeats };
}

async function measure(client: Client, controllerPid: number, repeats: number): Promise<{ ms: Record<string, number>; cpu: Record<string, [number, number]> }> {
  const n = client.ids.length;
  const check = (values: unknown[], what: string) => {
    if (values.length !== n) throw new Error(`${what} gave ${values.length} values for ${n} engines`);
  };
  const ms: Record<string, number> = {};
  const cpu: Record<string, [number, number]> = {};
  const run = async (name: string, call: () => PromiseLike<unknown>) => {
    const t = await timeCall(repeats, controllerPid, call);
    ms[name] = t.wall;
    cpu[name] = [t.clientCpu, t.controllerCpu];
  };
  // "per engine": one reply message per engine, as before the broadcast path; "broadcast": rc.broadcastView().
  for (const [mode, dv] of [["per engine", client.directView("all", { broadcast: false })], ["broadcast", client.broadcastView()]] as const) {
    await run(`execute ${mode}`, async () => check(await dv.execute("1 + 1"), "execute"));
    await run(`apply ${mode}`, async () => check(await dv.apply((x: number) => x + 1, 1), "apply"));
    await run(`push ${mode}`, async () => check(await dv.push({ fanoutValue: 42 }), "push"));
    await run(`pull ${mode}`, async () => check(await dv.pull("fanoutValue"), "pull"));
  }
  return { ms, cpu };
}

export async function fanoutAt(engines: number, repeats: number, log: (m: string) => void): Promise<FanoutRow> {
  const dir = mkdtempSync(join(tmpdir(), "tsp-fanout-"));
  process.env.TSPARALLEL_DIR = dir;
  const started = performance.now();
  let cluster: Cluster;
  try {
    cluster = await Cluster.start({ n: engines, profile: "fanout", timeout: Math.max(120_000, engines * 3_000) });
  } catch (err) {
    // The logs go with the directory: show what the processes that failed said first.
    for (const file of new Set(String((err as Error).message).match(/\/[^\s()]+\.log/g) ?? [])) {
      try {
        log(`${file}:\n${readFileSync(file, "utf8").split("\n").slice(-15).join("\n")}`);
      } catch {
        // gone already
      }
    }
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  try {
    const client = await cluster.connect();
    try {
      await client.waitForEngines(engines, { timeout: 120_000 });
      const secondsToRegister = (performance.now() - started) / 1000;
      log(`${engines} engines registered in ${secondsToRegister.toFixed(1)} s`);
      const { ms, cpu } = await measure(client, cluster.controller.pid, repeats);
      const pids = cluster.engines.map((e) => e.pid);
      const pssPerEngineMiB = pids.reduce((sum, pid) => sum + pssBytes(pid), 0) / pids.length / 2 ** 20;
      const controllerPssMiB = pssBytes(cluster.controller.pid) / 2 ** 20;
      return { engines, secondsToRegister, ms, cpu, pssPerEngineMiB, controllerPssMiB };
    } finally {
      client.close();
    }
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function renderFanout(rows: FanoutRow[]): string {
  const out = ["do-on-all calls to every engine: median wall ms per call [ms per engine]; mean CPU ms per call of client / controller"];
  out.push(`${"engines".padStart(7)}  ${"register".padStart(8)}  ${"call".padEnd(8)}  ${MODES.map((m) => `${m}: wall [per engine]  cpu client/ctrl`.padStart(48)).join("")}`);
  for (const r of rows) {
    CALLS.forEach((c, i) => {
      const cells = MODES.map((m) => {
        const k = `${c} ${m}`;
        const wall = r.ms[k];
        const [client, controller] = r.cpu[k] ?? [NaN, NaN];
        return wall === undefined ? "-".padStart(48) : `${wall.toFixed(1)} [${(wall / r.engines).toFixed(2)}]  ${client.toFixed(1)}/${controller.toFixed(1)}`.padStart(48);
      });
      const head = i === 0 ? `${String(r.engines).padStart(7)}  ${`${r.secondsToRegister.toFixed(1)} s`.padStart(8)}` : " ".repeat(17);
      out.push(`${head}  ${c.padEnd(8)}  ${cells.join("")}`);
    });
  }
  out.push(`memory per engine (PSS): ${rows.map((r) => `${r.engines}: ${r.pssPerEngineMiB.toFixed(0)} MiB`).join(", ")}; controller: ${rows.map((r) => `${r.engines}: ${r.controllerPssMiB.toFixed(0)} MiB`).join(", ")}`);
  return out.join("\n");
}

export async function runFanoutBench(options: { counts: number[]; quick: boolean; log: (side: string) => (m: string) => void }): Promise<number> {
  const rows: FanoutRow[] = [];
  for (const n of options.counts) {
    rows.push(await fanoutAt(n, options.quick ? 5 : 15, options.log(`fanout ${n}`)));
    console.log("\n" + renderFanout(rows));
  }
  return 0;
}
