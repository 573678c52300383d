/**
 * The controller's task store (ipyparallel's task DB: test_db.py, and test_client.py's db_query /
 * resubmit / purge tests) on real clusters with a real SQLite file in the profile directory.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { profileDir } from "@tsparallel/protocol";
import type { Client } from "tsparallel";
import { sharedCluster, startCluster } from "./support/cluster-fixture.js";

const STORE_FILE = "tspcontroller-tasks.sqlite";

/** Waits for the controller to have every task of `client` finished (so no purge hits a pending one). */
async function settle(client: Client, ars: PromiseLike<unknown>[]): Promise<void> {
  await Promise.allSettled(ars);
  await client.controllerHistory();
}

describe("dbQuery (sqlite store)", () => {
  const cluster = sharedCluster({ n: 1 });

  test("the store is a SQLite file in the profile directory", () => {
    assert.ok(existsSync(join(profileDir(cluster().cluster.profile), STORE_FILE)));
  });

  test("filters by time with $lt/$gte and by equality [test_db_query_dt, test_find_records_dt]", async () => {
    const { client } = cluster();
    const lv = client.loadBalancedView();
    for (let i = 0; i < 8; i++) await lv.apply((x: number) => x + 1, i);
    const hist = await client.controllerHistory();
    const [middle] = await client.dbQuery({ msgId: hist[Math.floor(hist.length / 2)]! });
    const tic = middle!.submitted;
    const before = await client.dbQuery({ submitted: { $lt: tic } });
    const after = await client.dbQuery({ submitted: { $gte: tic } });
    assert.equal(before.length + after.length, hist.length);
    assert.ok(before.length > 0 && after.length > 0);
    for (const r of before) assert.ok(r.submitted < tic);
    for (const r of after) assert.ok(r.submitted >= tic);
    const same = await client.dbQuery({ submitted: tic });
    assert.ok(same.length >= 1);
    for (const r of same) assert.equal(r.submitted, tic);
  });

  test("keys: only the ones asked for, msgId always; by default every key but no values [test_db_query_keys, test_db_query_msg_id, test_db_query_default_keys]", async () => {
    const { client } = cluster();
    await client.loadBalancedView().apply(() => 1);
    const found = await client.dbQuery({ msgId: { $ne: "" } }, ["submitted", "completed"]);
    assert.ok(found.length > 0);
    for (const r of found) assert.deepEqual(Object.keys(r).sort(), ["completed", "msgId", "submitted"]);
    for (const r of await client.dbQuery({ msgId: { $ne: "" } }, "submitted")) assert.deepEqual(Object.keys(r).sort(), ["msgId", "submitted"]);
    for (const r of await client.dbQuery({ msgId: { $ne: "" } }, ["msgId"])) assert.deepEqual(Object.keys(r), ["msgId"]);
    const [all] = await client.dbQuery({ msgId: { $ne: "" } });
    assert.ok("status" in all! && "engineId" in all! && "resultBytes" in all!, "default keys are all the record's keys");
  });

  test("$in / $nin split the history [test_db_query_in, test_find_records_in]", async () => {
    const { client } = cluster();
    const lv = client.loadBalancedView();
    await Promise.all([1, 2, 3, 4].map((x) => lv.apply((y: number) => y, x)));
    const hist = await client.controllerHistory();
    const even = hist.filter((_, i) => i % 2 === 0);
    const odd = hist.filter((_, i) => i % 2 === 1);
    assert.deepEqual(new Set((await client.dbQuery({ msgId: { $in: even } })).map((r) => r.msgId)), new Set(even));
    assert.deepEqual(new Set((await client.dbQuery({ msgId: { $nin: even } })).map((r) => r.msgId)), new Set(odd));
  });

  test("null means absent: msgId null matches nothing, completed null finds the pending tasks [test_null]", async () => {
    const { client, ids } = cluster();
    const slow = client.directView(ids[0]!).apply(() => new Promise((resolve) => setTimeout(resolve, 1500)));
    await client.controllerHistory();
    assert.equal((await client.dbQuery({ msgId: null as unknown as string })).length, 0);
    assert.ok((await client.dbQuery({ msgId: { $ne: null } })).length >= 1);
    const pending = await client.dbQuery({ completed: null }, ["pending", "status"]);
    assert.deepEqual(pending.map((r) => r.msgId), [...slow.msgIds]);
    assert.equal(pending[0]!.pending, true);
    assert.equal(pending[0]!.status, null);
    await slow;
    assert.equal((await client.dbQuery({ completed: { $exists: false } })).length, 0);
    const [done] = await client.dbQuery({ msgId: slow.msgIds[0]! }, ["status", "engineId", "kind"]);
    assert.deepEqual(done, { msgId: slow.msgIds[0], status: "ok", engineId: ids[0], kind: "apply" });
  });

  test("a task written pending (over 500 ms queued or running) and finished later is stored with what finishing adds: status, output, error, result size", async () => {
    const { client } = cluster();
    const lv = client.loadBalancedView();
    const fails = lv.apply(() =>
      new Promise((_resolve, reject) =>
        setTimeout(() => {
          console.log("said before failing");
          reject(new RangeError("failed late"));
        }, 900),
      ),
    );
    const quiet = lv.apply(() => new Promise((resolve) => setTimeout(() => resolve("x".repeat(1000)), 900)));
    await settle(client, [fails, quiet]);
    const [failed] = await client.dbQuery({ msgId: fails.msgIds[0]! }, ["status", "stdout", "error", "pending"]);
    assert.equal(failed!.status, "error");
    assert.equal(failed!.pending, false);
    assert.match(failed!.stdout ?? "", /said before failing/);
    assert.equal(failed!.error?.ename, "RangeError");
    const [done] = await client.dbQuery({ msgId: quiet.msgIds[0]! }, ["status", "stdout", "error", "resultBytes", "completed"]);
    assert.equal(done!.status, "ok");
    assert.equal(done!.stdout ?? null, null);
    assert.equal(done!.error ?? null, null);
    assert.ok(done!.resultBytes > 1000, `the result's size is stored (${done!.resultBytes})`);
    assert.ok(typeof done!.completed === "number");
  });

  test("a filter it cannot mean is refused with a clear error, and the controller goes on", async () => {
    const { client } = cluster();
    await assert.rejects(client.dbQuery({ colour: "red" } as never), /QueryError: unknown key "colour"/);
    await assert.rejects(client.dbQuery({ submitted: { $near: 1 } } as never), /QueryError: unknown operator "\$near"/);
    await assert.rejects(client.dbQuery({ msgId: { $in: "x" } } as never), /QueryError: \$in on msgId needs an array/);
    await assert.rejects(client.dbQuery({}, ["nope"] as never), /QueryError: unknown key/);
    assert.equal(await client.loadBalancedView().apply(() => "still here"), "still here");
  });
});

