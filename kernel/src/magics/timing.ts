import type { CellOutcome } from "../execution/outcome.js";
import type { TypeScriptCells } from "../execution/typescript-cells.js";
import { parseFlags } from "./arguments.js";
import { UsageError } from "./usage-error.js";

/** IPython's way of printing a duration: three significant digits in ns, µs, ms or s. */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return "0 ns";
  const units: [number, string][] = [[1, "s"], [1e-3, "ms"], [1e-6, "µs"], [1e-9, "ns"]];
  for (const [scale, unit] of units) {
    if (seconds >= scale || unit === "ns") return `${(seconds / scale).toPrecision(3)} ${unit}`;
  }
  return `${seconds} s`;
}

/** `%time CODE`: runs the code once, then prints its CPU and wall-clock time, as IPython does. */
export async function timeMagic(run: () => Promise<CellOutcome>, say: (text: string) => void): Promise<CellOutcome> {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const outcome = await run();
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  const user = used.user / 1e6;
  const system = used.system / 1e6;
  say(`CPU times: user ${formatDuration(user)}, sys: ${formatDuration(system)}, total: ${formatDuration(user + system)}\nWall time: ${formatDuration(wall)}\n`);
  return outcome;
}

interface TimeitFlags {
  loops: number;
  runs: number;
}

function positive(flag: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`%timeit: ${flag} needs a positive integer, got ${JSON.stringify(text)}`);
    return n;
  };
}

/** How long one run should take when the number of loops is chosen (IPython's 0.2 s). */
const TARGET_RUN_SECONDS = 0.2;
const DEFAULT_RUNS = 7;

/** Splits `%timeit -n 10 -r 3 code`: the flags come first, the rest of the line is the code. */
export function timeitArguments(line: string): { flags: Partial<TimeitFlags>; code: string } {
  const match = /^((?:\s*-[nr](?:\s+|=)\S+)*)\s*([\s\S]*)$/.exec(line)!;
  const { options } = parseFlags<TimeitFlags>(
    match[1]!,
    [
      { names: ["-n"], key: "loops", value: positive("-n"), metavar: "loops" },
      { names: ["-r"], key: "runs", value: positive("-r"), metavar: "runs" },
    ],
    "timeit",
  );
  return { flags: options, code: match[2]! };
}

/**
 * `%timeit CODE`: the code is compiled once, as the body of a function over the notebook scope,
 * then called in runs of many loops; prints the mean and standard deviation per loop.
 */
export async function timeitMagic(line: string, cells: TypeScriptCells, cellNumber: number, say: (text: string) => void): Promise<CellOutcome> {
  const { flags, code } = timeitArguments(line);
  if (!code.trim()) throw new UsageError("%timeit: no code to time (usage: %timeit [-n LOOPS] [-r RUNS] CODE)");
  const isAsync = /\bawait\b/.test(code);
  const compiled = await cells.run(`(${isAsync ? "async " : ""}() => {\n${code}\n})`, cellNumber);
  if (compiled.status === "error") return compiled;
  const body = compiled.value as () => unknown;
  const loop = async (n: number): Promise<number> => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const result = body();
      if (isAsync) await result;
    }
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  let loops = flags.loops ?? 0;
  if (!loops) {
    // As IPython: grow the loop count 1, 2, 5, 10, 20, 50... until one run takes 0.2 s.
    search: for (let scale = 1; scale <= 1e9; scale *= 10) {
      for (const k of [1, 2, 5]) {
        loops = k * scale;
        if ((await loop(loops)) >= TARGET_RUN_SECONDS) break search;
      }
    }
  }
  const runs = flags.runs ?? DEFAULT_RUNS;
  const perLoop: number[] = [];
  for (let r = 0; r < runs; r++) perLoop.push((await loop(loops)) / loops);
  const mean = perLoop.reduce((a, b) => a + b, 0) / runs;
  const std = Math.sqrt(perLoop.reduce((a, b) => a + (b - mean) ** 2, 0) / runs);
  const plural = (n: number, word: string) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
  say(`${formatDuration(mean)} ± ${formatDuration(std)} per loop (mean ± std. dev. of ${plural(runs, "run")}, ${plural(loops, "loop")} each)\n`);
  return { status: "ok", hasValue: false };
}
