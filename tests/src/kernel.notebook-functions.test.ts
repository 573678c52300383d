import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Cluster } from "tsparallel";
import { privateRoot } from "./support/cluster-fixture.js";
import { KernelClient, plainOutputs } from "./support/kernel-client.js";
import { repoRoot } from "./support/paths.js";

/**
 * Issue 11, gap 2: a notebook function sent to the engines takes along the notebook values,
 * notebook functions and imports it uses, with no push.
 */
describe("kernel: notebook functions travel with what they use", () => {
  const profile = "nbfunctions";
  let kernel: KernelClient;

  const value = async (code: string): Promise<string | undefined> => {
    const { reply, outputs } = await kernel.execute(code);
    assert.equal(reply.content.status, "ok", JSON.stringify(reply.content));
    return plainOutputs(outputs).at(-1);
  };

  before(async () => {
    // The tests' folder: lodash (a CommonJS package) is a dev dependency of the tests, found from there by the kernel and its engines.
    kernel = await KernelClient.start({ cwd: join(repoRoot, "tests"), env: { TSPARALLEL_DIR: privateRoot() } });
    const started = await kernel.execute(`%tspcluster start -n 2 --profile ${profile}`);
    assert.equal(started.reply.content.status, "ok", JSON.stringify(started.reply.content));
    await value(`import { Client, ref } from "tsparallel";\nconst rc = Client.active!;\nconst lv = rc.loadBalancedView();\nconst dv = rc.directView();`);
  });
  after(async () => {
    await kernel.close();
    try {
      await Cluster.fromProfile(profile).stop();
    } catch {
      // Already stopped with the kernel.
    }
  });

  test("a function using a notebook constant maps with no push", async () => {
    assert.equal(await value("const factor = 3; function scale(x: number) { return x * factor }\nawait lv.map(scale, [1, 2, 3])"), "[ 3, 6, 9 ]");
    // The value at the time of sending, as a later cell set it.
    assert.equal(await value("let rate = 2; const rated = (x: number) => x * rate; rate = 5; await dv.apply(rated, 2)"), "[ 10, 10 ]");
  });

  test("a function calling other notebook functions takes them along", async () => {
    await value("let offset = 1;\nfunction double(x: number) { return 2 * x }\nfunction quad(x: number) { return double(double(x)) + offset }");
    assert.equal(await value("await lv.map(quad, [1, 2])"), "[ 5, 9 ]");
    assert.equal(await value("offset = 10; await lv.map((x: number) => quad(x) - 1, [1, 2])"), "[ 13, 17 ]");
    assert.equal(await value("const tools = { inc: (x: number) => x + offset }; await lv.map((x: number) => tools.inc(x), [1])"), "[ 11 ]");
  });

  test("imports a function uses are imported on the engine", async () => {
    await value('import _ from "lodash"');
    assert.equal(await value("await lv.map((x: number) => _.add(x, 1), [1, 2])"), "[ 2, 3 ]");
    assert.equal(await value('import { range as span } from "lodash"; import * as L from "lodash"; await dv.apply(() => L.sum(span(4)))'), "[ 6, 6 ]");
  });

  test("a name that cannot travel is named in a clear error before anything is sent", async () => {
    const { reply } = await kernel.execute('import { Socket } from "node:net"; const sock = new Socket(); const sent = (x: number) => (sock.destroyed ? x : -x); lv.map(sent, [1])');
    assert.equal(reply.content.status, "error");
    assert.equal(reply.content.ename, "FunctionSerializationError");
    assert.match(String(reply.content.evalue), /'sock'.*a Socket.*cannot travel/);
  });

  test("ar.timeline() draws an AsyncResult's tasks per engine as a Vega-Lite chart; display.vegaLite shows a spec", async () => {
    const { reply, outputs } = await kernel.execute("const timed = lv.map((x: number) => x * 2, [1, 2, 3, 4]); await timed; timed.timeline()");
    assert.equal(reply.content.status, "ok", JSON.stringify(reply.content));
    const result = outputs.find((m) => m.header.msg_type === "execute_result")!;
    const data = result.content.data as Record<string, unknown>;
    const spec = data["application/vnd.vegalite.v5+json"] as { mark: { type: string }; data: { values: { engine: string; start: number; end: number; status: string }[] } };
    assert.equal(spec.mark.type, "bar");
    assert.equal(spec.data.values.length, 4);
    for (const task of spec.data.values) {
      assert.match(task.engine, /^engine \d+$/);
      assert.ok(task.start >= 0 && task.end >= task.start, JSON.stringify(task));
      assert.equal(task.status, "ok");
    }
    assert.match(String(data["text/plain"]), /^<timeline: 4 tasks on \d engines over \d+ ms>$/);
    const shown = await kernel.execute('display.vegaLite({ title: "points", mark: "point", data: { values: [{ a: 1 }] } }); undefined');
    const display = shown.outputs.find((m) => m.header.msg_type === "display_data")!;
    assert.deepEqual((display.content.data as Record<string, unknown>)["application/vnd.vegalite.v5+json"], { title: "points", mark: "point", data: { values: [{ a: 1 }] } });
  });

  test("push and ref() keep working", async () => {
    await value("await dv.push({ pushed: 4, xs: [1, 2, 3] })");
    assert.equal(await value("declare const pushed: number; await dv.apply((xs: number[]) => xs.length * pushed + factor, ref<number[]>('xs'))"), "[ 15, 15 ]");
  });
});

