import { cpuSeconds } from "./proc.js";

/**
 * CPU time each process of our cluster spent on one workload, next to its wall time. Cheap enough
 * to run always (it reads /proc before and after), and it names the bottleneck without a profiler:
 * a process whose CPU time nears the wall time is the one the workload waits for.
 */
export interface CpuShare {
  workload: string;
  /** What the workload did (round trips, tasks, transfers), to express CPU per unit. */
  units: number;
  unitName: string;
  wallSeconds: number;
  client: number;
  controller: number;
  engines: number[];
}

export interface ProcessIds {
  controller: number;
  engines: number[];
}

function snapshot(pids: ProcessIds): { client: number; controller: number; engines: number[] } {
  const usage = process.cpuUsage();
  return {
    client: (usage.user + usage.system) / 1e6,
    controller: cpuSeconds(pids.controller),
    engines: pids.engines.map(cpuSeconds),
  };
}

export class CpuAccounting {
  readonly shares: CpuShare[] = [];

  constructor(private readonly pids: ProcessIds) {}

  async measure<T>(workload: string, units: number, unitName: string, work: () => Promise<T>): Promise<T> {
    const before = snapshot(this.pids);
    const start = performance.now();
    const result = await work();
    const wallSeconds = (performance.now() - start) / 1000;
    const after = snapshot(this.pids);
    this.shares.push({
      workload,
      units,
      unitName,
      wallSeconds,
      client: after.client - before.client,
      controller: after.controller - before.controller,
      engines: after.engines.map((cpu, i) => cpu - before.engines[i]!),
    });
    return result;
  }
}

/**
 * Per workload: each process's CPU time per unit of work. CPU per unit does not depend on how busy
 * the machine is, unlike wall time, so it is the figure to compare between runs and to optimise.
 */
export function renderCpuShares(shares: readonly CpuShare[]): string {
  const us = (cpu: number, s: CpuShare) => {
    const perUnit = (cpu * 1e6) / s.units;
    return (perUnit >= 1e4 ? `${(perUnit / 1000).toFixed(0)} ms` : `${perUnit.toFixed(0)} µs`).padStart(7);
  };
  const lines = ["our CPU time per unit of work, by process (/proc, 10 ms resolution; wall is the whole measured loop):"];
  for (const s of shares) {
    const total = s.client + s.controller + s.engines.reduce((a, b) => a + b, 0);
    const engines = s.engines.map((e, i) => `engine${i} ${us(e, s)}`).join("  ");
    lines.push(
      `  ${s.workload.padEnd(8)} per ${s.unitName.padEnd(10)} client ${us(s.client, s)}  controller ${us(s.controller, s)}  ${engines}  all ${us(total, s)}   (${s.units} in ${s.wallSeconds.toFixed(2)} s wall)`,
    );
  }
  return lines.join("\n");
}
