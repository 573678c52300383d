import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { kernelBin } from "./kernel-client.js";
import { repoRoot } from "./paths.js";

const run = promisify(execFile);
/** Debian's Python, which has jupyter_client, jupyter_kernel_test and nbclient (a pyenv python on PATH may not). */
export const debianPython = "/usr/bin/python3";
export const pythonDir = join(repoRoot, "tests/python");

export interface JupyterPrefix {
  /** Holds share/jupyter/kernels/tsparallel. */
  prefix: string;
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

/** A kernelspec installed by `tsparallel install --prefix` into a temp prefix, and the environment that finds it. */
export async function installedKernel(): Promise<JupyterPrefix> {
  const prefix = mkdtempSync(join(tmpdir(), "tsp-jupyter-"));
  await run(process.execPath, [kernelBin, "install", "--prefix", prefix]);
  const env = {
    ...process.env,
    JUPYTER_PATH: join(prefix, "share", "jupyter"),
    // A private runtime dir: connection files of these kernels stay out of the user's.
    JUPYTER_RUNTIME_DIR: join(prefix, "runtime"),
    PYTHONDONTWRITEBYTECODE: "1",
  };
  return { prefix, env, cleanup: () => rmSync(prefix, { recursive: true, force: true }) };
}

/** Runs Debian's python; resolves with its exit code and output (never rejects on a non-zero exit). */
export async function runPython(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(debianPython, args, { cwd: options.cwd ?? pythonDir, env: options.env, timeout: options.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, output: (e.stdout ?? "") + (e.stderr ?? "") };
  }
}
