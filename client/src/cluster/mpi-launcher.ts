import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { CONNECTION_INFO_ENV, logDir } from "@tsparallel/protocol";
import type { EngineLaunchOptions, EngineLauncher, LaunchedProcess } from "./launcher.js";
import { REMOTE_ENGINE_NODE_FLAGS, engineScript, runCommand, spawnTool } from "./launch-tools.js";
import { identifySpawned } from "./process-identity.js";

export interface MpiEngineLauncherOptions {
  /** The MPI launcher (default "mpiexec"). */
  mpiexec?: string;
  /** Before `-n` (e.g. ["--hostfile", "hosts", "--oversubscribe"]). */
  mpiArgs?: string[];
  /** Node and tspengine.js where the ranks run (default: this process's node and this installation's script). */
  node?: string;
  engineScript?: string;
}

/**
 * n engines as the ranks of one `mpiexec`: each finds its rank in the environment (OMPI_COMM_WORLD_RANK,
 * PMI_RANK...) and reports it as `rank` in its metadata (`tspengine.rank` on the engine). The connection
 * info travels in the environment; Open MPI forwards it to ranks on other hosts only when told (`-x`),
 * MPICH's Hydra forwards the whole environment by default.
 */
export class MpiEngineLauncher implements EngineLauncher {
  readonly #options: MpiEngineLauncherOptions;

  constructor(options: MpiEngineLauncherOptions = {}) {
    this.#options = options;
  }

  async start(count: number, options: EngineLaunchOptions): Promise<LaunchedProcess[]> {
    const mpiexec = this.#options.mpiexec ?? "mpiexec";
    const version = await runCommand(mpiexec, ["--version"], { timeoutMs: 15_000 });
    if (version.code === 127) throw new Error(`${mpiexec} was not found: install Open MPI (Debian: openmpi-bin) or MPICH, or name it with --mpiexec`);
    const openMpi = /open mpi|open-mpi|openrte/i.test(version.stdout + version.stderr);
    const logFile = join(logDir(options.profile), `engines-${Date.now()}-${options.firstIndex}-mpi.log`);
    const tags = ["launcher=mpi", `host=${hostname()}`, ...(options.launchId ? [`launch=${options.launchId}`] : [])].flatMap((t) => ["--tag", t]);
    const args = [
      ...(this.#options.mpiArgs ?? []),
      "-n", String(count),
      ...(openMpi ? ["-x", CONNECTION_INFO_ENV, "-x", "MALLOC_ARENA_MAX"] : []),
      this.#options.node ?? process.execPath, ...REMOTE_ENGINE_NODE_FLAGS, this.#options.engineScript ?? engineScript(),
      "--connection-info", "env", ...tags, ...(options.args ?? []),
    ];
    const env = { ...process.env, MALLOC_ARENA_MAX: "2", [CONNECTION_INFO_ENV]: readFileSync(options.engineFile, "utf8").trim() };
    const child = spawnTool(mpiexec, args, { logFile, detached: options.detached, env });
    // mpiexec refusing its arguments (as root without --allow-run-as-root, say) exits at once: the cluster
    // reports that with this log when it waits for the engines to register.
    // Its start time and command line let `stop` signal a lingering mpiexec, and addEngines see it exit early.
    const identity = child.pid === undefined ? undefined : identifySpawned(child.pid);
    return [{ pid: child.pid!, host: hostname(), logFile, launcher: "mpi", engines: count, ...(identity && { startTime: identity.startTime, cmdline: identity.cmdline }) }];
  }
}
