/**
 * Finding our processes by their command line in /proc, for launcher tests that must prove what runs
 * (and that nothing is left behind) when the processes were started by mpiexec, sbatch or ssh, not by us.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./paths.js";

export interface ProcessArgs {
  pid: number;
  args: string[];
}

/** Every process's argv; a process that exits while we read is skipped. */
export function processArgs(): ProcessArgs[] {
  const found: ProcessArgs[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      found.push({ pid: Number(name), args: readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0") });
    } catch {
      continue;
    }
  }
  return found;
}

/** Running processes of our script `<program>.js` that belong to the profile (`--profile P` or a file in its directory). */
export function processesOfProfile(program: "tspcontroller" | "tspengine", profile: string, keep: (pid: number) => boolean = () => true): number[] {
  return processArgs()
    .filter(({ pid, args }) => {
      const at = args.indexOf("--profile");
      const ofProfile = (at >= 0 && args[at + 1] === profile) || args.some((a) => a.includes(`/profile_${profile}/`));
      return args.some((a) => a.endsWith(`/${program}.js`)) && ofProfile && keep(pid);
    })
    .map(({ pid }) => pid);
}

/** Engines of this checkout that a launcher of the given kind started (`launcher=<kind>` in their argv) and that still run, as "pid: command" lines. */
export function leftoverEngines(launcher: RegExp): string[] {
  const engine = join(repoRoot, "engines/bin/tspengine.js");
  return processArgs()
    .map(({ pid, args }) => ({ pid, cmd: args.join(" ") }))
    .filter(({ cmd }) => cmd.includes(engine) && launcher.test(cmd))
    .map(({ pid, cmd }) => `${pid}: ${cmd}`);
}
