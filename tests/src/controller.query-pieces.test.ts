/**
 * Issue 7, item 2: a db query or history over many records is not one reply (one JSON.stringify of
 * everything held the controller's loop for hundreds of ms at 100k records): it comes in bounded
 * pieces, the loop turning between them, and the client joins them whole and in order. A real
 * controller process and its SQLite store; tasks that fail at once (no such engine) make the records.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Message, MessageContents } from "@tsparallel/protocol";
import { Client } from "tsparallel";
import { noop, Scene, type FakeClient } from "./support/controller-harness.js";

/** Every reply to one request, up to the one that does not say `more`. */
async function allPieces(client: FakeClient, type: "db_query_request" | "history_request", content: MessageContents["db_query_request"] | MessageContents["history_request"]): Promise<Message[]> {
  const header = client.send(type, content as never);
  const pieces: Message[] = [];
  for (;;) {
    const reply = await client.inbox.nextWhere((m) => m.parent_header.msg_id === header.msg_id, `a reply to ${type}`, 60_000);
    assert.notEqual(reply.header.msg_type, "error_reply", JSON.stringify(reply.content));
    pieces.push(reply);
    if ((reply.content as { more?: boolean }).more !== true) return pieces;
  }
}

test("a db query and a history of 60,000 records come in bounded pieces that the client joins whole and in submission order", { timeout: 180_000 }, async () => {
  const scene = await Scene.start(["--db", "sqlite"]);
  try {
    const raw = await scene.client();
    const n = 60_000;
    const submitted: string[] = [];
    for (let at = 0; at < n; at += 4_000) {
      // No engine 7 exists: each task fails at once and is a finished record of the store.
      for (const [id] of raw.submit(Array.from({ length: Math.min(4_000, n - at) }, () => ({ targets: [7], body: noop })))) submitted.push(id!);
      await raw.request("status_request", {});
    }

    const queried = await allPieces(raw, "db_query_request", { filter: { status: "error" }, keys: ["msgId", "status"] });
    assert.ok(queried.length > 1, `the db query came in ${queried.length} piece(s)`);
    const largest = Math.max(...queried.map((m) => (m.content as MessageContents["db_query_reply"]).records.length));
    assert.ok(largest <= n / 4, `no piece holds most of it (largest: ${largest} records)`);
    assert.ok(queried.slice(0, -1).every((m) => (m.content as MessageContents["db_query_reply"]).more === true), "every piece but the last says more");
    const joined = queried.flatMap((m) => (m.content as MessageContents["db_query_reply"]).records.map((r) => r.msgId));
    assert.deepEqual(joined, submitted);

    const history = await allPieces(raw, "history_request", {});
    assert.ok(history.length > 1, `the history came in ${history.length} piece(s)`);
    assert.deepEqual(history.flatMap((m) => (m.content as MessageContents["history_reply"]).msgIds), submitted);

    // The real client asks once and gets everything, joined in order.
    const client = await Client.connect({ connectionFile: scene.controller.ready.clientFile });
    try {
      const records = await client.dbQuery({ status: "error" }, ["msgId"]);
      assert.equal(records.length, n);
      assert.deepEqual(records.map((r) => r.msgId), submitted);
      assert.deepEqual(await client.controllerHistory(), submitted);
    } finally {
      client.close();
    }
  } finally {
    await scene.close();
  }
});
