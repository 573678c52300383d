import assert from "node:assert/strict";
import { test } from "node:test";
import { functionHash, packValue, unpackValue, type TaskBody } from "@tsparallel/protocol";
import { noop, Scene, waitFor } from "./support/controller-harness.js";

test("a direct task fans out to each target with the same frames, and results come back with theirs", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const client = await scene.client();
    const [e0, e1] = [await scene.engine(), await scene.engine()];
    const args = packValue({ big: new Float64Array(10_000).fill(1.5), label: "x" }).frames;
    const [ids] = client.submit([{ targets: [0, 1], body: noop, frames: args }]);

    const [[got0], [got1]] = await Promise.all([e0.takeTasks(1), e1.takeTasks(1)]);
    assert.deepEqual([got0!.task.msgId, got1!.task.msgId], ids);
    assert.deepEqual(got0!.task.body, noop);
    for (const got of [got0!, got1!]) {
      assert.equal(got.task.bufferCount, args.length);
      assert.deepEqual(got.frames, args);
    }

    e0.reply([got0!], () => packValue("from 0").frames);
    e1.reply([got1!], () => packValue("from 1").frames);
    const results = await client.results(ids!);
    assert.equal(unpackValue(results.get(ids![0]!)!.frames), "from 0");
    assert.equal(unpackValue(results.get(ids![1]!)!.frames), "from 1");
    assert.equal(results.get(ids![1]!)!.result.engineId, 1);
    assert.equal(results.get(ids![1]!)!.result.status, "ok");
  } finally {
    await scene.close();
  }
});

test("one submit becomes one task_request per engine, and one engine reply one task_reply per client", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    const ids = client.submit([0, 1, 2].map((i) => ({ targets: [0], body: { kind: "execute", code: `${i}` } as TaskBody }))).flat();

    const tasks = await engine.takeTasks(3);
    assert.equal(engine.inbox.ofType("task_request").length, 1, "the three tasks arrived in one message");
    assert.deepEqual(tasks.map((t) => t.task.msgId), ids, "in submission order");

    engine.reply(tasks, (t) => packValue(t.task.msgId).frames);
    const results = await client.results(ids);
    assert.equal(client.inbox.ofType("task_reply").length, 1, "the three results arrived in one message");
    for (const id of ids) assert.equal(unpackValue(results.get(id)!.frames), id);
  } finally {
    await scene.close();
  }
});

test("streamed output reaches the submitting client only, with the engine id filled in", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const owner = await scene.client();
    const other = await scene.client();
    const engine = await scene.engine();
    const [[id]] = owner.submit([{ targets: [0], body: noop }]);
    const [task] = await engine.takeTasks(1);
    engine.stream([{ msgId: id!, name: "stdout", text: "hello\n" }, { msgId: "unknown-task", name: "stdout", text: "lost\n" }]);
    engine.reply([task!]);
    const stream = await owner.inbox.next("stream");
    assert.deepEqual(stream.content.items, [{ msgId: id, engineId: 0, name: "stdout", text: "hello\n" }]);
    await owner.results([id!]);
    await other.request("status_request", {});
    assert.equal(other.inbox.ofType("stream").length + other.inbox.ofType("task_reply").length, 0);
  } finally {
    await scene.close();
  }
});

test("tasks for unknown or gone engines, or with no engines at all, fail at once with typed errors", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const client = await scene.client();
    const [[none], [noneLb]] = client.submit([
      { targets: [0], body: noop },
      { targets: null, body: noop },
    ]);
    const early = await client.results([none!, noneLb!]);
    assert.equal(early.get(none!)!.result.error?.ename, "NoEnginesError");
    assert.equal(early.get(noneLb!)!.result.error?.ename, "NoEnginesError");

    const engine = await scene.engine();
    const stopped = await scene.engine();
    stopped.send("unregistration_request", {});
    await client.events.next("engine_unregistered", (m) => m.content.id === stopped.id);
    const [[unknown], [gone], [unknownLb], [goneLb], [fine]] = client.submit([
      { targets: [7], body: noop },
      { targets: [stopped.id], body: noop },
      { targets: null, lb: { targets: [9] }, body: noop },
      { targets: null, lb: { targets: [stopped.id] }, body: noop },
      { targets: [engine.id], body: noop },
    ]);
    const results = await client.results([unknown!, gone!, unknownLb!, goneLb!]);
    assert.equal(results.get(unknown!)!.result.error?.ename, "InvalidTargetError");
    assert.equal(results.get(gone!)!.result.error?.ename, "EngineError");
    assert.equal(results.get(unknownLb!)!.result.error?.ename, "InvalidTargetError");
    assert.equal(results.get(goneLb!)!.result.error?.ename, "EngineError");
    for (const { result } of results.values()) assert.equal(result.status, "error");
    const [task] = await engine.takeTasks(1);
    assert.equal(task!.task.msgId, fine);
  } finally {
    await scene.close();
  }
});

