import assert from "node:assert/strict";
import { test } from "node:test";
import type { FakeEngine } from "./support/controller-harness.js";
import { noop, Scene, waitFor } from "./support/controller-harness.js";

/** Collects tasks from engines until they hold `total` between them. */
async function spread(engines: FakeEngine[], total: number): Promise<number[]> {
  await waitFor(
    () => {
      for (const engine of engines) void engine.drainTasks();
      return engines.reduce((n, e) => n + e.tasks.length, 0) >= total;
    },
    `${total} tasks to reach the engines`,
  );
  return engines.map((e) => e.tasks.length);
}

for (const scheme of ["leastload", "lru", "random", "weighted"]) {
  test(`the ${scheme} scheme spreads load-balanced tasks across engines`, { timeout: 30_000 }, async () => {
    const scene = await Scene.start(["--scheme", scheme, "--hwm", "0", "--lb-window", "hwm"]);
    try {
      const client = await scene.client();
      const engines = [await scene.engine(), await scene.engine()];
      client.submit(Array.from({ length: 40 }, () => ({ targets: null, body: noop })));
      const counts = await spread(engines, 40);
      assert.equal(counts[0]! + counts[1]!, 40);
      if (scheme === "leastload" || scheme === "lru") assert.deepEqual(counts, [20, 20]);
      else assert.ok(counts.every((n) => n > 0), `both engines got tasks: ${counts.join("/")}`);
      const status = await client.request<"status_reply">("status_request", {});
      assert.equal(status.content.controller.scheme, scheme);
    } finally {
      await scene.close();
    }
  });
}

