import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { functionHash, newMessageId, packValue, type TaskBody } from "@tsparallel/protocol";
import { FakeController } from "./support/fake-controller.js";

describe("engine task flow: output, batching, abort, interrupt", () => {
  const controller = new FakeController();

  before(() => controller.startEngine(1));
  after(() => controller.close());

  test("output of a task that logs over ~300 ms arrives as stream messages before its reply", async () => {
    const code = `
      for (let i = 0; i < 6; i++) {
        console.log("tick " + i);
        await new Promise((r) => setTimeout(r, 50));
      }
      console.error("done");
      process.stdout.write("last words\\n");
    `;
    const [msgId] = controller.submit([{ body: { kind: "execute", code } }]);
    const [result] = await controller.results([msgId!]);
    assert.equal(result!.status, "ok", JSON.stringify(result!.error));
    const replyIndex = controller.engineInbox.all.findIndex((m) => m.header.msg_type === "task_reply" && JSON.stringify(m.content).includes(msgId!));
    const streamsBefore = controller.engineInbox.all
      .slice(0, replyIndex)
      .filter((m) => m.header.msg_type === "stream" && JSON.stringify(m.content).includes(msgId!));
    assert.ok(streamsBefore.length >= 2, `expected several stream messages before the reply, got ${streamsBefore.length}`);
    // Streamed text and the reply's leftovers together hold all output, in order, exactly once.
    const stdout = controller.streamedText(msgId!, "stdout") + (result!.stdout ?? "");
    assert.equal(stdout, "tick 0\ntick 1\ntick 2\ntick 3\ntick 4\ntick 5\nlast words\n");
    const stderr = controller.streamedText(msgId!, "stderr") + (result!.stderr ?? "");
    assert.equal(stderr, "done\n");
  });

  test("output of a short task arrives exactly once: its first write streamed at once, the rest of a burst in its result", async () => {
    const [msgId] = controller.submit([{ body: { kind: "execute", code: "console.log('quick', 42); console.log('second')" } }]);
    const [result] = await controller.results([msgId!]);
    assert.equal(result!.status, "ok", JSON.stringify(result!.error));
    assert.equal(controller.streamedText(msgId!) + (result!.stdout ?? ""), "quick 42\nsecond\n");
    assert.ok(controller.streamedText(msgId!).startsWith("quick 42\n"));
    assert.equal(result!.bufferCount, 0);
  });

  test("output produced after a task ended is streamed under that task", async () => {
    const result = await controller.run({ kind: "execute", code: "setTimeout(() => console.log('late line'), 100); 'returned'" });
    assert.equal(result.value, "returned");
    await controller.waitFor("stream", 5_000, (msg) => msg.content.items.some((i) => i.msgId === result.msgId && i.text === "late line\n"));
  });

  test("an exception thrown later from a timer does not kill the engine; it shows on stderr", async () => {
    const result = await controller.run({ kind: "execute", code: "setTimeout(() => { throw new Error('from a timer') }, 20); 1" });
    await controller.waitFor("stream", 5_000, (msg) => msg.content.items.some((i) => i.msgId === result.msgId && i.name === "stderr" && i.text.includes("from a timer")));
    assert.equal((await controller.run({ kind: "execute", code: "'survived'" })).value, "survived");
  });

  test("a silent execute runs without a number or a value", async () => {
    const before = (await controller.run({ kind: "execute", code: "1" })).executionCount!;
    const silent = await controller.run({ kind: "execute", code: "const quietly = 5; quietly", silent: true });
    assert.equal(silent.status, "ok");
    assert.equal(silent.executionCount, undefined);
    assert.equal(silent.bufferCount, 0);
    const after = await controller.run({ kind: "execute", code: "quietly" });
    assert.equal(after.value, 5);
    assert.equal(after.executionCount, before + 1);
  });

  test("many tiny tasks are answered in few task_reply messages, all in order", async () => {
    const before = controller.engineInbox.all.filter((m) => m.header.msg_type === "task_reply").length;
    const msgIds = controller.submit(Array.from({ length: 500 }, (_, i) => ({ body: { kind: "execute" as const, code: `${i} * 2` } })));
    const results = await controller.results(msgIds);
    assert.deepEqual(results.map((r) => r.value), Array.from({ length: 500 }, (_, i) => i * 2));
    const replies = controller.engineInbox.all.filter((m) => m.header.msg_type === "task_reply").length - before;
    assert.ok(replies < 250, `500 tiny tasks took ${replies} replies`);
    const started = results.map((r) => r.started);
    assert.deepEqual([...started].sort((a, b) => a - b), started, "tasks ran in arrival order");
  });

  test("a task_request naming its function once (fns) runs every task with it; an index it lacks drops the batch", async () => {
    const source = "(x) => x * 3";
    const fn = { hash: functionHash(source), name: "triple", source };
    const tasks = Array.from({ length: 5 }, (_, i) => ({ msgId: newMessageId(), body: { kind: "apply", fn: 0 } as unknown as TaskBody, bufferCount: 1 }));
    controller.sendToEngine("task_request", { tasks, fns: [fn] }, tasks.map((_, i) => packValue([i]).frames[0]!));
    const results = await controller.results(tasks.map((t) => t.msgId));
    assert.deepEqual(results.map((r) => [r.status, r.value]), [0, 1, 2, 3, 4].map((i) => ["ok", i * 3]));
    const stray = { msgId: newMessageId(), body: { kind: "apply", fn: 1 } as unknown as TaskBody, bufferCount: 0 };
    controller.sendToEngine("task_request", { tasks: [stray], fns: [fn] });
    // The engine drops the batch (and says so in its log); it keeps answering the next one.
    const [next] = await controller.results(controller.submit([{ body: { kind: "execute", code: "7 * 6" } }]));
    assert.equal(next!.value, 42);
    assert.equal(controller.engineInbox.all.some((m) => m.header.msg_type === "task_reply" && JSON.stringify(m.content).includes(stray.msgId)), false);
  });

  test("abort answers queued tasks as aborted and leaves the running one alone", async () => {
    const busy = "const until = Date.now() + 400; while (Date.now() < until) {} 'finished'";
    const msgIds = controller.submit([
      { body: { kind: "execute", code: busy } },
      { body: { kind: "execute", code: "'second'" } },
      { body: { kind: "execute", code: "'third'" } },
      { body: { kind: "execute", code: "'kept'" } },
    ]);
    controller.sendToEngine("abort_request", { msgIds: [msgIds[0]!, msgIds[1]!, msgIds[2]!] });
    const [running, second, third, kept] = await controller.results(msgIds);
    assert.equal(running!.status, "ok");
    assert.equal(running!.value, "finished");
    assert.equal(second!.status, "aborted");
    assert.equal(third!.status, "aborted");
    assert.equal(kept!.status, "ok");
    assert.equal(kept!.value, "kept");
  });

  test("SIGINT through signal_request stops a while(true) execute; the engine answers the next task", async () => {
    const [spinning] = controller.submit([{ body: { kind: "execute", code: "console.log('spinning'); while (true) {}" } }]);
    await controller.waitFor("heartbeat");
    // Wait until the loop has surely started: its output is stuck with it, so wait a little.
    await new Promise((r) => setTimeout(r, 300));
    controller.sendToHeartbeat("signal_request", { signal: "SIGINT" });
    const [result] = await controller.results([spinning!]);
    assert.equal(result!.status, "error");
    assert.equal(result!.error!.ename, "InterruptError");
    const next = await controller.run({ kind: "execute", code: "'still here'" });
    assert.equal(next.value, "still here");
  });

  test("SIGINT rejects a task that is awaiting", async () => {
    const [waiting] = controller.submit([{ body: { kind: "execute", code: "await new Promise(() => {})" } }]);
    await new Promise((r) => setTimeout(r, 200));
    controller.sendToHeartbeat("signal_request", { signal: "SIGINT" });
    const [result] = await controller.results([waiting!]);
    assert.equal(result!.error!.ename, "InterruptError");
    assert.equal((await controller.run({ kind: "execute", code: "2 + 2" })).value, 4);
  });

  test("idle SIGINTs leave the engine alive, and alternating awaiting and synchronous tasks are each stopped by their own SIGINT", async () => {
    // The engine's SIGINT is handled without a process listener (a watchdog held by helper threads): an
    // idle one must not kill it, and a synchronous section that starts right after an awaiting task was
    // interrupted must still be the one the next SIGINT stops.
    await controller.waitFor("heartbeat");
    for (let i = 0; i < 3; i++) {
      controller.sendToHeartbeat("signal_request", { signal: "SIGINT" });
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await controller.run({ kind: "execute", code: "'alive'" })).value, "alive");
    for (let round = 0; round < 2; round++) {
      const [waiting, spinning] = controller.submit([
        { body: { kind: "execute", code: "await new Promise(() => {})" } },
        { body: { kind: "execute", code: "while (true) {}" } },
      ]);
      await new Promise((r) => setTimeout(r, 300));
      controller.sendToHeartbeat("signal_request", { signal: "SIGINT" });
      // The loop starts once the awaiting task is stopped; the first result leaves with the second
      // (a result waits for the batch while a synchronous task runs), so both are collected at the end.
      await new Promise((r) => setTimeout(r, 300));
      controller.sendToHeartbeat("signal_request", { signal: "SIGINT" });
      const [first, second] = await controller.results([waiting!, spinning!]);
      assert.equal(first!.error?.ename, "InterruptError", `round ${round}: the awaiting task`);
      assert.equal(second!.error?.ename, "InterruptError", `round ${round}: the synchronous loop`);
    }
    assert.equal((await controller.run({ kind: "execute", code: "6 * 7" })).value, 42);
  });

  test("a message with a bad signature is dropped; the next good one is answered", async () => {
    controller.sendForged("task_request", { tasks: [{ msgId: "forged-1", body: { kind: "execute", code: "globalThis.pwned = true" }, bufferCount: 0 }] });
    const result = await controller.run({ kind: "execute", code: "typeof pwned" });
    assert.equal(result.value, "undefined");
    assert.ok(!controller.engineInbox.all.some((m) => JSON.stringify(m.content).includes("forged-1")), "the forged task was answered");
    // The engine logged the drop on its own stderr, not as output of some task.
    assert.ok(!controller.streamItems().some((item) => item.text.includes("bad message")));
  });

  test("a malformed task batch is dropped whole; the engine goes on", async () => {
    controller.sendToEngine("task_request", { tasks: [{ msgId: "malformed-1", body: { kind: "execute", code: "1" }, bufferCount: 2 }] });
    controller.sendToEngine("task_request", { tasks: "nope" } as never);
    const result = await controller.run({ kind: "execute", code: "'after the bad ones'" });
    assert.equal(result.value, "after the bad ones");
    assert.ok(!controller.engineInbox.all.some((m) => JSON.stringify(m.content).includes("malformed-1")));
  });
});
