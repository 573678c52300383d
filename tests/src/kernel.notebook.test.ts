import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { privateRoot } from "./support/cluster-fixture.js";
import { PROGRESS_MIME } from "./support/kernel-client.js";
import { installedKernel, runPython, type JupyterPrefix } from "./support/kernel-env.js";
import { repoRoot } from "./support/paths.js";

interface Output {
  output_type: string;
  name?: string;
  text?: string;
  data?: Record<string, string | string[]>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
}

let jupyter: JupyterPrefix;
let work: string;
before(async () => {
  privateRoot();
  jupyter = await installedKernel();
  work = mkdtempSync(join(tmpdir(), "tsp-nb-"));
});
after(() => {
  jupyter.cleanup();
  rmSync(work, { recursive: true, force: true });
});

test("nbclient runs examples/quickstart.ipynb end to end, and its outputs are the expected ones", { timeout: 600_000 }, async () => {
  const executed = join(work, "quickstart.out.ipynb");
  const { code, output } = await runPython(["run_notebook.py", join(repoRoot, "examples/quickstart.ipynb"), executed], { env: { ...jupyter.env, TSPARALLEL_DIR: process.env.TSPARALLEL_DIR } });
  assert.equal(code, 0, output);
  // nbformat stores multi-line sources (and texts) as lists of lines.
  const joined = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join("") : (value ?? ""));
  const cells = (JSON.parse(readFileSync(executed, "utf8")) as { cells: Cell[] }).cells
    .filter((c) => c.cell_type === "code")
    .map((c) => ({ source: joined(c.source), outputs: (c.outputs ?? []).map((o) => ({ ...o, text: joined(o.text), ...(o.traceback ? { traceback: o.traceback } : {}) })) }));
  const cell = (start: string): Output[] => {
    const found = cells.find((c) => c.source.startsWith(start));
    assert.ok(found, `a cell starting with ${start}`);
    return found.outputs ?? [];
  };
  const text = (outputs: Output[]) => outputs.filter((o) => o.output_type === "stream" && o.name === "stdout").map((o) => o.text).join("");
  // Results only: a %px progress bar (shown when engines take over 2 s, on a loaded machine) and the
  // progress of an await that took over a second are left out.
  const plain = (outputs: Output[]) =>
    outputs
      .filter((o) => o.data && o.data[PROGRESS_MIME] === undefined)
      .map((o) => joined(o.data!["text/plain"]).replace(/^Out\[(\d+):\d+\]/, "Out[$1]"))
      .filter((text) => !text.startsWith("%px: ["));

  assert.match(text(cell("%tspcluster start")), /Started a cluster with 2 engines/);
  assert.deepEqual(plain(cell('import { Client, ref }')), ["[ 10, 10 ]"]);
  assert.deepEqual(plain(cell("%px b + 1")), ["Out[0]: 11", "Out[1]: 11"]);
  const targeted = cell("%%px --targets 0");
  assert.equal(text(targeted), "[stdout:0] \nb on engine 0 is now 100\n");
  assert.deepEqual(plain(targeted), ["Out[0]: 100"]);
  const autopx = cells.filter((c) => c.source === "%autopx").map((c) => text(c.outputs ?? []));
  assert.deepEqual(autopx, ["%autopx enabled\n", "%autopx disabled\n"]);
  assert.deepEqual(plain(cell("const squared")), ["Out[0]: 10000", "Out[1]: 100"]);
  assert.deepEqual(plain(cell("await dv.push")), ["[ 4, 4 ]"]);
  assert.deepEqual(plain(cell('await dv.pull<number>("squared")')), ["[ 10000, 100 ]"]);
  assert.deepEqual(plain(cell("await dv.map")), ["[ 11, 21, 31, 41 ]"]);
  assert.deepEqual(plain(cell("const lv")), ["[ 1, 4, 9, 16, 25, 36 ]"]);
  assert.deepEqual(plain(cell("await dv.scatter")), ["[ 1, 2, 3, 4, 5, 6 ]"]);
  const failing = cell("%%px\nif (flaky)");
  assert.deepEqual(plain(failing), ["Out[0]: 'fine'"]);
  const error = failing.find((o) => o.output_type === "error")!;
  assert.equal(error.ename, "CompositeError");
  assert.match(error.evalue!, /1 of 2 engines failed/);
  assert.match(error.traceback!.join("\n"), /\[1:execute\] .*RangeError.*engine-side failure/);
  assert.match(text(cell("%tspcluster stop")), /Stopped the cluster/);
});

test("nbclient runs examples/engines-as-notebooks.ipynb: a notebook function with what it uses in lv.map, %%px --stream, display on engines, ar.timeline()", { timeout: 600_000 }, async () => {
  const executed = join(work, "engines.out.ipynb");
  const { code, output } = await runPython(["run_notebook.py", join(repoRoot, "examples/engines-as-notebooks.ipynb"), executed], { env: { ...jupyter.env, TSPARALLEL_DIR: process.env.TSPARALLEL_DIR } });
  assert.equal(code, 0, output);
  const joined = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join("") : (value ?? ""));
  const cells = (JSON.parse(readFileSync(executed, "utf8")) as { cells: Cell[] }).cells.filter((c) => c.cell_type === "code");
  const cell = (start: string): Output[] => {
    const found = cells.find((c) => joined(c.source).startsWith(start));
    assert.ok(found, `a cell starting with ${start}`);
    return found.outputs ?? [];
  };
  const results = (outputs: Output[]) => outputs.filter((o) => o.data && !joined(o.data["text/plain"]).startsWith("%px: ["));
  assert.deepEqual(results(cell('import { Client } from "tsparallel"')).map((o) => joined(o.data!["text/plain"])), ["[ 4, 7, 10 ]"]);
  const streamed = cell("%%px --stream").filter((o) => o.output_type === "stream").map((o) => joined(o.text)).join("");
  assert.match(streamed, /\[stdout:0\][\s\S]*step 2/);
  assert.match(streamed, /\[stdout:1\][\s\S]*step 2/);
  const html = results(cell("%px display.html")).filter((o) => o.data!["text/html"] !== undefined).map((o) => joined(o.data!["text/html"]));
  assert.deepEqual(html, ["<b>drawn on an engine</b>", "<b>drawn on an engine</b>"]);
  const chart = results(cell("mapped.timeline()"))[0]!.data as unknown as Record<string, { data: { values: unknown[] } }>;
  assert.equal(chart["application/vnd.vegalite.v5+json"]!.data.values.length, 3);
});