test("no engine ever holds more than hwm load-balanced tasks; the rest wait and flow as engines free up", { timeout: 30_000 }, async () => {
  const hwm = 2;
  const scene = await Scene.start(["--hwm", String(hwm)]);
  try {
    const client = await scene.client();
    const engines = [await scene.engine(), await scene.engine()];
    const ids = client.submit(Array.from({ length: 10 }, () => ({ targets: null, body: noop }))).flat();

    await Promise.all(engines.map((e) => e.takeTasks(hwm)));
    const queue = await client.request<"queue_status_reply">("queue_status_request", {});
    assert.equal(queue.content.unassigned, 6);
    assert.deepEqual([queue.content.engines["0"]!.queue, queue.content.engines["1"]!.queue], [2, 2]);
    await Promise.all(engines.map((e) => e.drainTasks()));
    assert.deepEqual(engines.map((e) => e.tasks.length), [2, 2], "nothing beyond hwm was sent");

    // Each engine answers one task at a time; it must never hold more than hwm unanswered.
    const replied = [0, 0];
    let maxHeld = 0;
    while (replied[0]! + replied[1]! < 10) {
      for (const [i, engine] of engines.entries()) {
        await engine.drainTasks();
        maxHeld = Math.max(maxHeld, engine.tasks.length - replied[i]!);
        if (engine.tasks.length > replied[i]!) {
          engine.reply([engine.tasks[replied[i]!]!]);
          replied[i]!++;
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(maxHeld <= hwm, `an engine held ${maxHeld} tasks`);
    const results = await client.results(ids);
    assert.equal(results.size, 10);
  } finally {
    await scene.close();
  }
});

test("waiting tasks are placed on an engine that registers later; lb targets are honoured", { timeout: 30_000 }, async () => {
  const scene = await Scene.start(["--hwm", "1"]);
  try {
    const client = await scene.client();
    const e0 = await scene.engine();
    const [[a], [b], [c]] = client.submit([
      { targets: null, body: noop },
      { targets: null, body: noop },
      { targets: null, lb: { targets: [0] }, body: noop },
    ]);
    await e0.takeTasks(1);
    const e1 = await scene.engine();
    const [late] = await e1.takeTasks(1);
    assert.equal(late!.task.msgId, b, "the oldest waiting task went to the new engine");

    // c may only run on engine 0: it waits for it even though engine 1 frees up first.
    e1.reply([late!]);
    await client.results([b!]);
    await client.request("status_request", {});
    await e1.drainTasks();
    assert.equal(e1.tasks.length, 1);
    e0.reply(e0.tasks);
    await client.results([a!]);
    const [pinned] = await e0.takeTasks(1);
    assert.equal(pinned!.task.msgId, c);
  } finally {
    await scene.close();
  }
});

test("abort: waiting tasks are aborted here, tasks held by an engine are forwarded to it", { timeout: 30_000 }, async () => {
  const scene = await Scene.start(["--hwm", "1"]);
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    const [[held], [w1], [w2]] = client.submit([0, 1, 2].map(() => ({ targets: null, body: noop })));
    await engine.takeTasks(1);

    const reply = await client.request<"abort_reply">("abort_request", { msgIds: [w1!, w2!, held!] });
    assert.deepEqual(reply.content.aborted.sort(), [w1!, w2!].sort());
    const results = await client.results([w1!, w2!]);
    for (const { result } of results.values()) assert.equal(result.status, "aborted");
    const forwarded = await engine.inbox.next("abort_request");
    assert.deepEqual(forwarded.content.msgIds, [held]);

    const queue = await client.request<"queue_status_reply">("queue_status_request", { verbose: true });
    assert.equal(queue.content.unassigned, 0);
    assert.deepEqual(queue.content.engines["0"], { queue: 1, completed: 0, failed: 0, tasks: [held] });

    // The engine aborts it and says so; the aborted ones never reach it.
    engine.reply([engine.tasks[0]!], () => [], "aborted");
    assert.equal((await client.results([held!])).get(held!)!.result.status, "aborted");
    await client.request("status_request", {});
    await engine.drainTasks();
    assert.equal(engine.tasks.length, 1);
  } finally {
    await scene.close();
  }
});

test("abort without msgIds aborts only the requesting client's waiting tasks", { timeout: 30_000 }, async () => {
  const scene = await Scene.start(["--hwm", "1"]);
  try {
    const mine = await scene.client();
    const theirs = await scene.client();
    const engine = await scene.engine();
    const [[first]] = theirs.submit([{ targets: null, body: noop }]);
    await engine.takeTasks(1);
    const [[other]] = theirs.submit([{ targets: null, body: noop }]);
    await theirs.request("status_request", {});
    const [[own]] = mine.submit([{ targets: null, body: noop }]);
    const queue = await mine.request<"queue_status_reply">("queue_status_request", {});
    assert.equal(queue.content.unassigned, 2);
    const reply = await mine.request<"abort_reply">("abort_request", {});
    assert.deepEqual(reply.content.aborted, [own]);
    engine.reply([engine.tasks[0]!]);
    await theirs.results([first!]);
    const [next] = await engine.takeTasks(1);
    assert.equal(next!.task.msgId, other);
  } finally {
    await scene.close();
  }
});

test("a load-balanced task still unassigned after lb.timeoutMs fails with TimeoutError", { timeout: 30_000 }, async () => {
  const scene = await Scene.start(["--hwm", "1"]);
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    const [[busy], [impatient]] = client.submit([
      { targets: null, body: noop },
      { targets: null, lb: { timeoutMs: 200 }, body: noop },
    ]);
    await engine.takeTasks(1);
    const result = (await client.results([impatient!])).get(impatient!)!.result;
    assert.equal(result.error?.ename, "TimeoutError");
    engine.reply(engine.tasks);
    await client.results([busy!]);
    await client.request("status_request", {});
    await engine.drainTasks();
    assert.equal(engine.tasks.length, 1, "the timed-out task was never sent");
  } finally {
    await scene.close();
  }
});

/** What the controller holds per engine and in its unassigned queue, after everything sent so far. */
async function queues(client: Awaited<ReturnType<Scene["client"]>>): Promise<{ held: number; unassigned: number }> {
  const reply = await client.request<"queue_status_reply">("queue_status_request", {});
  const held = Object.values(reply.content.engines).reduce((n, q) => n + q.queue, 0);
  return { held, unassigned: reply.content.unassigned };
}

test("adaptive window: a new kind of task starts at 2 per engine, and long-running ones then go one at a time", { timeout: 30_000 }, async () => {
  const scene = await Scene.start(["--hwm", "8"]);
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    client.submit(Array.from({ length: 10 }, () => ({ targets: null, body: noop })));
    const first = await engine.takeTasks(2);
    assert.deepEqual(await queues(client), { held: 2, unassigned: 8 }, "slow start: 2 before any run time is known");
    engine.reply(first, () => [], "ok", 200);
    const [next] = await engine.takeTasks(1);
    assert.deepEqual(await queues(client), { held: 1, unassigned: 7 }, "a 200 ms task: the engine holds one at a time");
    engine.reply([next!], () => [], "ok", 200);
    await engine.takeTasks(1);
    assert.deepEqual(await queues(client), { held: 1, unassigned: 6 });
  } finally {
    await scene.close();
  }
});

