/**
 * AsyncResults as arguments (Dask futures style, beyond ipyparallel): `lv.apply(g, lv.apply(f, x))`
 * runs g on f's value, which the controller sends on from engine to engine without the client ever
 * receiving it; chains and DAGs; a failed input fails the tasks that take it with DependencyError.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { DependencyError, TaskAbortedError } from "tsparallel";
import { sharedCluster } from "./support/cluster-fixture.js";

const shared = sharedCluster({ n: 2 });

describe("AsyncResult arguments resolved on the engines", () => {
  test("an 8 MB intermediate goes from task to task without reaching the client; awaiting it later fetches it", async () => {
    const { client } = shared();
    const lv = client.loadBalancedView();
    const before = client.received;
    const big = lv.apply((n: number) => new Float64Array(n).fill(1.5), 1_000_000);
    const total = lv.apply((values: Float64Array) => values.reduce((sum, x) => sum + x, 0), big);
    assert.equal(await total, 1_500_000);
    assert.ok(big.ready(), "the intermediate task is done");
    const after = client.received;
    assert.equal(after.results - before.results, 2, "one result for each task, the intermediate one without its value");
    assert.ok(after.resultBytes - before.resultBytes < 64 * 1024, `result bytes received: ${after.resultBytes - before.resultBytes}`);

    const fetched = await big;
    assert.ok(fetched instanceof Float64Array);
    assert.equal(fetched.length, 1_000_000);
    assert.equal(fetched[999_999], 1.5);
    assert.ok(client.received.resultBytes - after.resultBytes >= 8_000_000, "the value came only when asked for");
  });

  test("chains and DAGs give the right values, also nested in arguments and on a direct view", async () => {
    const { client, ids } = shared();
    const lv = client.loadBalancedView();
    const x = lv.apply(async (v: number) => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      return v;
    }, 2);
    const y = lv.apply((v: number) => v * 10, x);
    const z = lv.apply((v: number) => v + 1, x);
    const joined = lv.apply((p: number, q: number) => ({ p, q }), y, z);
    const nested = lv.apply((o: { list: number[]; k: number }) => o.list[0]! + o.k, { list: [y], k: z });
    const direct = client.directView(ids.at(-1)!).apply((v: number, w: { p: number; q: number }) => [v, w], x, joined);
    let chain = lv.apply(() => 0);
    for (let i = 0; i < 10; i++) chain = lv.apply((v: number) => v + 1, chain);
    assert.deepEqual(await joined, { p: 20, q: 3 });
    assert.equal(await nested, 23);
    assert.deepEqual(await direct, [2, { p: 20, q: 3 }]);
    assert.equal(await chain, 10);
    assert.equal(await x, 2);
  });

  test("a result that is already here travels as its value", async () => {
    const { client } = shared();
    const lv = client.loadBalancedView();
    const done = lv.apply(() => 5);
    assert.equal(await done, 5);
    assert.equal(await lv.apply((v: number) => v + 1, done), 6);
  });

  test("a failed input fails the tasks that take it with DependencyError naming the task and its error, down the chain", async () => {
    const { client } = shared();
    const lv = client.loadBalancedView();
    const bad = lv.apply(() => {
      throw new RangeError("no such thing");
    });
    const next = lv.apply((v: number) => v, bad);
    const last = lv.apply((v: number) => v, next);
    const fine = lv.apply((v: number) => v, lv.apply(() => 1));
    await assert.rejects(next.get(), (err: unknown) => {
      assert.ok(err instanceof DependencyError, String(err));
      assert.match(err.message, /RangeError: no such thing/);
      assert.ok(err.message.includes(bad.msgIds[0]!), err.message);
      return true;
    });
    await assert.rejects(last.get(), (err: unknown) => err instanceof DependencyError && err.message.includes(next.msgIds[0]!) && /DependencyError/.test(err.message));
    assert.equal(await fine, 1);
    await assert.rejects(bad.get(), /no such thing/);
  });

  test("a task waiting for another task's result can be aborted; the one it waited for still runs", async () => {
    const { client } = shared();
    const lv = client.loadBalancedView();
    const dir = mkdtempSync(join(tmpdir(), "tsp-futures-"));
    const flag = join(dir, "go");
    try {
      const slow = lv.apply(async (file: string) => {
        const fs = process.getBuiltinModule("node:fs") as typeof import("node:fs");
        while (!fs.existsSync(file)) await new Promise((resolve) => setTimeout(resolve, 20));
        return 1;
      }, flag);
      const waiting = lv.apply((v: number) => v + 1, slow);
      await waiting.abort();
      await assert.rejects(waiting.get(30_000), (err: unknown) => err instanceof TaskAbortedError);
      writeFileSync(flag, "");
      assert.equal(await slow, 1);
      assert.equal(client.outstanding.has(waiting.msgIds[0]!), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("results of several tasks or of a map are refused as arguments with a clear error", async () => {
    const { client } = shared();
    const lv = client.loadBalancedView();
    const mapped = lv.map((v: number) => v, [1, 2, 3]);
    assert.throws(() => lv.apply((v: unknown) => v, mapped), /map's result cannot be an argument/);
    const everywhere = client.directView().apply(() => 1);
    assert.throws(() => lv.apply((v: unknown) => v, everywhere), /only the result of one task/);
    await Promise.all([mapped, everywhere]);
  });
});
