/**
 * Function shipping against hostile and heavy use (issue 8): a key holder sends a source under the
 * hash of another client's function, and thousands of distinct functions go through a cluster whose
 * function caches are small. On the base commit the first source sent for a hash won (another client's
 * `x => x + 1` returned 666) and every source stayed in the controller for good.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as zmq from "zeromq";
import { decodeMessage, describeFunction, newMessageId, Signer, type MessageContents } from "@tsparallel/protocol";
import { rssOf } from "./support/rss.js";
import { sharedCluster } from "./support/cluster-fixture.js";
import { rawClientPeer, rawSignedFrames, submitHeader } from "./support/raw-peer.js";

const TEST_TIMEOUT = { timeout: 180_000 };

/** Reads task_reply results from a raw peer until every msgId has one. */
async function resultsFor(dealer: zmq.Dealer, signer: Signer, msgIds: string[]): Promise<Map<string, MessageContents["task_reply"]["results"][number]>> {
  const found = new Map<string, MessageContents["task_reply"]["results"][number]>();
  while (found.size < msgIds.length) {
    const frames = await dealer.receive();
    const msg = decodeMessage<MessageContents["task_reply"]>(signer, frames);
    if (msg.header.msg_type !== "task_reply") continue;
    for (const result of msg.content.results) if (msgIds.includes(result.msgId)) found.set(result.msgId, result);
  }
  return found;
}

describe("a source sent under another function's hash", () => {
  const shared = sharedCluster();

  test("is refused with FunctionHashMismatch, and the other client's lv.map(x => x + 1) still returns [2, 3, 4]", TEST_TIMEOUT, async () => {
    const { client, ids } = shared();
    const { dealer, key } = rawClientPeer(client.connectionFile);
    dealer.receiveTimeout = 30_000;
    const signer = new Signer(key);
    const increment = (x: number) => x + 1;
    const { hash, name } = describeFunction(increment);
    try {
      // The rogue goes first, to every engine, so a controller or engine that kept it would hand it on.
      const msgIds = ids.map(() => newMessageId());
      const task = { msgIds, targets: ids, body: { kind: "apply", fn: { hash, name, source: "(x) => 666" } }, bufferCount: 0 };
      await dealer.send(rawSignedFrames(signer, submitHeader(), JSON.stringify({ tasks: [task] })));
      const results = await resultsFor(dealer, signer, msgIds);
      for (const result of results.values()) {
        assert.equal(result.status, "error", "the poisoned source ran");
        assert.equal(result.error?.ename, "FunctionHashMismatch");
      }
      assert.deepEqual(await client.loadBalancedView().map(increment, [1, 2, 3]).get(30_000), [2, 3, 4]);
      assert.deepEqual(await client.directView().apply(increment, 1).get(30_000), ids.map(() => 2));
      const status = await client.status();
      assert.ok((status.functions?.refused ?? 0) >= 1, "the refusal is counted");
    } finally {
      dealer.close();
    }
  });
});

describe("thousands of distinct functions through small function caches", () => {
  const CACHE_BYTES = 1024 * 1024;
  const saved = process.env.TSPARALLEL_FUNCTION_CACHE_BYTES;
  // The controller and the engines read it from the environment they inherit.
  before(() => {
    process.env.TSPARALLEL_FUNCTION_CACHE_BYTES = String(CACHE_BYTES);
  });
  const shared = sharedCluster();
  after(() => {
    if (saved === undefined) delete process.env.TSPARALLEL_FUNCTION_CACHE_BYTES;
    else process.env.TSPARALLEL_FUNCTION_CACHE_BYTES = saved;
  });

  const pad = "/*" + "p".repeat(2000) + "*/";
  const numbered = (i: number, tag: string) => new Function("x", `${pad} return x + ${i}; // ${tag} ${i}`) as (x: number) => number;

  test("every task runs with its own function while the caches stay within their bound; an evicted function runs again", TEST_TIMEOUT, async () => {
    const { client, cluster } = shared();
    const lv = client.loadBalancedView();
    const pid = (await client.status()).controller.pid;
    const rssBefore = rssOf(pid);
    // One message: each function twice, the second time by hash only, long after it left a 1 MiB cache.
    const first = Array.from({ length: 1000 }, (_, i) => numbered(i, "first"));
    const twice = [...first, ...first].map((fn) => lv.apply(fn, 1));
    const values = await Promise.all(twice.map((ar) => ar.get(60_000)));
    assert.deepEqual(values, [...first, ...first].map((_, i) => 1 + (i % 1000)));
    // Many messages: 10,000 more distinct functions (about 20 MB of source).
    const batch = 2000;
    for (let start = 0; start < 10_000; start += batch) {
      const fns = Array.from({ length: batch }, (_, i) => numbered(start + i, "flood"));
      const got = await Promise.all(fns.map((fn) => lv.apply(fn, 0).get(60_000)));
      assert.deepEqual(got, fns.map((_, i) => start + i));
    }
    const status = await client.status();
    assert.ok(status.functions, "the snapshot reports the function cache");
    assert.equal(status.functions.capacity, CACHE_BYTES);
    assert.ok(status.functions.bytes <= CACHE_BYTES, `the controller holds ${status.functions.bytes} bytes of source`);
    // Long gone from the controller's and the engines' caches: the client's next message carries it again.
    assert.deepEqual(await client.directView().apply(first[0]!, 41).get(30_000), client.ids.map(() => 41));
    const grew = rssOf(pid) - rssBefore;
    process.stdout.write(`# controller RSS grew by ${(grew / 2 ** 20).toFixed(1)} MiB over 12,000 distinct functions (${cluster.profile})\n`);
  });
});