describe("kernel: errors from the engines", () => {
  const profile = "remoteerrors";
  let kernel: KernelClient;
  before(async () => {
    kernel = await KernelClient.start({ env: { TSPARALLEL_DIR: privateRoot() } });
    const started = await kernel.execute(`%tspcluster start -n 2 --profile ${profile}`);
    assert.equal(started.reply.content.status, "ok", JSON.stringify(started.reply.content));
  });
  after(async () => {
    await kernel.close();
    try {
      await Cluster.fromProfile(profile).stop();
    } catch {
      // Already stopped with the kernel.
    }
  });

  test("a failing load-balanced map shows the engine's traceback, not the client library's stack", async () => {
    const { reply } = await kernel.execute(
      'import { Client } from "tsparallel";\nconst checked = (x: number) => { if (x > 1) throw new RangeError(`too big: ${x}`); return x };\nawait Client.active!.loadBalancedView().map(checked, [1, 2])',
    );
    assert.equal(reply.content.status, "error");
    const tb = (reply.content.traceback as string[]).map((line) => line.replace(/\u001b\[\d+m/g, ""));
    const remote = tb.findIndex((line) => /^\[engine \d+\] RangeError: too big: 2$/.test(line));
    assert.ok(remote >= 0, tb.join("\n"));
    // The engine's frame: the shipped function, at the cell's TypeScript line and column, with the line and a marker.
    const line2 = "const checked = (x: number) => { if (x > 1) throw new RangeError(`too big: ${x}`); return x };";
    const column = line2.indexOf("new RangeError") + 1;
    assert.match(tb[remote + 1] ?? "", new RegExp(`^\\s+at checked \\(cell\\[\\d+\\]:2:${column}\\)$`), tb.join("\n"));
    assert.equal(tb[remote + 2], `  2 | ${line2}`, tb.join("\n"));
    assert.equal(tb[remote + 3], `    | ${" ".repeat(column - 1)}^`, tb.join("\n"));
    assert.ok(!tb.some((line) => /client\/dist|node:internal/.test(line)), tb.join("\n"));
  });

  test("a notebook function that fails on an engine names its cell and TypeScript line (type-only lines counted), with the line marked", async () => {
    const lines = [
      "interface Limits { most: number }",
      "const limits: Limits = { most: 1 };",
      "function overLimit(x: number): number {",
      "  if (x > limits.most) throw new RangeError(`over: ${x}`);",
      "  return x;",
      "}",
      "await Client.active!.loadBalancedView().map(overLimit, [1, 2])",
    ];
    const { reply } = await kernel.execute(lines.join("\n"));
    assert.equal(reply.content.status, "error");
    const tb = (reply.content.traceback as string[]).map((line) => line.replace(/\u001b\[\d+m/g, ""));
    const remote = tb.findIndex((line) => /^\[engine \d+\] RangeError: over: 2$/.test(line));
    assert.ok(remote >= 0, tb.join("\n"));
    const column = lines[3]!.indexOf("new RangeError") + 1;
    assert.match(tb[remote + 1] ?? "", new RegExp(`^\\s+at overLimit \\(cell\\[\\d+\\]:4:${column}\\)$`), tb.join("\n"));
    assert.equal(tb[remote + 2], `  4 | ${lines[3]}`, tb.join("\n"));
    assert.equal(tb[remote + 3], `    | ${" ".repeat(column - 1)}^`, tb.join("\n"));
  });

  test("a notebook function taken along by another names its own cell line when it fails on an engine", async () => {
    const lines = [
      "const ceiling: number = 10;",
      "function inner(x: number): number {",
      "  if (x > ceiling) throw new RangeError(`inner: ${x}`);",
      "  return x;",
      "}",
      "const outer = (x: number): number => inner(x * 20);",
      "await Client.active!.loadBalancedView().map(outer, [1])",
    ];
    const { reply } = await kernel.execute(lines.join("\n"));
    assert.equal(reply.content.status, "error");
    const tb = (reply.content.traceback as string[]).map((line) => line.replace(/\u001b\[\d+m/g, ""));
    const remote = tb.findIndex((line) => /^\[engine \d+\] RangeError: inner: 20$/.test(line));
    assert.ok(remote >= 0, tb.join("\n"));
    const throwAt = lines[2]!.indexOf("new RangeError") + 1;
    assert.match(tb[remote + 1] ?? "", new RegExp(`^\\s+at inner \\(cell\\[\\d+\\]:3:${throwAt}\\)$`), tb.join("\n"));
    assert.equal(tb[remote + 2], `  3 | ${lines[2]}`, tb.join("\n"));
    const atOuter = tb.findIndex((line) => /^\s+at outer \(cell\[\d+\]:6:\d+\)$/.test(line));
    assert.ok(atOuter > remote + 1, tb.join("\n"));
    assert.equal(tb[atOuter + 1], `  6 | ${lines[5]}`, tb.join("\n"));
  });

  test("%px code with a syntax error is refused in the kernel, before any engine sees it", async () => {
    const count = async () => Number(plainOutputs((await kernel.execute("(await Client.active!.controllerHistory()).length")).outputs).at(-1));
    const before = await count();
    const { reply } = await kernel.execute("%px let broken = (1 +");
    assert.equal(reply.content.status, "error");
    assert.equal(reply.content.ename, "SyntaxError");
    assert.match(String(reply.content.evalue), /expected/i);
    const tb = (reply.content.traceback as string[]).join("\n");
    assert.match(tb, /let broken = \(1 \+/);
    // Nothing was sent: the controller saw no new task.
    assert.equal(await count(), before);
  });
});
