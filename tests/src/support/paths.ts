import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root, from tests/dist/support/. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const bins = {
  controller: join(repoRoot, "controller/bin/tspcontroller.js"),
  engine: join(repoRoot, "engines/bin/tspengine.js"),
  cluster: join(repoRoot, "client/bin/tspcluster.js"),
};

/** A private TSPARALLEL_DIR for one test file, removed by the returned function. */
export function tempProfileRoot(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "tsp-test-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
