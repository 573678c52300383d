/**
 * LoadBalancedView against a real cluster: the TypeScript counterparts of ipyparallel's
 * test_lbview.py (the bracketed name in each title is the ipyparallel test; see tests/CONFORMANCE.md).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AsyncMapResult, EngineError, LoadBalancedView, NoEnginesError, TaskAbortedError, TimeoutError } from "tsparallel";
import { eventually, sharedCluster, waitUntilBusy } from "./support/cluster-fixture.js";
import { instanceOf, remoteError } from "./support/remote-errors.js";

declare const lbRuns: number;
declare const myEngineId: number;

const nap = async (ms: number): Promise<number> => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
};

const shared = sharedCluster({ n: 2 });

describe("map", () => {
  test("map squares in input order, typed end to end [test_map]", async () => {
    const { client } = shared();
    const lv = client.loadBalancedView();
    const data = Array.from({ length: 16 }, (_, i) => i);
    const squares: number[] = await lv.map((x: number) => x ** 2, data);
    assert.deepEqual(squares, data.map((x) => x ** 2));
  });

  test("map calls the function with the item alone, not (item, index, array), on both views", async () => {
    const { client } = shared();
    const withDefault = (x: number, offset = 10) => x + offset;
    assert.deepEqual(await client.loadBalancedView().map(withDefault, [1, 2, 3], { chunkSize: 3 }), [11, 12, 13]);
    assert.deepEqual(await client.directView().map(withDefault, [1, 2, 3, 4]), [11, 12, 13, 14]);
  });

  test("a view's scheme travels with its tasks: each scheme maps correctly", async () => {
    const { client } = shared();
    for (const scheme of ["leastload", "lru", "random", "weighted"] as const) {
      const lv = client.loadBalancedView({ scheme });
      assert.deepEqual(await lv.map((x: number) => x + 1, [1, 2, 3, 4, 5, 6]), [2, 3, 4, 5, 6, 7], scheme);
    }
    // @ts-expect-error: not a scheme
    assert.throws(() => client.loadBalancedView({ scheme: "fastest" }), /unknown scheme "fastest"/);
  });

  test("map over a generator [test_map_generator]", async () => {
    const { client } = shared();
    function* sixteen() {
      for (let i = 0; i < 16; i++) yield i;
    }
    assert.deepEqual(await client.loadBalancedView().map((x: number) => x ** 2, sixteen()), Array.from(sixteen(), (x) => x ** 2));
  });

  test("a chunkSize-1 map of numbers, booleans, null and undefined gives each item back as it was, holes and array subclasses too", async () => {
    const { client } = shared();
    const lv = client.loadBalancedView();
    const items: unknown[] = [0, -0, NaN, 1.5, -(2 ** 40), Infinity, true, false, null, undefined, , 7];
    for (const chunkSize of [1, 2, 5]) {
      const back = await lv.map((x: unknown) => x, items, { chunkSize });
      assert.equal(back.length, items.length);
      for (let i = 0; i < items.length; i++) assert.ok(Object.is(back[i], items[i]), `chunkSize ${chunkSize}, item ${i}: ${String(back[i])}`);
      assert.ok(Object.is(back[1], -0));
    }
    class Items extends Array<number> {}
    assert.deepEqual(await lv.map((x: number) => x * 2, Items.from([1, 2, 3]), { chunkSize: 1 }), [2, 4, 6]);
    // Mutating the items after the call changes nothing sent: they were packed at the call.
    const numbers = [1, 2, 3, 4];
    const pending = lv.map((x: number) => x + 1, numbers, { chunkSize: 1 });
    numbers.fill(100);
    assert.deepEqual(await pending, [2, 3, 4, 5]);
  });

  test("map over 101 items, in chunks of any size [test_map_iterable]", async () => {
    const { client } = shared();
    const lv = client.loadBalancedView();
    const arr = Array.from({ length: 101 }, (_, i) => i);
    for (const chunkSize of [1, 3, 50, 101, 500]) {
      const amr = lv.map((x: number) => x, arr, { chunkSize });
      assert.equal(amr.length, Math.ceil(101 / chunkSize), `tasks for chunkSize ${chunkSize}`);
      assert.deepEqual(await amr.get(30_000), arr, `chunkSize ${chunkSize}`);
    }
  });

  test("a chunk size that is not a positive integer is refused before anything is sent", () => {
    const { client } = shared();
    const lv = client.loadBalancedView();
    for (const chunkSize of [0, -1, 1.5]) {
      assert.throws(() => lv.map((x: number) => x, [1, 2], { chunkSize }), instanceOf(RangeError, /chunkSize/));
    }
  });

  test("ordered iteration yields results in input order even when later items finish first [test_map_ordered]", async () => {
    const { client } = shared();
    const data = Array.from({ length: 8 }, (_, i) => 8 - i);
    const slowSquare = async (x: number) => {
      await new Promise((resolve) => setTimeout(resolve, 40 * x));
      return x ** 2;
    };
    const amr = client.loadBalancedView().map(slowSquare, data);
    assert.ok(amr instanceof AsyncMapResult);
    const seen: number[] = [];
    for await (const r of amr) seen.push(r);
    assert.deepEqual(seen, data.map((x) => x ** 2));
    assert.deepEqual(await amr, seen);
  });

  test("unordered iteration yields results as they arrive [test_map_unordered]", async () => {
    const { client } = shared();
    // Item 0 is slow; the other items finish long before it on the other engine.
    const data = [1500, 1, 2, 3, 4, 5];
    const slowFirst = async (ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return ms * 2;
    };
    const amr = client.loadBalancedView().map(slowFirst, data, { ordered: false });
    const seen: number[] = [];
    for await (const r of amr) seen.push(r);
    assert.notEqual(seen[0], 3000, `the slow item came first: ${seen.join(", ")}`);
    assert.deepEqual([...seen].sort((a, b) => a - b), data.map((x) => x * 2).sort((a, b) => a - b));
    // Awaiting still gives input order.
    assert.deepEqual(await amr, data.map((x) => x * 2));
  });
});

describe("map over several sequences and imap", () => {
  const f = (x: number | null, y: number | null) => (y === null ? y : x === null ? x : x * y);
  function* count(): Generator<number> {
    for (let i = 0; ; i++) yield i;
  }
  const pause = async (ms: number) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return ms;
  };

  test("map over two sequences stops at the shorter first one [test_map_short_first]", async () => {
    const { client } = shared();
    const data = Array.from({ length: 10 }, (_, i) => i);
    const data2 = [0, 1, 2, 3];
    const r: (number | null)[] = await client.loadBalancedView().map(f, data, data2);
    assert.deepEqual(r, data2.map((y, i) => f(data[i]!, y)));
    assert.deepEqual(await client.directView().map(f, data, data2), r);
  });

  test("map over two sequences stops at the shorter last one, with options after them [test_map_short_last]", async () => {
    const { client } = shared();
    const data = [0, 1, 2, 3];
    const data2 = Array.from({ length: 10 }, (_, i) => i);
    const r = await client.loadBalancedView().map(f, data, data2, { chunkSize: 3 });
    assert.deepEqual(r, data.map((x, i) => f(x, data2[i]!)));
    // Endless and array-like sequences zip too; three of them spread into three parameters.
    const three: string[] = await client.loadBalancedView().map((a: number, b: string, c: number) => `${a}${b}${c}`, count(), "xyz", new Uint8Array([7, 8, 9, 10]));
    assert.deepEqual(three, ["0x7", "1y8", "2z9"]);
    // @ts-expect-error: the second sequence must hold what the second parameter takes
    assert.throws(() => client.loadBalancedView().map((a: number, b: string) => a + b, [1], [2, 3], { chunkSize: 0 }), RangeError);
  });

  test("imap keeps at most maxOutstanding tasks in flight over an endless source [test_imap_max_outstanding]", async () => {
    const { client } = shared();
    const before = client.history.length;
    const gen = client.loadBalancedView().imap((i: number) => new Promise<number>((resolve) => setTimeout(() => resolve(i), 100)), count(), { maxOutstanding: 5 });
    assert.deepEqual(await gen.next(), { value: 0, done: false });
    assert.equal(client.history.length - before, 5);
    assert.deepEqual(await gen.next(), { value: 1, done: false });
    const sent = client.history.length - before;
    assert.ok(sent >= 6 && sent <= 8, `${sent} tasks sent`);
    await gen.return();
    assert.equal(await client.wait(undefined, 20_000), true);
    assert.equal(client.outstanding.size, 0);
  });

  test("breaking out of an endless imap stops reading its source [test_imap_infinite]", async () => {
    const { client } = shared();
    const before = client.history.length;
    const results: number[] = [];
    for await (const i of client.loadBalancedView().imap((x: number) => new Promise<number>((resolve) => setTimeout(() => resolve(x), 100)), count(), { maxOutstanding: 2 })) {
      results.push(i);
      if (i >= 3) break;
    }
    assert.deepEqual(results, [0, 1, 2, 3]);
    assert.equal(await client.wait(undefined, 20_000), true);
    const sent = client.history.length - before;
    assert.ok(sent >= 5 && sent < 8, `${sent} tasks sent`);
  });

  test("unordered imap yields fast results before a slow one [test_imap_unordered]", async () => {
    const { client } = shared();
    function* upAndDown(n: number) {
      for (let i = 0; i < n; i++) yield i % 4 === 0 ? 1500 + i : 10 * i;
    }
    const before = client.history.length;
    const results: number[] = [];
    for await (const t of client.loadBalancedView().imap(pause, upAndDown(10), { maxOutstanding: 2, ordered: false })) {
      results.push(t);
      if (results.length >= 3) break;
    }
    assert.ok(results.every((r) => r < 1500), `results ${results.join(", ")}`);
    assert.equal(await client.wait(undefined, 20_000), true);
    const sent = client.history.length - before;
    assert.ok(sent >= 4 && sent <= 6, `${sent} tasks sent`);
  });

  test("imap over an async iterable, with errors in place [test_imap_return_exceptions]", async () => {
    const { client } = shared();
    async function* five() {
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        yield i;
      }
    }
    const failOnEven = (n: number) => {
      if (n % 2 === 0) throw new RangeError("even!");
      return n;
    };
    const seen: (number | Error)[] = [];
    for await (const r of client.loadBalancedView().imap(failOnEven, five(), { returnExceptions: true })) seen.push(r);
    assert.equal(seen.length, 5);
    seen.forEach((r, i) => (i % 2 === 0 ? remoteError("RangeError")(r) : assert.equal(r, i)));
    // Without returnExceptions the first error ends the loop.
    await assert.rejects(async () => {
      for await (const r of client.loadBalancedView().imap(failOnEven, [1, 2, 3])) assert.equal(r, 1);
    }, remoteError("RangeError"));
    await assert.rejects(async () => {
      for await (const _ of client.loadBalancedView().imap(failOnEven, [1], { maxOutstanding: 0 })) assert.fail("nothing runs");
    }, RangeError);
  });
});

describe("apply and options", () => {
  test("apply and execute run on some engine, which the metadata names", async () => {
    const { client, ids } = shared();
    const lv = client.loadBalancedView();
    const ar = lv.apply((a: number, b: string) => `${b}${a}`, 7, "n");
    assert.equal(await ar, "n7");
    assert.ok(ids.includes(ar.engineIds[0]!), `engine ${ar.engineIds[0]}`);
    const ex = lv.execute("40 + 2");
    assert.equal(await ex, 42);
    assert.ok(ids.includes(ex.engineIds[0]!));
  });

  test("a view restricted to targets runs only there [test_lbview_targets]", async () => {
    const { client, ids } = shared();
    const last = ids.at(-1)!;
    const lv = client.loadBalancedView({ targets: [last] });
    const ars = Array.from({ length: 6 }, (_, i) => lv.apply((x: number) => x + 1, i));
    assert.deepEqual(await Promise.all(ars), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(ars.map((ar) => ar.engineIds[0]), Array(6).fill(last));
    const amr = lv.map((x: number) => x, [1, 2, 3, 4]);
    await amr;
    assert.deepEqual(amr.engineIds, [last, last, last, last]);
  });

  test("a view restricted to an engine that does not exist refuses work", () => {
    const { client } = shared();
    const lv = client.loadBalancedView({ targets: [9999] });
    assert.throws(() => lv.apply(() => 1), instanceOf(NoEnginesError, /9999/));
  });

  test("with() makes a view with changed options and leaves the original alone [test_temp_flags]", () => {
    const { client, ids } = shared();
    const lv = client.loadBalancedView({ retries: 1 });
    const narrowed = lv.with({ targets: [ids[0]!], timeout: 500 });
    assert.ok(narrowed instanceof LoadBalancedView);
    assert.notEqual(narrowed, lv);
    assert.deepEqual(narrowed.options, { retries: 1, targets: [ids[0]], timeout: 500 });
    assert.deepEqual(lv.options, { retries: 1 });
  });

  test("retries are for engine death: a task that throws runs once and fails", async () => {
    const { client } = shared();
    const all = client.directView();
    await all.execute("var lbRuns = 0");
    const lv = client.loadBalancedView({ retries: 1 });
    const failing = () => {
      (globalThis as { lbRuns?: number }).lbRuns = lbRuns + 1;
      throw new TypeError("Failed!");
    };
    await assert.rejects(lv.apply(failing).get(20_000), remoteError("TypeError"));
    const runs = await all.pull<number>("lbRuns");
    assert.equal(runs.reduce((a, b) => a + b, 0), 1, `runs per engine: ${runs.join(", ")}`);
  });

  test("with retryOnError a task that throws is retried on another engine, never twice on one [test_retries]", async () => {
    const { client, ids } = shared();
    const all = client.directView();
    await all.scatter("myEngineId", ids, { flatten: true });
    await all.execute("var lbRuns = 0");
    const bad = ids[0]!;
    const failsOnBad = (badId: number) => {
      (globalThis as { lbRuns?: number }).lbRuns = lbRuns + 1;
      if (myEngineId === badId) throw new TypeError(`failed on ${badId}`);
      return myEngineId;
    };
    // The good engine is busy, so the scheduler places the tasks on the bad one first; each retry may
    // then only go to the good one.
    const good = ids.find((id) => id !== bad)!;
    const busy = client.directView(good).apply(nap, 1000);
    await waitUntilBusy(client, [good]);
    const lv = client.loadBalancedView({ retries: 1, retryOnError: true });
    const results = await Promise.all([lv.apply(failsOnBad, bad), lv.apply(failsOnBad, bad)]);
    await busy;
    assert.deepEqual(results, [good, good]);
    const runs = await all.pull<number>("lbRuns");
    const badRuns = runs[ids.indexOf(bad)]!;
    assert.ok(badRuns >= 1, `the bad engine ran none of them (runs per engine: ${runs.join(", ")}), so no retry was tested`);
    assert.equal(runs[ids.indexOf(good)], 2, `runs per engine: ${runs.join(", ")}`);

    // Failing everywhere: one run per engine, however many retries are left, then the task's own error.
    await all.execute("lbRuns = 0");
    const always = () => {
      (globalThis as { lbRuns?: number }).lbRuns = lbRuns + 1;
      throw new RangeError("always");
    };
    await assert.rejects(client.loadBalancedView({ retries: 5, retryOnError: true }).apply(always).get(20_000), remoteError("RangeError"));
    assert.deepEqual(await all.pull<number>("lbRuns"), ids.map(() => 1));
    // retries alone are still only for engine death: the test above this one.
  });

  test("lb tasks waiting behind busy engines are aborted, by result or by msg ids [test_abort]", async () => {
    const { client, ids } = shared();
    const busy = client.directView().apply(nap, 1500);
    await waitUntilBusy(client, ids);
    const lv = client.loadBalancedView();
    const second = lv.apply(() => 2);
    const third = lv.apply(() => 3);
    await client.abort(second);
    await client.abort([...third.msgIds]);
    await assert.rejects(second.get(20_000), instanceOf(TaskAbortedError));
    await assert.rejects(third.get(20_000), instanceOf(TaskAbortedError));
    assert.deepEqual(await busy.get(20_000), [1500, 1500]);
  });

  test("wrongly typed map and apply arguments are compile errors", () => {
    const { client } = shared();
    const lv = client.loadBalancedView();
    const neverRun = () => {
      // @ts-expect-error strings are not numbers
      void lv.map((x: number) => x * x, ["a", "b"]);
      // @ts-expect-error missing argument
      void lv.apply((x: number) => x);
      // @ts-expect-error map gives an array of the function's (awaited) results
      const wrong: string[] = undefined as unknown as Awaited<ReturnType<typeof lv.map<number, Promise<number>>>>;
      void wrong;
    };
    assert.equal(typeof neverRun, "function");
  });
});

describe("placement timeout (hwm 1)", () => {
  const narrow = sharedCluster({ n: 2, controllerArgs: ["--hwm", "1"] });

  test("a task no engine takes in time fails with TimeoutError; one placed in time runs past it [test_short_timeout]", async () => {
    const { client, ids } = narrow();
    const first = ids[0]!;
    const lv = client.loadBalancedView({ targets: [first] });
    const blocker = lv.apply(nap, 2000);
    await waitUntilBusy(client, [first]);
    const late = lv.with({ timeout: 200 }).apply(() => "never placed");
    await assert.rejects(late.get(20_000), instanceOf(TimeoutError));
    assert.equal(await blocker.get(20_000), 2000);
    // The timeout bounds the wait for an engine, not the run.
    assert.equal(await lv.with({ timeout: 200 }).apply(nap, 600).get(20_000), 600);
  });
});

describe("engine death (balanced)", () => {
  const crashing = sharedCluster({ n: 2 });

  test("a task whose engine dies fails with EngineError, and the engine leaves client.ids [test_z_crash]", async () => {
    const { client } = crashing();
    const ar = client.loadBalancedView().apply(() => process.kill(process.pid, "SIGKILL"));
    await assert.rejects(ar.get(30_000), instanceOf(EngineError));
    const dead = ar.engineIds[0]!;
    assert.equal((ar.metadata[0]!.error as EngineError).engineId, dead);
    await eventually("the dead engine to leave client.ids", () => !client.ids.includes(dead));
    assert.deepEqual(await client.loadBalancedView().map((x: number) => x + 1, [1, 2, 3]), [2, 3, 4]);
  });
});
