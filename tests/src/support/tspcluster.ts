import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { privateRoot } from "./cluster-fixture.js";
import { bins, repoRoot } from "./paths.js";

const execFileP = promisify(execFile);

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `tspcluster ...args` to completion in the tests' private TSPARALLEL_DIR, with `env` (this
 * process's by default); a non-zero exit is an outcome, not an exception.
 */
export async function runTspcluster(env: NodeJS.ProcessEnv, args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [bins.cluster, ...args], { env: { ...env, TSPARALLEL_DIR: privateRoot() }, timeout: 90_000, cwd: repoRoot });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof failed.code !== "number") throw err;
    return { code: failed.code, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

export function tspcluster(...args: string[]): Promise<Outcome> {
  return runTspcluster(process.env, args);
}
