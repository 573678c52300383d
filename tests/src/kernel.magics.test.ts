import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { sharedCluster } from "./support/cluster-fixture.js";
import { KernelClient, plainOutputs, streamText, type Executed } from "./support/kernel-client.js";

/**
 * Counterparts of ipyparallel's tests/test_magics.py (see tests/CONFORMANCE.md), run in a real
 * kernel whose active client is connected to a real two-engine cluster.
 */
describe("kernel: %px magics on a cluster", () => {
  // Engines log at info level whatever CI sets: the status comm test reads an engine's log lines.
  const cluster = sharedCluster({ n: 2, engineArgs: ["--log-level", "info"] });
  let kernel: KernelClient;

  const run = (code: string) => kernel.execute(code);
  const ok = async (code: string): Promise<Executed> => {
    const executed = await run(code);
    assert.equal(executed.reply.content.status, "ok", JSON.stringify(executed.reply.content));
    return executed;
  };
  const lines = (text: string) => text.split("\n").filter((line) => line !== "");
  const assertLines = (text: string, expected: (string | RegExp)[]) => {
    const got = lines(text);
    assert.equal(got.length, expected.length, text);
    expected.forEach((pattern, i) => assert.match(got[i]!, typeof pattern === "string" ? new RegExp(`^${pattern}$`) : pattern, text));
  };
  /** What each engine does in the output tests (ipyparallel's generate_output). */
  const GENERATE = "console.log('stdout'); console.log('stdout2'); console.error('stderr'); console.error('stderr2'); 'result'";

  before(async () => {
    kernel = await KernelClient.start();
    await ok(`import { Client, ref } from "tsparallel";\nconst rc = await Client.connect({ connectionFile: ${JSON.stringify(cluster().cluster.clientFile)} });\nawait rc.waitForEngines(2);`);
    // A slow first task would add a progress bar to the outputs compared below; its own test turns it on.
    await ok("%pxconfig --progress-after -1");
  });
  after(() => kernel.close());
  // Each test starts from the default %px configuration, whatever the one before did.
  afterEach(async () => {
    await run("%pxconfig --targets all --block --no-verbose --stream --group-outputs type --progress-after -1");
  });

  test("test_px_blocking: %px sets names on the engine, prints prefixed output, raises remote errors", async () => {
    await ok("%pxconfig --targets 1 --block --no-verbose");
    // TypeScript declares before it assigns: ipyparallel's `a=5` is `let a = 5` here.
    await ok("%px let a = 5");
    assert.deepEqual(plainOutputs((await ok("await rc.directView([1]).pull('a')")).outputs), ["[ 5 ]"]);
    await ok("%px a = 10");
    const { outputs } = await ok("%px console.log(a)");
    const stdout = streamText(outputs, "stdout");
    assert.match(stdout, /\[stdout:1\]/);
    assert.doesNotMatch(stdout, /\n\n/);
    assert.ok(stdout.trimEnd().endsWith("10"), stdout);
    const failed = await run("%px 1 / (null as any).x");
    assert.equal(failed.reply.content.status, "error");
    assert.equal(failed.reply.content.ename, "TypeError");
  });

  test("display.* on the engines lands in the cell that ran it, labelled per engine (issue 11 gap 5)", async () => {
    for (const code of ['%px display.html("<b>x</b>")', '%%px --no-stream\ndisplay.html("<b>x</b>")']) {
      const { outputs } = await ok(code);
      const displays = outputs.filter((m) => m.header.msg_type === "display_data" && (m.content.data as Record<string, unknown>)["text/html"] !== undefined);
      assert.deepEqual(
        displays.map((m) => [(m.content.data as Record<string, unknown>)["text/html"], (m.content.metadata as { engine: number }).engine]).sort(),
        [["<b>x</b>", 0], ["<b>x</b>", 1]],
        code,
      );
      const stdout = streamText(outputs, "stdout");
      assert.match(stdout, /\[output:0\]/);
      assert.match(stdout, /\[output:1\]/);
    }
  });

  test("test_cellpx_block_args: --block and --noblock say Parallel / Async parallel", async () => {
    for (const block of [true, false]) {
      await ok(`%pxconfig --verbose ${block ? "--block" : "--noblock"}`);
      assert.match(streamText((await ok("%%px\n1")).outputs, "stdout"), block ? /^Parallel/ : /^Async/);
      assert.match(streamText((await ok("%%px --block\n1")).outputs, "stdout"), /^Parallel/);
      assert.match(streamText((await ok("%%px --noblock\n1")).outputs, "stdout"), /^Async/);
    }
    await ok("%pxconfig --block --no-verbose");
  });

  test("test_cellpx_groupby_engine: each engine's streams, then its result", async () => {
    const { outputs } = await ok(`%%px --group-outputs=engine --no-stream\n${GENERATE}`);
    assertLines(streamText(outputs, "stdout"), [/\[stdout:0\]/, "stdout", "stdout2", /\[stdout:1\]/, "stdout", "stdout2"]);
    assertLines(streamText(outputs, "stderr"), [/\[stderr:0\]/, "stderr", "stderr2", /\[stderr:1\]/, "stderr", "stderr2"]);
    const results = plainOutputs(outputs);
    assert.equal(results.length, 2);
    assert.match(results[0]!, /^Out\[0:\d+\]: 'result'$/);
    assert.match(results[1]!, /^Out\[1:\d+\]: 'result'$/);
  });

  test("test_cellpx_groupby_order and _type: all stdout, then all stderr, then the results", async () => {
    for (const group of ["order", "type"]) {
      const { outputs } = await ok(`%%px --group-outputs=${group} --no-stream\n${GENERATE}`);
      assertLines(streamText(outputs, "stdout"), [/\[stdout:0\]/, "stdout", "stdout2", /\[stdout:1\]/, "stdout", "stdout2"]);
      assertLines(streamText(outputs, "stderr"), [/\[stderr:0\]/, "stderr", "stderr2", /\[stderr:1\]/, "stderr", "stderr2"]);
      const results = plainOutputs(outputs);
      assert.equal(results.length, 2);
      results.forEach((r) => assert.match(r, /^Out\[\d:\d+\]: 'result'$/));
    }
  });

  test("test_cellpx_stream: output streams live, prefixed, and nothing is lost or repeated", async () => {
    const { outputs } = await ok("%%px --stream\nconsole.log('stdout'); await new Promise((r) => setTimeout(r, 50)); console.log('stdout2'); console.error('stderr'); 'done'");
    const stdout = lines(streamText(outputs, "stdout"));
    assert.equal(stdout.filter((l) => l === "stdout").length, 2, stdout.join("\n"));
    assert.equal(stdout.filter((l) => l === "stdout2").length, 2, stdout.join("\n"));
    assert.ok(stdout.some((l) => /^\[stdout:0\]/.test(l)) && stdout.some((l) => /^\[stdout:1\]/.test(l)));
    assert.doesNotMatch(streamText(outputs, "stdout"), /\n\n/);
    assert.equal(lines(streamText(outputs, "stderr")).filter((l) => l === "stderr").length, 2);
    assert.equal(plainOutputs(outputs).length, 2);
  });

  test("%%px --stream shows the output of a synchronous loop while the loop runs: line 0 is published before line 2 is written", async () => {
    const { outputs } = await ok("%%px --stream --targets 0 --block\nfor (let i = 0; i < 3; i++) { console.log(i); const t = Date.now(); while (Date.now() - t < 1000) {} }");
    const chunks = outputs.filter((m) => m.header.msg_type === "stream" && m.content.name === "stdout").map((m) => String(m.content.text));
    const first = chunks.findIndex((text) => /^0$/m.test(text));
    assert.ok(first >= 0, JSON.stringify(chunks));
    assert.doesNotMatch(chunks[first]!, /^2$/m, `line 0 came out with line 2, only after the loop: ${JSON.stringify(chunks)}`);
    assert.deepEqual(lines(chunks.join("")).filter((l) => /^\d$/.test(l)), ["0", "1", "2"]);
  });

  test("test_px_nonblocking: --noblock gives an AsyncResult and no output; errors wait for %pxresult", async () => {
    await ok("%pxconfig --noblock --verbose --targets 1");
    await ok("%px let a = 5");
    const { outputs } = await ok("%px console.log(a)");
    assert.match(streamText(outputs, "stdout"), /Async/);
    assert.doesNotMatch(streamText(outputs, "stdout"), /\[stdout:/);
    assert.deepEqual(plainOutputs(outputs), ["<AsyncResult(%px): pending>"]);
    await ok("%px throw new RangeError('later')");
    const result = await run("%pxresult");
    assert.equal(result.reply.content.status, "error");
    assert.equal(result.reply.content.ename, "RangeError");
  });

  test("test_autopx_blocking: every cell runs on the engines until %autopx again", async () => {
    await ok("%pxconfig --targets 1");
    const enabled = await ok("%autopx");
    assert.equal(streamText(enabled.outputs, "stdout"), "%autopx enabled\n");
    let disabled: Executed | undefined;
    try {
      await ok("let a = 5, b = 12345, c = 0");
      await ok("b *= 2");
      assert.match(streamText((await ok("console.log(b)")).outputs, "stdout"), /24690/);
      assert.match(plainOutputs((await ok("b")).outputs).join("\n"), /^Out\[1:\d+\]: 24690$/);
      const failed = await run("if (c === 0) throw new RangeError('division by zero')");
      assert.equal(failed.reply.content.ename, "RangeError");
    } finally {
      disabled = await ok("%autopx");
    }
    assert.equal(streamText(disabled.outputs, "stdout"), "%autopx disabled\n");
    // Back to local TypeScript: `b` exists only on the engines.
    assert.equal((await run("b")).reply.content.ename, "TSError");
    assert.deepEqual(plainOutputs((await ok("await rc.directView(1).pull('b')")).outputs), ["24690"]);
  });

  test("test_result: %pxresult shows the last %px result again", async () => {
    await ok("await rc.directView(1).push({ a: 111, b: 222 })");
    await ok("%pxconfig --targets 1");
    for (const [name, value] of [["a", "111"], ["b", "222"]]) {
      await ok(`%px ${name}`);
      assert.match(plainOutputs((await ok("%pxresult")).outputs).join("\n"), new RegExp(value));
    }
  });

  test("test_pxconfig: --targets takes all, ids, and slices of the engine ids", async () => {
    await ok("%pxconfig --verbose");
    const targetsOf = async (spec: string) => {
      await ok(`%pxconfig -t ${spec}`);
      return /engine\(s\): (.*)$/m.exec(streamText((await ok("%px 1")).outputs, "stdout"))![1];
    };
    assert.equal(await targetsOf(":"), "[0, 1]");
    assert.equal(await targetsOf("::2"), "[0]");
    assert.equal(await targetsOf("1::2"), "[1]");
    assert.equal(await targetsOf("1"), "1");
    assert.equal(await targetsOf("all"), "all");
  });

  test("test_cellpx_targets and test_cellpx_block: per-cell flags do not change the defaults", async () => {
    await ok("%pxconfig --verbose --noblock --targets 0");
    for (const cell of ["1", "throw new Error('x')"]) {
      const { outputs } = await run(`%%px --targets all --block\n${cell}`);
      assert.match(streamText(outputs, "stdout"), /^Parallel execution on engine\(s\): all/);
    }
    assert.match(streamText((await ok("%px 1")).outputs, "stdout"), /^Async parallel execution on engine\(s\): 0/);
  });

  test("errors are gathered per engine and summarised; the cell's status is error", async () => {
    const failed = await run("%px throw new RangeError('bad ' + 'input')");
    assert.equal(failed.reply.content.status, "error");
    assert.equal(failed.reply.content.ename, "CompositeError");
    const traceback = (failed.reply.content.traceback as string[]).join("\n");
    assert.match(traceback, /\[0:execute\] .*RangeError.*: bad input/);
    assert.match(traceback, /\[1:execute\] .*RangeError.*: bad input/);
    assert.match(traceback, /2 of 2 engines failed/);
    assert.equal(failed.outputs.filter((m) => m.header.msg_type === "error").length, 1);
  });

  test("an engine's traceback in a %%px cell names the TypeScript line and shows it with a marker", async () => {
    const failed = await run("%%px --targets 0 --block\nconst limit: number = 3\nfunction check(x: number): void { if (x > limit) throw new RangeError(`over ${limit}`) }\ncheck(5)");
    assert.equal(failed.reply.content.status, "error");
    const traceback = (failed.reply.content.traceback as string[]).join("\n");
    const line2 = "function check(x: number): void { if (x > limit) throw new RangeError(`over ${limit}`) }";
    const column = line2.indexOf("new RangeError") + 1;
    assert.match(traceback, new RegExp(`at check \\(<cell-\\d+>:2:${column}\\)\n {8}2 \\| function check\\(x: number\\): void`), traceback);
    assert.ok(traceback.includes(`\n          | ${" ".repeat(column - 1)}^`), traceback);
  });

  test("--local also runs the cell here; --save-name keeps the AsyncResult as a typed variable", async () => {
    const local = await ok("%%px --local\nconst both = 40 + 2");
    assert.equal(plainOutputs(local.outputs).length, 0);
    assert.deepEqual(plainOutputs((await ok("both")).outputs), ["42"]);
    await ok("%%px --save-name saved\n6 * 7");
    assert.deepEqual(plainOutputs((await ok("(await saved) as number[]")).outputs), ["[ 42, 42 ]"]);
    assert.equal((await run("saved.nonexistent")).reply.content.ename, "TSError");
  });

  test("--progress-after shows a progress bar updated in place", async () => {
    const { outputs } = await ok("%%px --progress-after 0\nawait new Promise((r) => setTimeout(r, 600)); 1");
    const bar = outputs.find((m) => m.header.msg_type === "display_data" && String((m.content.data as Record<string, unknown>)["text/plain"]).startsWith("%px: ["))!;
    assert.ok(bar, "a progress display");
    const id = (bar.content.transient as { display_id: string }).display_id;
    const updates = outputs.filter((m) => m.header.msg_type === "update_display_data" && (m.content.transient as { display_id: string }).display_id === id);
    assert.match(String((updates.at(-1)!.content.data as Record<string, unknown>)["text/plain"]), /2\/2 tasks done/);
  });

  test("the status comm sends the active cluster's snapshot, its task stream, and answers actions", async () => {
    const commId = "status-with-cluster";
    const commData = (m: { header: { msg_type: string }; content: Record<string, unknown> }) =>
      m.header.msg_type === "comm_msg" && m.content.comm_id === commId ? (m.content.data as Record<string, unknown>) : null;
    kernel.send("shell", "comm_open", { comm_id: commId, target_name: "tsparallel.status", data: {} });
    const first = commData(await kernel.waitForIopub((m) => commData(m)?.type === "snapshot"))!;
    const snapshot = first.snapshot as { engines: { id: number }[] };
    assert.deepEqual(snapshot.engines.map((e) => e.id).sort(), [0, 1]);
    assert.equal(typeof first.profile, "string");
    await ok("%px 1 + 1");
    const stream = commData(await kernel.waitForIopub((m) => commData(m)?.type === "task_stream"))!;
    assert.ok((stream.tasks as unknown[]).length >= 1);
    kernel.send("shell", "comm_msg", { comm_id: commId, data: { type: "action", id: "a1", action: "interrupt_engine", engineId: 1 } });
    const result = commData(await kernel.waitForIopub((m) => commData(m)?.type === "action_result" && commData(m)?.id === "a1"))!;
    assert.equal(result.ok, true, String(result.message));
    // Engine 1 finished its task: the answer says there was nothing to interrupt.
    assert.match(String(result.message), /engine 1 was idle: nothing to interrupt/);

    // An engine's recent log lines, from the log file its launcher recorded in the profile (bounded by `lines`).
    // The interrupt just above reached the idle engine, which logs it (once its signal handler ran): asked again until it shows.
    const askLog = async (id: string) => {
      kernel.send("shell", "comm_msg", { comm_id: commId, data: { type: "engine_log", id, engineId: 1, lines: 5 } });
      return commData(await kernel.waitForIopub((m) => commData(m)?.type === "engine_log" && commData(m)?.id === id))!;
    };
    let log = await askLog("l1");
    for (let attempt = 0; attempt < 20 && !(log.lines as string[]).some((l) => l.includes("SIGINT while idle")); attempt++) {
      await new Promise((r) => setTimeout(r, 500));
      log = await askLog(`l1-${attempt}`);
    }
    assert.match(String(log.source), /engine-\d+-\d+\.log$/, JSON.stringify(log));
    const logLines = log.lines as string[];
    assert.ok(logLines.length >= 1 && logLines.length <= 5, JSON.stringify(log));
    assert.match(logLines.join("\n"), /SIGINT while idle: nothing to interrupt/);
    kernel.send("shell", "comm_msg", { comm_id: commId, data: { type: "engine_log", id: "l2", engineId: 99 } });
    const unknown = commData(await kernel.waitForIopub((m) => commData(m)?.type === "engine_log" && commData(m)?.id === "l2"))!;
    assert.deepEqual([unknown.source, unknown.lines, unknown.note], ["", [], "engine 99 is not known to this client"]);
    kernel.send("shell", "comm_close", { comm_id: commId, data: {} });
  });

  test("values keep their types between the notebook and the engines: push, pull, ref<T>", async () => {
    const dv = "rc.directView()";
    await ok(`await ${dv}.push({ c: [1, 2, 3] })`);
    assert.deepEqual(plainOutputs((await ok(`await ${dv}.apply((x: number, c: number[]) => x + c.length, 1, ref<number[]>("c"))`)).outputs), ["[ 4, 4 ]"]);
    const wrong = await run(`await ${dv}.apply((x: number, c: string) => x + c, 1, ref<number[]>("c"))`);
    assert.equal(wrong.reply.content.ename, "TSError");
    assert.match(String(wrong.reply.content.evalue), /Ref<number\[\]>/);
    assert.deepEqual(plainOutputs((await ok(`const pulled = await ${dv}.pull<number[]>("c"); pulled[0]!.length`)).outputs), ["3"]);
  });
});

describe("kernel: %px without a client, and %tspcluster", () => {
  let kernel: KernelClient;
  before(async () => (kernel = await KernelClient.start()));
  after(() => kernel.close());

  test("%px with no active client says how to get one", async () => {
    const { reply } = await kernel.execute("%px 1");
    assert.equal(reply.content.ename, "UsageError");
    assert.match(String(reply.content.evalue), /no active tsparallel client.*%tspcluster start/);
  });

  test("%tspcluster start -n 2, %px on it, status, stop", { timeout: 120_000 }, async () => {
    const started = await kernel.execute("%tspcluster start -n 2 --profile kerneltest");
    assert.equal(started.reply.content.status, "ok", JSON.stringify(started.reply.content));
    assert.match(streamText(started.outputs, "stdout"), /Started a cluster with 2 engines/);
    const px = await kernel.execute("%px 21 * 2");
    // Fresh engines may take over --progress-after's 2 s for a first task: a progress bar may come first.
    const results = plainOutputs(px.outputs).filter((t) => !t.startsWith("%px: ["));
    assert.deepEqual(results.map((t) => t.replace(/:\d+\]/, "]")), ["Out[0]: 42", "Out[1]: 42"]);
    const status = await kernel.execute("%tspcluster status");
    assert.match(streamText(status.outputs, "stdout"), /profile kerneltest/);
    const stopped = await kernel.execute("%tspcluster stop");
    assert.match(streamText(stopped.outputs, "stdout"), /Stopped the cluster of profile kerneltest/);
  });

  test("%tspcluster start/list/connect/stop --cluster-id: one of several clusters of a profile", { timeout: 120_000 }, async () => {
    const ok = async (code: string) => {
      const executed = await kernel.execute(code);
      assert.equal(executed.reply.content.status, "ok", JSON.stringify(executed.reply.content));
      return streamText(executed.outputs, "stdout");
    };
    try {
      assert.match(await ok("%tspcluster start -n 1 --profile kernelids --cluster-id a"), /Started a cluster with 1 engines \(profile kernelids, cluster id "a"\)/);
      // The profile's own cluster is not running: only "a" is.
      assert.match(await ok("%tspcluster list"), /^kernelids\s+a$/m);
      assert.doesNotMatch(await ok("%tspcluster list"), /^kernelids\s+''$/m);
      assert.match(await ok("%tspcluster connect --profile kernelids --cluster-id a"), /Connected to cluster "a" of profile kernelids \(1 engines\)/);
      assert.deepEqual(plainOutputs((await kernel.execute("%px 6 * 7")).outputs).filter((t) => !t.startsWith("%px: [")).map((t) => t.replace(/:\d+\]/, "]")), ["Out[0]: 42"]);
      const wrong = await kernel.execute("%tspcluster stop --profile kernelids --cluster-id b");
      assert.equal(wrong.reply.content.status, "error");
      assert.match(String(wrong.reply.content.evalue), /no cluster "b" is running in profile "kernelids"/);
      assert.match(await ok("%tspcluster stop --profile kernelids --cluster-id a"), /Stopped cluster "a" of profile kernelids/);
      assert.doesNotMatch(await ok("%tspcluster list"), /kernelids/);
    } finally {
      await kernel.execute("%tspcluster stop --profile kernelids --cluster-id a");
    }
  });
});
