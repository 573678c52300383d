import assert from "node:assert/strict";
import { test } from "node:test";
import { packValue, unpackValue, type TaskRecordInfo } from "@tsparallel/protocol";
import { noop, Scene } from "./support/controller-harness.js";

test("result_request returns records with their stored result frames, pending ones as pending", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    const [[done], [pending]] = client.submit([
      { targets: [0], body: noop },
      { targets: [0], body: { kind: "pull", names: "x" } },
    ]);
    await engine.takeTasks(2);
    engine.send("task_reply", {
      results: [{ msgId: done!, engineId: 0, status: "ok", started: 1, completed: 2, stdout: "out", repr: "42", executionCount: 7, bufferCount: 1 }],
    }, { buffers: packValue({ answer: 42 }).frames });
    await client.results([done!]);

    const reply = await client.request<"result_reply">("result_request", { msgIds: [done!, pending!, "nobody"] });
    const [a, b] = reply.content.records as TaskRecordInfo[];
    assert.equal(reply.content.records.length, 2);
    assert.deepEqual(
      { ...a, submitted: 0 },
      { msgId: done, engineId: 0, kind: "execute", pending: false, status: "ok", submitted: 0, started: 1, completed: 2, stdout: "out", repr: "42", executionCount: 7, bufferCount: 1 },
    );
    assert.deepEqual(unpackValue(reply.buffers.slice(0, 1)), { answer: 42 });
    assert.equal(b!.pending, true);
    assert.equal(b!.kind, "pull");
    assert.equal(b!.bufferCount, 0);
    assert.deepEqual(reply.metadata.unknown, ["nobody"]);
  } finally {
    await scene.close();
  }
});

test("only the newest results keep their frames (--keep-results, --db memory); older records remain without them", { timeout: 30_000 }, async () => {
  const scene = await Scene.start(["--keep-results", "2", "--db", "memory"]);
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    const ids = client.submit([1, 2, 3].map(() => ({ targets: [0], body: noop }))).flat();
    const tasks = await engine.takeTasks(3);
    engine.reply(tasks, (t) => packValue(t.task.msgId).frames);
    await client.results(ids);
    const reply = await client.request<"result_reply">("result_request", { msgIds: ids });
    assert.deepEqual(reply.content.records.map((r: TaskRecordInfo) => r.bufferCount), [0, 1, 1]);
    assert.deepEqual(reply.metadata.evicted, [ids[0]]);
    assert.equal(unpackValue(reply.buffers.slice(0, 1)), ids[1]);
    assert.equal(reply.content.records[0]!.status, "ok", "the evicted record itself is kept");
  } finally {
    await scene.close();
  }
});

test("a result over 1 MiB reaches its client but is not kept in the records (--db memory)", { timeout: 30_000 }, async () => {
  const scene = await Scene.start(["--db", "memory"]);
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    const [big, small] = client.submit([{ targets: [0], body: noop }, { targets: [0], body: noop }]).flat();
    const tasks = await engine.takeTasks(2);
    engine.reply(tasks, (t) => packValue(t.task.msgId === big ? new Float64Array(256 * 1024) : "small").frames);
    const delivered = await client.results([big!, small!]);
    assert.equal((unpackValue(delivered.get(big!)!.frames) as Float64Array).length, 256 * 1024, "the client got the 2 MiB array");
    const reply = await client.request<"result_reply">("result_request", { msgIds: [big!, small!] });
    assert.deepEqual(reply.content.records.map((r: TaskRecordInfo) => r.bufferCount), [0, 1]);
    assert.deepEqual(reply.metadata.evicted, [big]);
  } finally {
    await scene.close();
  }
});

test("history_request lists every task in submission order, across clients", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const one = await scene.client();
    const two = await scene.client();
    await scene.engine();
    const first = one.submit([{ targets: [0], body: noop }, { targets: null, body: noop }]).flat();
    await one.request("status_request", {});
    const second = two.submit([{ targets: [7], body: noop }]).flat();
    const history = await two.request<"history_reply">("history_request", {});
    assert.deepEqual(history.content.msgIds, [...first, ...second]);
  } finally {
    await scene.close();
  }
});

test("status and events: snapshots count tasks, the task stream reports completions, the controller heartbeats", { timeout: 30_000 }, async () => {
  const scene = await Scene.start(["--hwm", "1"]);
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    const ids = client.submit([{ targets: null, body: noop }, { targets: null, body: noop }]).flat();
    await engine.takeTasks(1);
    // Direct tasks ignore hwm (but count towards it, so the second load-balanced task keeps waiting).
    ids.push(...client.submit([{ targets: [0], body: noop }]).flat());
    await engine.takeTasks(1);

    const busy = (await client.request<"status_reply">("status_request", {})).content;
    assert.deepEqual(busy.tasks, { unassigned: 1, queued: 1, running: 1, done: 0, failed: 0, perSecond: 0 });
    assert.equal(busy.engines[0]!.state, "busy");
    assert.equal(busy.engines[0]!.current?.msgId, ids[0]);
    assert.equal(busy.controller.hwm, 1);

    engine.reply(engine.tasks.slice(0, 1));
    engine.reply(engine.tasks.slice(1, 2), () => [], "error");
    const [last] = await engine.takeTasks(1);
    engine.reply([last!]);
    await client.results(ids);

    const streamed = new Set<string>();
    while (streamed.size < 3) {
      const msg = await client.events.next("task_stream");
      for (const t of msg.content.tasks) {
        assert.equal(t.engineId, 0);
        streamed.add(t.msgId);
      }
    }
    assert.deepEqual([...streamed].sort(), [...ids].sort());
    const idle = await client.events.next("cluster_snapshot", (m) => m.content.tasks.done === 3);
    assert.equal(idle.content.tasks.failed, 1);
    assert.equal(idle.content.engines[0]!.state, "idle");
    assert.equal(idle.content.engines[0]!.completed, 3);
    assert.equal(idle.content.engines[0]!.failed, 1);
    const beat = await client.events.next("controller_heartbeat");
    assert.equal(beat.content.pid, scene.controller.child.pid);
  } finally {
    await scene.close();
  }
});