test("a function's source goes to each engine once per hash; a task naming an unknown hash fails", { timeout: 30_000 }, async () => {
  const scene = await Scene.start(["--hwm", "0"]);
  try {
    const client = await scene.client();
    const [e0, e1] = [await scene.engine(), await scene.engine()];
    // The controller checks that a hash is the SHA-256 of its source.
    const fn = { hash: functionHash("(x) => x * x"), name: "square", source: "(x) => x * x" };
    const ref = { hash: fn.hash, name: fn.name };
    const args = packValue([3]).frames;
    const apply = (withSource: boolean): TaskBody => ({ kind: "apply", fn: withSource ? fn : ref });

    // The client sends the source once; later tasks carry only the hash.
    client.submit([{ targets: [0], body: apply(true), frames: args }]);
    const [first] = await e0.takeTasks(1);
    assert.equal(first!.task.body.kind === "apply" && first!.task.body.fn.source, fn.source);

    client.submit([{ targets: [0, 1], body: apply(false), frames: args }]);
    const [[second0], [first1]] = await Promise.all([e0.takeTasks(1), e1.takeTasks(1)]);
    assert.equal(second0!.task.body.kind === "apply" && second0!.task.body.fn.source, undefined, "engine 0 already has it");
    assert.equal(first1!.task.body.kind === "apply" && first1!.task.body.fn.source, fn.source, "engine 1 meets it first");

    e0.reply([first!, second0!]);
    e1.reply([first1!]);
    await client.results([first!.task.msgId, second0!.task.msgId, first1!.task.msgId]);
    client.submit([{ targets: null, body: { kind: "map", fn: ref }, frames: args }, { targets: null, body: { kind: "map", fn: ref }, frames: args }]);
    const [[lb0], [lb1]] = await Promise.all([e0.takeTasks(1), e1.takeTasks(1)]);
    for (const t of [lb0!, lb1!]) assert.equal(t.task.body.kind === "map" && t.task.body.fn.source, undefined);

    const [[missing]] = client.submit([{ targets: [0], body: { kind: "apply", fn: { hash: "never-sent", name: "ghost" } } }]);
    const result = (await client.results([missing!])).get(missing!)!.result;
    assert.equal(result.error?.ename, "FunctionNotFound");
    await client.request("status_request", {});
    await e0.drainTasks();
    assert.ok(!e0.tasks.some((t) => t.task.msgId === missing), "the engine never got it");
  } finally {
    await scene.close();
  }
});

test("a message with a bad signature is dropped and logged, and the controller keeps working", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    client.sendForged("submit_request", { tasks: [{ msgIds: ["forged"], targets: [0], body: { kind: "execute", code: "evil()" }, bufferCount: 0 }] });
    await waitFor(() => /dropped a bad message from \S+ \(bad signature\)/.test(scene.controller.stderr), "the drop to be logged");
    const [[genuine]] = client.submit([{ targets: [0], body: noop }]);
    const [task] = await engine.takeTasks(1);
    assert.equal(task!.task.msgId, genuine);
    const history = await client.request<"history_reply">("history_request", {});
    assert.deepEqual(history.content.msgIds, [genuine]);
  } finally {
    await scene.close();
  }
});

test("malformed and unknown requests get an error_reply and run nothing", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    await assert.rejects(client.request("no_such_request" as "status_request", {}), /UnknownMessageType/);
    // Claims a frame that is not there: the whole submission is refused, and its task fails rather than hangs.
    await assert.rejects(
      client.request("submit_request", { tasks: [{ msgIds: ["a"], targets: [0], body: noop, bufferCount: 2 }] }, { buffers: [Buffer.from("x")] }),
      /SubmitError/,
    );
    const refused = (await client.results(["a"])).get("a")!.result;
    assert.equal(refused.status, "error");
    assert.equal(refused.error?.ename, "SubmitError");
    const [[bad]] = client.submit([{ targets: [0], body: { kind: "teleport" } as unknown as TaskBody }]);
    assert.equal((await client.results([bad!])).get(bad!)!.result.error?.ename, "InvalidTaskError");
    const [[good]] = client.submit([{ targets: [0], body: noop }]);
    const [task] = await engine.takeTasks(1);
    assert.equal(task!.task.msgId, good, "only the well-formed task reached the engine");
  } finally {
    await scene.close();
  }
});

test("a batch names each function once: the task_request's fns holds it and its tasks name it by index; a submission naming a function it lacks is refused", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    const source = "(x) => x + 1";
    const fn = { hash: functionHash(source), name: "inc", source };
    const bare = { hash: fn.hash, name: fn.name };
    // As a client sends a function: its source in the first task of the message, the hash in the others.
    const ids = client.submit(Array.from({ length: 6 }, (_, i) => ({ targets: [0], body: { kind: "apply" as const, fn: i === 0 ? fn : bare }, frames: packValue([i]).frames })));
    const sent = await engine.inbox.next("task_request", () => true);
    assert.deepEqual(sent.content.tasks.map((t) => t.msgId), ids.flat(), "one task_request for the one submission");
    assert.deepEqual(sent.content.fns, [fn], "the function once, with its source (the engine has not met it)");
    assert.deepEqual(sent.content.tasks.map((t) => (t.body as unknown as { fn: unknown }).fn), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(sent.buffers.map((b) => unpackValue([b])), [0, 1, 2, 3, 4, 5].map((i) => [i]));

    await assert.rejects(
      client.request("submit_request", { tasks: [{ msgIds: ["ghost"], targets: [0], body: { kind: "apply", fn: 1 } as unknown as TaskBody, bufferCount: 0 }], fns: [fn] }),
      /SubmitError/,
    );
    assert.equal((await client.results(["ghost"])).get("ghost")!.result.error?.ename, "SubmitError");
  } finally {
    await scene.close();
  }
});
