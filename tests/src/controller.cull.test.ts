/**
 * The in-memory task store bounded by size, as ipyparallel's DictDB is (test_db.py's TestDictBackend
 * cull tests): past --db-max-bytes the oldest finished records are culled, a tenth under the bound; a
 * dropped (purged) record no longer counts, and a record's size counts its result once that arrives.
 * Real controller and engine, `--db memory`, a small cap so that a few 10 kB results reach it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Client } from "tsparallel";
import { eventually, startCluster } from "./support/cluster-fixture.js";

const RESULT = 10_000;
/** Ten results of RESULT bytes fit (with their small argument frames); an eleventh does not. */
const CAP = 105_000;

const tenKb = (i: number) => new Uint8Array(10_000).fill(i);

async function storeBytes(client: Client): Promise<number> {
  return (await client.status()).store!.bytes;
}

/** Runs `count` tasks that each return RESULT bytes, one after the other (so the history is in order). */
async function fill(client: Client, count: number): Promise<void> {
  const lv = client.loadBalancedView();
  for (let i = 0; i < count; i++) await lv.apply(tenKb, i);
}

/** What one such task adds to the store: its result and its argument frame. Checked, so the counts below hold. */
async function perTask(client: Client): Promise<number> {
  const bytes = (await storeBytes(client)) / (await client.controllerHistory()).length;
  assert.ok(bytes >= RESULT && bytes <= CAP / 10, `a task holds ${bytes} bytes in the store: the counts of this test assume ${RESULT} to ${CAP / 10}`);
  return bytes;
}

test("dropping a record frees its size: the cull comes only when the kept results pass the cap [test_cull_size_drop]", { timeout: 90_000 }, async () => {
  const { client, stop } = await startCluster({ n: 1, controllerArgs: ["--db", "memory", "--db-max-bytes", String(CAP)] });
  try {
    await fill(client, 10);
    assert.equal((await client.controllerHistory()).length, 10, "ten results fit under the cap");
    await perTask(client);
    const hist = await client.controllerHistory();
    assert.equal(await client.purgeResults([hist[hist.length - 1]!]), 1);
    assert.equal((await client.controllerHistory()).length, 9);
    await fill(client, 1);
    assert.equal((await client.controllerHistory()).length, 10, "the purged record's bytes are free again: no cull");
    await fill(client, 1);
    // Eleven results pass the cap: the oldest go until the rest is a tenth under it (two of them).
    const after = await client.controllerHistory();
    assert.equal(after.length, 9, `culled to ${after.length} records`);
    assert.ok(!after.includes(hist[0]!) && !after.includes(hist[1]!), "the two oldest are culled");
    assert.equal(after[0], hist[2], "the third oldest is kept");
    assert.ok((await storeBytes(client)) <= CAP * 0.9);
    assert.deepEqual((await client.dbQuery({ msgId: hist[0]! })).length, 0, "a culled record is gone from dbQuery too");
  } finally {
    await stop();
  }
});

test("a record's size is its result's once that arrives, and the result that passes the cap culls [test_cull_size_update]", { timeout: 90_000 }, async () => {
  const { client, stop } = await startCluster({ n: 1, controllerArgs: ["--db", "memory", "--db-max-bytes", String(CAP)] });
  const dir = mkdtempSync(join(tmpdir(), "tsp-cull-"));
  const release = join(dir, "release");
  try {
    await fill(client, 10);
    const perTaskBytes = await perTask(client);
    const before = await storeBytes(client);
    const hist = await client.controllerHistory();
    // Held on the engine until the file exists: pending, its record holds only its argument.
    const held = client.loadBalancedView().apply(async (path: string) => {
      const fs = process.getBuiltinModule("node:fs") as typeof import("node:fs");
      while (!fs.existsSync(path)) await new Promise((resolve) => setTimeout(resolve, 20));
      return new Uint8Array(10_000).fill(7);
    }, release);
    await eventually("the held task to be recorded", async () => (await client.controllerHistory()).length === 11);
    const pendingBytes = (await storeBytes(client)) - before;
    assert.ok(pendingBytes < RESULT, `a pending record holds ${pendingBytes} bytes: its argument, no result yet`);
    const [pending] = await client.dbQuery({ msgId: held.msgIds[0]! }, ["pending", "resultBytes"]);
    assert.deepEqual({ pending: pending!.pending, resultBytes: pending!.resultBytes }, { pending: true, resultBytes: 0 });
    writeFileSync(release, "");
    assert.equal((await held).length, 10_000);
    // Its result brought the store past the cap: the oldest went, a tenth under it.
    const after = await client.controllerHistory();
    assert.equal(after.length, 9, `culled to ${after.length} records (${perTaskBytes} bytes a task)`);
    assert.equal(after[after.length - 1], held.msgIds[0], "the task whose result came is kept");
    assert.ok(!after.includes(hist[0]!) && !after.includes(hist[1]!), "the two oldest are culled");
    const [done] = await client.dbQuery({ msgId: held.msgIds[0]! }, ["resultBytes"]);
    assert.ok(done!.resultBytes >= RESULT, `its size is its result's: ${done!.resultBytes}`);
    assert.ok((await storeBytes(client)) <= CAP * 0.9);
  } finally {
    writeFileSync(release, "");
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a purged record no longer counts against --keep-results: the live records keep their results [test_cull_size_drop]", { timeout: 90_000 }, async () => {
  const { client, stop } = await startCluster({ n: 1, controllerArgs: ["--db", "memory", "--keep-results", "4"] });
  try {
    const lv = client.loadBalancedView();
    const ars = [];
    for (let i = 0; i < 4; i++) {
      const ar = lv.apply((x: number) => x * 10, i);
      await ar;
      ars.push(ar);
    }
    assert.equal(await client.purgeResults(ars[3]!), 1);
    await lv.apply((x: number) => x * 10, 4);
    // Four records hold results, the bound: the oldest keeps its value.
    const oldest = await client.getResult(ars[0]!.msgIds[0]!);
    assert.equal(oldest.value, 0, `the oldest live result is kept (record: ${JSON.stringify(oldest)})`);
  } finally {
    await stop();
  }
});
