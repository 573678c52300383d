import { execFileSync } from "node:child_process";
import { homedir, platform } from "node:os";
import { join } from "node:path";

export type Scope = { kind: "user" } | { kind: "sys-prefix" } | { kind: "prefix"; prefix: string };

/** Jupyter's per-user data directory, as jupyter_core computes it. */
export function userDataDir(): string {
  if (process.env.JUPYTER_DATA_DIR) return process.env.JUPYTER_DATA_DIR;
  if (platform() === "darwin") return join(homedir(), "Library", "Jupyter");
  if (platform() === "win32") return join(process.env.APPDATA ?? join(homedir(), "AppData", "Roaming"), "jupyter");
  return join(process.env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "jupyter");
}

/** The data directory of the Python environment Jupyter runs in (`sys.prefix`/share/jupyter). */
function sysPrefixDataDir(): string {
  const python = process.env.JUPYTER_PYTHON ?? "python3";
  try {
    const prefix = execFileSync(python, ["-c", "import sys; print(sys.prefix)"], { encoding: "utf8" }).trim();
    return join(prefix, "share", "jupyter");
  } catch (err) {
    throw new Error(`--sys-prefix needs Jupyter's Python to find its prefix (tried ${python}; set JUPYTER_PYTHON): ${(err as Error).message}`);
  }
}

export function dataDir(scope: Scope): string {
  switch (scope.kind) {
    case "user":
      return userDataDir();
    case "sys-prefix":
      return sysPrefixDataDir();
    case "prefix":
      return join(scope.prefix, "share", "jupyter");
  }
}