test("adaptive window: tiny tasks fill an engine up to hwm once their run time is known", { timeout: 30_000 }, async () => {
  const scene = await Scene.start(["--hwm", "8"]);
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    client.submit(Array.from({ length: 60 }, () => ({ targets: null, body: noop })));
    const first = await engine.takeTasks(2);
    engine.reply(first, () => [], "ok", 0);
    await engine.takeTasks(8);
    assert.deepEqual(await queues(client), { held: 8, unassigned: 50 });
  } finally {
    await scene.close();
  }
});

test("adaptive window: near the end of the work an engine holds a small share, so the tail balances", { timeout: 30_000 }, async () => {
  const scene = await Scene.start(["--hwm", "8"]);
  try {
    const client = await scene.client();
    // A run time learnt from a tiny task would let one engine take many of the tasks below.
    const first = await scene.engine();
    client.submit([{ targets: null, body: noop }]);
    first.reply(await first.takeTasks(1), () => [], "ok", 0);
    const engines = [first, await scene.engine()];
    client.submit(Array.from({ length: 8 }, () => ({ targets: null, body: noop })));
    await Promise.all(engines.map((e) => e.takeTasks(1)));
    assert.deepEqual(await queues(client), { held: 2, unassigned: 6 }, "8 tasks left on 2 engines: one each at a time");
  } finally {
    await scene.close();
  }
});

test("--lb-window hwm: every engine takes up to hwm at once, as ipyparallel does", { timeout: 30_000 }, async () => {
  const scene = await Scene.start(["--hwm", "8", "--lb-window", "hwm"]);
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    client.submit(Array.from({ length: 30 }, () => ({ targets: null, body: noop })));
    await engine.takeTasks(8);
    assert.deepEqual(await queues(client), { held: 8, unassigned: 22 });
  } finally {
    await scene.close();
  }
});

test("a task's lb.scheme overrides the controller's scheme for that task", { timeout: 30_000 }, async () => {
  const scene = await Scene.start(["--scheme", "leastload", "--hwm", "8", "--lb-window", "hwm"]);
  try {
    const client = await scene.client();
    const a = await scene.engine();
    const b = await scene.engine();
    // A then B take one load-balanced task each, so B was assigned most recently.
    for (const engine of [a, b]) {
      client.submit([{ targets: null, body: noop }]);
      engine.reply(await engine.takeTasks(1));
    }
    // A now holds a direct task: leastload would pick B, lru picks A (assigned longest ago).
    client.submit([{ targets: [a.id], body: noop }]);
    await a.takeTasks(1);
    client.submit([{ targets: null, lb: { scheme: "lru" }, body: noop }]);
    const [lru] = await a.takeTasks(1);
    assert.ok(lru, "the lru task went to engine A despite its load");
    client.submit([{ targets: null, body: noop }]);
    assert.equal((await b.takeTasks(1)).length, 1, "without lb.scheme the controller's leastload picks B");
  } finally {
    await scene.close();
  }
});
