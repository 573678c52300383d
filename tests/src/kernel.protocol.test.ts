import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as zmq from "zeromq";
import { DELIMITER, Signer, encodeMessage, newHeader } from "@tsparallel/protocol";
import { KernelClient, plainOutputs } from "./support/kernel-client.js";
import { privateRoot } from "./support/cluster-fixture.js";

/** The kernel's channels: control, heartbeat, stop_on_error, comms, shutdown. */
describe("kernel: channels", () => {
  let kernel: KernelClient;
  before(async () => {
    privateRoot();
    kernel = await KernelClient.start();
  });
  after(() => kernel.close());

  test("kernel_info names the language and protocol, with status ok", async () => {
    const reply = await kernel.request("shell", "kernel_info_request", {});
    assert.equal(reply.content.status, "ok");
    assert.equal(reply.content.protocol_version, "5.3");
    assert.equal((reply.content.language_info as Record<string, unknown>).name, "typescript");
    const control = await kernel.request("control", "kernel_info_request", {});
    assert.equal(control.content.status, "ok");
  });

  test("the kernel speaks Jupyter's wire form: delimiter, signature, four JSON frames (the cluster's compact form is not for JupyterLab)", async () => {
    const signer = new Signer(kernel.key);
    const shell = new zmq.Dealer({ linger: 0 });
    shell.connect(`tcp://127.0.0.1:${kernel.ports.shell_port}`);
    try {
      const request = newHeader("kernel_info_request", "raw-jupyter-peer");
      await shell.send(encodeMessage(signer, { header: request, content: {} }));
      const frames = await shell.receive();
      assert.equal(frames.length, 6);
      assert.ok(frames[0]!.equals(DELIMITER));
      assert.equal(frames[1]!.toString(), signer.sign(frames.slice(2, 6)));
      assert.equal(JSON.parse(frames[3]!.toString()).msg_id, request.msg_id);
      assert.equal(JSON.parse(frames[5]!.toString()).status, "ok");
    } finally {
      shell.close();
    }
  });

  test("interrupt_request on the control channel stops a synchronous endless loop", async () => {
    const running = kernel.execute("while (true) {}");
    await kernel.waitForIopub((m) => m.header.msg_type === "execute_input" && m.content.code === "while (true) {}");
    const interrupt = await kernel.request("control", "interrupt_request", {});
    assert.equal(interrupt.content.status, "ok");
    const { reply } = await running;
    assert.equal(reply.content.status, "error");
    assert.equal(reply.content.ename, "KeyboardInterrupt");
    const after = await kernel.execute("1 + 1");
    assert.deepEqual(plainOutputs(after.outputs), ["2"]);
  });

  test("interrupt_request stops a cell waiting on a promise that never settles", async () => {
    const running = kernel.execute("await new Promise(() => {})");
    await kernel.waitForIopub((m) => m.header.msg_type === "execute_input" && m.content.code === "await new Promise(() => {})");
    await kernel.request("control", "interrupt_request", {});
    const { reply } = await running;
    assert.equal(reply.content.ename, "KeyboardInterrupt");
  });

  test("the heartbeat answers while a cell keeps the main thread busy", async () => {
    // The cell spins until the test, having had its heartbeat echoed, creates the flag file.
    const flag = join(mkdtempSync(join(tmpdir(), "tsp-hb-")), "done");
    const code = `import { existsSync } from "node:fs"; while (!existsSync(${JSON.stringify(flag)})) {}`;
    let replied = false;
    const running = kernel.execute(code).then((r) => ((replied = true), r));
    await kernel.waitForIopub((m) => m.header.msg_type === "execute_input" && m.content.code === code);
    const heartbeat = new zmq.Request({ linger: 0 });
    heartbeat.connect(`tcp://127.0.0.1:${kernel.ports.hb_port}`);
    await heartbeat.send("ping");
    const [echo] = await heartbeat.receive();
    heartbeat.close();
    assert.equal(echo!.toString(), "ping");
    assert.equal(replied, false, "the echo must come while the cell still runs");
    writeFileSync(flag, "");
    const { reply } = await running;
    assert.equal(reply.content.status, "ok");
  });

  test("a failing cell aborts the cells queued behind it (stop_on_error)", async () => {
    const failing = kernel.execute("await new Promise((r) => setTimeout(r, 300)); throw new Error('first fails')");
    const queued = kernel.execute("console.log('must not run')");
    assert.equal((await failing).reply.content.status, "error");
    const second = await queued;
    assert.equal(second.reply.content.status, "aborted");
    assert.equal(second.outputs.filter((m) => m.header.msg_type === "stream").length, 0);
    const later = await kernel.execute("'runs again'");
    assert.equal(later.reply.content.status, "ok");
  });

  test("comms: an unknown target is closed, the status comm opens and sends a snapshot", async () => {
    kernel.send("shell", "comm_open", { comm_id: "c-unknown", target_name: "no.such.target", data: {} });
    await kernel.waitForIopub((m) => m.header.msg_type === "comm_close" && m.content.comm_id === "c-unknown");
    kernel.send("shell", "comm_open", { comm_id: "c-status", target_name: "tsparallel.status", data: {} });
    const first = await kernel.waitForIopub((m) => m.header.msg_type === "comm_msg" && m.content.comm_id === "c-status");
    assert.deepEqual(first.content.data, { type: "snapshot", snapshot: null, profile: "default", running: [] });
    const info = await kernel.request("shell", "comm_info_request", { target_name: "tsparallel.status" });
    assert.deepEqual(info.content.comms, { "c-status": { target_name: "tsparallel.status" } });
    kernel.send("shell", "comm_msg", { comm_id: "c-status", data: { type: "action", id: 7, action: "stop_engine", engineId: 0 } });
    const result = await kernel.waitForIopub((m) => m.header.msg_type === "comm_msg" && (m.content.data as Record<string, unknown>).type === "action_result");
    assert.equal((result.content.data as Record<string, unknown>).id, 7);
    assert.equal((result.content.data as Record<string, unknown>).ok, false);
    assert.match(String((result.content.data as Record<string, unknown>).message), /no active client/);
    kernel.send("shell", "comm_close", { comm_id: "c-status", data: {} });
    const closed = await kernel.request("shell", "comm_info_request", {});
    assert.deepEqual(closed.content.comms, {});
  });

  test("a message with a bad signature is dropped, not executed", async () => {
    const forged = new zmq.Dealer({ linger: 0 });
    forged.connect(`tcp://127.0.0.1:${kernel.ports.shell_port}`);
    const header = JSON.stringify({ msg_id: "forged", msg_type: "execute_request", session: "x", username: "x", date: new Date().toISOString(), version: "5.3" });
    await forged.send(["<IDS|MSG>", "0".repeat(64), header, "{}", "{}", JSON.stringify({ code: "globalThis.forgedRan = true" })]);
    forged.close();
    const { outputs } = await kernel.execute("(globalThis as any).forgedRan === true");
    assert.deepEqual(plainOutputs(outputs), ["false"]);
  });

  test("history: tail, range and search over this kernel's inputs", async () => {
    await kernel.execute("'history marker'");
    const tail = await kernel.request("shell", "history_request", { output: true, raw: true, hist_access_type: "tail", n: 1 });
    const [[session, line, [input, output]]] = tail.content.history as [number, number, [string, string]][];
    assert.equal(input, "'history marker'");
    assert.equal(output, "'history marker'");
    const range = await kernel.request("shell", "history_request", { output: false, raw: true, hist_access_type: "range", session, start: line, stop: line + 1 });
    assert.deepEqual(range.content.history, [[session, line, "'history marker'"]]);
    const search = await kernel.request("shell", "history_request", { output: false, raw: true, hist_access_type: "search", pattern: "'history*", unique: true });
    assert.equal((search.content.history as unknown[]).length, 1);
  });

  test("shutdown_request on the control channel is answered, then the kernel exits", async () => {
    const other = await KernelClient.start();
    try {
      const reply = await other.request("control", "shutdown_request", { restart: false });
      assert.deepEqual(reply.content, { status: "ok", restart: false });
      assert.equal(await other.exited(), 0);
    } finally {
      await other.close();
    }
  });
});
