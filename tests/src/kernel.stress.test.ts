import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { installedKernel, runPython, type JupyterPrefix } from "./support/kernel-env.js";

let jupyter: JupyterPrefix;
before(async () => (jupyter = await installedKernel()));
after(() => jupyter.cleanup());

test("10,000 tiny cells through jupyter_client: every reply, every result and every idle status arrives", { timeout: 3_600_000 }, async () => {
  const { code, output } = await runPython(["stress_tiny_cells.py", "10000", "64"], { env: jupyter.env, timeoutMs: 3_600_000 });
  assert.equal(code, 0, output);
  const report = JSON.parse(output.trim().split("\n").at(-1)!) as Record<string, number>;
  assert.deepEqual({ ...report, seconds: 0 }, { cells: 10000, replies: 10000, idle: 10000, results: 10000, wrong: 0, seconds: 0 });
});
