/**
 * BroadcastView against a real cluster of 4 engines: the counterparts of ipyparallel's
 * test_view_broadcast.py (which reruns test_view.py through broadcast views, coalescing or not, plus
 * test_engine_metadata and test_target_ordering). A DirectView on "all" engines takes the same path,
 * so view.test.ts runs its all-engine tests through it too. See tests/CONFORMANCE.md.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { BroadcastView, DirectView, EngineError } from "tsparallel";
import { eventually, sharedCluster } from "./support/cluster-fixture.js";
import { compositeOf, instanceOf, remoteError } from "./support/remote-errors.js";

declare const rank: number;
declare const bcastValue: { list: number[] };
declare const bcastDouble: (x: number) => number;

const shared = sharedCluster({ n: 4 });

describe("BroadcastView", () => {
  test("execute, apply, push, pull, clear and import reach every target, one value per engine in target order [test_view.py through broadcast_view]", async () => {
    const { client, ids } = shared();
    const bv = client.broadcastView();
    assert.ok(bv instanceof BroadcastView && bv instanceof DirectView);
    assert.deepEqual(bv.targets, ids);

    assert.deepEqual(await bv.execute("var seen = 40 + 2; seen"), ids.map(() => 42));
    assert.deepEqual(await bv.push({ bcastValue: { list: [1, 2, 3] }, bcastDouble: (x: number) => x * 2 }), ids.map(() => undefined));
    assert.deepEqual(await bv.pull("bcastValue"), ids.map(() => ({ list: [1, 2, 3] })));
    assert.deepEqual(await bv.apply((k: number) => bcastDouble(bcastValue.list.length + k), 1), ids.map(() => 8));
    const pulled = await bv.pull<(x: number) => number>("bcastDouble");
    assert.deepEqual(pulled.map((f) => f(5)), ids.map(() => 10));
    await bv.import("node:path", { as: "bcastPath" });
    assert.deepEqual(await bv.execute("bcastPath.basename('/a/b.txt')"), ids.map(() => "b.txt"));
    const ar = bv.apply(() => process.pid);
    const pids = await ar;
    assert.equal(new Set(pids).size, ids.length, "one distinct engine process per value");
    assert.deepEqual(ar.engineIds, ids);
    await bv.clear();
    await assert.rejects(bv.pull("bcastValue").get(), compositeOf("NameError", ids.length));
  });

  test("a pulled rank gives the engine ids in the order of the view's targets: all, reversed, every other one [test_target_ordering]", async () => {
    const { client, ids } = shared();
    await client.directView(ids).scatter("rank", ids, { flatten: true });
    for (const targets of [ids, [...ids].reverse(), ids.filter((_, i) => i % 2 === 0), ids.filter((_, i) => i % 2 === 0).reverse()]) {
      const view = client.broadcastView(targets);
      assert.deepEqual(view.targets, targets);
      assert.deepEqual(await view.pull<number>("rank"), targets, `targets ${targets.join(",")}`);
    }
  });

  test("each value comes with its engine: ar.engineIds equals the pulled ranks [test_engine_metadata]", async () => {
    const { client, ids } = shared();
    await client.directView(ids).scatter("rank", ids, { flatten: true });
    for (const targets of [ids, ids.filter((_, i) => i % 2 === 1).reverse()]) {
      const ar = client.broadcastView(targets).pull<number>("rank");
      const result = await ar.get(20_000);
      assert.ok(Array.isArray(ar.engineIds));
      assert.deepEqual(result, ar.engineIds);
      assert.deepEqual([...ar.engineIds].sort((a, b) => a! - b!), [...targets].sort((a, b) => a - b));
      assert.deepEqual(await ar.getDict(), Object.fromEntries(targets.map((id) => [id, id])));
    }
  });

  test("a failure on every engine is a CompositeError of one remote error per engine; on one engine only that value fails", async () => {
    const { client, ids } = shared();
    const bv = client.broadcastView();
    await assert.rejects(bv.execute("1n / 0n").get(), compositeOf("RangeError", ids.length));
    await client.directView(ids).scatter("rank", ids, { flatten: true });
    const last = ids.at(-1)!;
    const ar = bv.apply((bad: number) => {
      if (rank === bad) throw new TypeError(`engine ${rank} refuses`);
      return rank;
    }, last);
    const values = await ar.get(20_000, { returnExceptions: true });
    assert.deepEqual(values.slice(0, -1), ids.slice(0, -1));
    remoteError("TypeError", last)(values.at(-1));
  });

  test("results of fast engines arrive while a slow engine still runs: the gathering never waits for the slowest", async () => {
    const { client, ids } = shared();
    const dir = mkdtempSync(join(tmpdir(), "tsp-bcast-"));
    const flag = join(dir, "go");
    try {
      await client.directView(ids).scatter("rank", ids, { flatten: true });
      const slow = ids[0]!;
      const ar = client.broadcastView().apply(
        async (slowRank: number, file: string) => {
          const fs = process.getBuiltinModule("node:fs") as typeof import("node:fs");
          while (rank === slowRank && !fs.existsSync(file)) await new Promise((resolve) => setTimeout(resolve, 20));
          return rank;
        },
        slow,
        flag,
      );
      await eventually("the fast engines' results", () => ar.progress >= ids.length - 1);
      assert.equal(ar.failures, 0, String(ar.metadata.map((m) => m.error).find(Boolean)));
      assert.equal(ar.ready(), false);
      assert.equal(ar.metadata[0]!.status, undefined, "the slow engine's task is still running");
      writeFileSync(flag, "");
      assert.deepEqual(await ar, ids);
      assert.ok(existsSync(flag));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a DirectView on all engines and a BroadcastView give the same values; a broadcast view on one engine works", async () => {
    const { client, ids } = shared();
    await client.directView(ids).scatter("rank", ids, { flatten: true });
    assert.deepEqual(await client.directView().pull("rank"), ids);
    assert.deepEqual(await client.directView("all", { broadcast: false }).pull("rank"), ids);
    assert.deepEqual(await client.broadcastView([ids[1]!]).pull("rank"), [ids[1]]);
    assert.throws(() => client.broadcastView([999]).execute("1"), instanceOf(Error, /999/));
  });

  test("an engine that dies during a broadcast fails only its own value with EngineError; the others' values arrive", async () => {
    const { client, ids } = shared();
    await client.directView(ids).scatter("rank", ids, { flatten: true });
    const victim = ids.at(-1)!;
    const ar = client.broadcastView().apply(async (dies: number) => {
      if (rank === dies) process.kill(process.pid, "SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, 200));
      return rank;
    }, victim);
    const values = await ar.get(60_000, { returnExceptions: true });
    assert.deepEqual(values.slice(0, -1), ids.slice(0, -1));
    assert.ok(values.at(-1) instanceof EngineError, `the dead engine's value: ${String(values.at(-1))}`);
  });
});
