import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { installedKernel, runPython, type JupyterPrefix } from "./support/kernel-env.js";

let jupyter: JupyterPrefix;
before(async () => (jupyter = await installedKernel()));
after(() => jupyter.cleanup());

test("jupyter_kernel_test: every test of the suite runs against the kernel and passes", { timeout: 600_000 }, async () => {
  const { code, output } = await runPython(["-m", "unittest", "-v", "test_kernel_conformance"], { env: jupyter.env });
  assert.equal(code, 0, output);
  const ran = /Ran (\d+) tests?/.exec(output);
  assert.ok(ran, output);
  // The suite has 12 tests; each is given samples, so none may be skipped.
  assert.equal(Number(ran[1]), 12, output);
  assert.doesNotMatch(output, /skipped/, output);
  assert.match(output, /^OK$/m, output);
});