describe("resubmit and purgeResults (sqlite store)", () => {
  const cluster = sharedCluster({ n: 1 });

  test("resubmit runs a finished task again under a new msgId, and the old record points at it [test_resubmit]", async () => {
    const { client } = cluster();
    const ar = client.loadBalancedView().apply(() => Math.random());
    const r1 = await ar;
    const again = client.resubmit(ar);
    const [r2] = await again;
    assert.equal(typeof r2, "number");
    assert.notEqual(r2, r1, "it ran again");
    assert.notEqual(again.msgIds[0], ar.msgIds[0]);
    const [old] = await client.dbQuery({ msgId: ar.msgIds[0]! }, ["resubmitted"]);
    assert.equal(old!.resubmitted, again.msgIds[0]);
    assert.equal(again.metadata[0]!.kind, "apply");
  });

  test("resubmit keeps the arguments, works for a chain, and from another client [test_resubmit_chain]", async () => {
    const { client, cluster: c } = cluster();
    const first = client.loadBalancedView().apply((s: string, n: number) => s.length * n, "x".repeat(1024), 2);
    assert.equal(await first, 2048);
    let ids = [...first.msgIds];
    for (let i = 0; i < 3; i++) {
      const next = client.resubmit(ids);
      assert.deepEqual(await next, [2048]);
      ids = [...next.msgIds];
    }
    const other = await c.connect({ activate: false });
    try {
      assert.deepEqual(await other.resubmit(ids), [2048], "a client that never saw the task resubmits it");
    } finally {
      other.close();
    }
  });

  test("resubmit of an aborted task and of a task still running both run [test_resubmit_aborted, test_resubmit_inflight]", async () => {
    const { client, ids } = cluster();
    const lv = client.loadBalancedView({ targets: [ids[0]!] });
    const sleeper = lv.apply(() => new Promise((resolve) => setTimeout(resolve, 800)));
    const aborted = lv.apply(() => "ran");
    await client.abort(aborted);
    await assert.rejects(async () => await aborted, /abort/i);
    assert.deepEqual(await client.resubmit(aborted), ["ran"]);
    const inflight = client.resubmit(sleeper);
    await sleeper;
    assert.deepEqual(await inflight, [undefined]);
  });

  test("resubmit of an unknown msgId is refused and runs nothing [test_resubmit_badkey]", async () => {
    const { client } = cluster();
    const ar = client.loadBalancedView().apply(() => 1);
    await ar;
    const before = (await client.controllerHistory()).length;
    await assert.rejects(async () => await client.resubmit([ar.msgIds[0]!, "invalid"]), /ResubmitError: no such task\(s\): invalid/);
    assert.equal((await client.controllerHistory()).length, before);
  });

  test("purgeResults forgets finished tasks, refuses pending ones, and 'all' keeps only the pending [test_purge_hub_results, test_purge_all_hub_results, test_drop_record, test_drop_matching]", async () => {
    const { client, ids } = cluster();
    const dv = client.directView(ids[0]!);
    const ars = [1, 2, 3].map((x) => dv.apply((y: number) => y * 10, x));
    await settle(client, ars);
    const hist = await client.controllerHistory();
    const last = hist[hist.length - 1]!;
    assert.equal((await client.getResult(last)).status, "ok");
    assert.equal(await client.purgeResults([last]), 1);
    const after = await client.controllerHistory();
    assert.equal(after.length + 1, hist.length);
    assert.ok(!after.includes(last));
    await assert.rejects(client.getResult(last), /no record of task/);

    const slow = dv.apply(() => new Promise((resolve) => setTimeout(() => resolve("slow"), 1500)));
    await client.controllerHistory();
    await assert.rejects(client.purgeResults(slow), /PendingTaskError/);
    const purged = await client.purgeResults("all");
    assert.equal(purged, after.length);
    assert.deepEqual(await client.controllerHistory(), [...slow.msgIds], "only the pending task is left");
    assert.equal(await slow, "slow");
    assert.deepEqual((await client.dbQuery({ msgId: { $ne: "" } }, ["status"])).map((r) => r.status), ["ok"]);
  });
});

test("a result over the store's size cap reaches its client, is not stored, and its record says so", { timeout: 90_000 }, async () => {
  const { client, cluster: c, stop } = await startCluster({ n: 1, controllerArgs: ["--db-max-value-bytes", "4096"] });
  try {
    const lv = client.loadBalancedView();
    const big = lv.apply(() => new Uint8Array(64 * 1024).fill(7));
    const small = lv.apply(() => new Uint8Array(16).fill(1));
    assert.equal((await big).length, 64 * 1024, "the client got the whole value");
    await small;
    const notes = await client.dbQuery({ note: { $ne: null } }, ["note", "resultBytes"]);
    assert.deepEqual(notes.map((r) => r.msgId), [...big.msgIds]);
    assert.match(notes[0]!.note!, /over the task store's cap of 4096 bytes per value: it went to its client but is not kept in the store/);
    assert.ok(notes[0]!.resultBytes > 64 * 1024);
    assert.match((await client.getResult(big.msgIds[0]!)).note ?? "", /over the task store's cap/);
    const [smallRecord] = await client.dbQuery({ msgId: small.msgIds[0]! }, ["note"]);
    assert.equal(smallRecord!.note, null);
    assert.ok(existsSync(join(profileDir(c.profile), STORE_FILE)));
  } finally {
    await stop();
  }
});

test("the store is bounded: past --db-max-records and --db-max-bytes the oldest finished tasks are culled [test_cull_count, test_cull_size]", { timeout: 120_000 }, async () => {
  const { client, stop } = await startCluster({ n: 1, controllerArgs: ["--db-max-records", "50", "--db-max-bytes", "40000"] });
  try {
    const lv = client.loadBalancedView();
    await lv.map((x: number) => x, Array.from({ length: 200 }, (_, i) => i), { chunkSize: 1 });
    const counted = await client.controllerHistory();
    assert.ok(counted.length <= 50, `${counted.length} records kept, at most 50`);
    assert.ok(counted.length >= 40, `culling takes a tenth, not everything (${counted.length} kept)`);
    // Bytes: each of these results is 2 KiB, so 40,000 bytes hold fewer than 20 of them.
    for (let i = 0; i < 30; i++) await lv.apply((n: number) => new Uint8Array(2048).fill(n), i);
    const kept = await client.dbQuery({ resultBytes: { $gt: 2000 } }, ["resultBytes"]);
    assert.ok(kept.length < 20, `${kept.length} 2 KiB results kept within 40,000 bytes`);
    const hist = await client.controllerHistory();
    const newest = (await client.dbQuery({ resultBytes: { $gt: 2000 } }, ["submitted"])).sort((a, b) => a.submitted - b.submitted).pop();
    assert.equal(hist[hist.length - 1], newest!.msgId, "the newest task is kept");
  } finally {
    await stop();
  }
});

test("--db memory keeps the records in memory: no store file, and dbQuery / purgeResults still work", { timeout: 90_000 }, async () => {
  const { client, cluster: c, stop } = await startCluster({ n: 1, controllerArgs: ["--db", "memory"] });
  try {
    const lv = client.loadBalancedView();
    const ars = [lv.apply(() => 1), lv.apply(() => 2)];
    await Promise.all(ars);
    assert.ok(!existsSync(join(profileDir(c.profile), STORE_FILE)));
    const found = await client.dbQuery({ msgId: { $in: [...ars[0]!.msgIds] } }, ["status"]);
    assert.deepEqual(found, [{ msgId: ars[0]!.msgIds[0], status: "ok" }]);
    assert.deepEqual(await client.resubmit(ars[1]!), [2]);
    assert.equal(await client.purgeResults(ars[0]!), 1);
    assert.equal((await client.dbQuery({ msgId: ars[0]!.msgIds[0]! })).length, 0);
  } finally {
    await stop();
  }
});
