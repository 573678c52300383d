/**
 * The cluster's wire form (issue 13): on the controller's, engines' and clients' own sockets a message
 * is one signed frame (`<TSP|MSG>` + HMAC hex + `[header, parent_header, metadata, content]`) instead
 * of the delimiter, signature and four JSON frames; value frames follow it as before. Decoding takes
 * both forms, with the same checks (size, signature, replay, depth, date) on each. The Jupyter
 * kernel's channels keep Jupyter's form (checked in tests/src/support/kernel-client.ts on every
 * message a kernel test receives).
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import { after, describe, test } from "node:test";
import * as zmq from "zeromq";
import {
  COMPACT_MAGIC, DELIMITER, JOIN_MAX_FRAME_BYTES, MessageError, ReplayGuard, Signer, clientConnectionFile, decodeMessage, encodeCompact, encodeMessage,
  SerializationError, messageLimits, newHeader, packValue, primitivesRangeSize, unpackValue, writePrimitivesRange, type Header,
} from "@tsparallel/protocol";
import { eventually } from "./support/cluster-fixture.js";
import { kill9, startController } from "./support/controller-process.js";
import { rawClientPeer, rawCompactFrames, rawSignedFrames, submitHeader } from "./support/raw-peer.js";

const KEY = "wire-test-key";
const signer = new Signer(KEY);
const asBuffers = (frames: (Buffer | string)[]): Buffer[] => frames.map((f) => (typeof f === "string" ? Buffer.from(f) : f));
const reasonOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof MessageError) return err.reason;
    throw err;
  }
  return "accepted";
};

describe("the compact form, decoded", () => {
  const header = newHeader("status_request", "wire");
  const parent = newHeader("connect_request", "other");

  test("one frame between the identities and the value frames, signed over its JSON text, decoded to the same message", () => {
    const value = Buffer.from([1, 2, 3]);
    const frames = encodeCompact(signer, { identities: [Buffer.from("peer")], header, parent_header: parent, metadata: { m: 1 }, content: { a: "é", b: [1, 2] }, buffers: [value] });
    assert.equal(frames.length, 3);
    const signed = Buffer.from(frames[1] as string);
    assert.equal(signed.toString("latin1", 0, COMPACT_MAGIC.length), COMPACT_MAGIC);
    const sig = signed.toString("latin1", COMPACT_MAGIC.length, COMPACT_MAGIC.length + 64);
    const json = signed.subarray(COMPACT_MAGIC.length + 64);
    assert.equal(sig, createHmac("sha256", KEY).update(json).digest("hex"));
    assert.deepEqual(JSON.parse(json.toString("utf8")), [header, parent, { m: 1 }, { a: "é", b: [1, 2] }]);
    const msg = decodeMessage(signer, asBuffers(frames), { replay: new ReplayGuard(16) });
    assert.deepEqual(msg.identities, [Buffer.from("peer")]);
    assert.deepEqual(msg.header, header);
    assert.deepEqual(msg.parent_header, parent);
    assert.deepEqual(msg.metadata, { m: 1 });
    assert.deepEqual(msg.content, { a: "é", b: [1, 2] });
    assert.deepEqual(msg.buffers, [value]);
  });

  test("Jupyter's form still decodes to the same message", () => {
    const frames = encodeMessage(signer, { identities: [Buffer.from("peer")], header, parent_header: parent, content: { a: 1 }, buffers: [Buffer.from("v")] });
    assert.ok(frames[1]!.equals(DELIMITER));
    const msg = decodeMessage(signer, frames);
    assert.deepEqual([msg.header, msg.parent_header, msg.content, msg.buffers], [header, parent, { a: 1 }, [Buffer.from("v")]]);
  });

  test("wrong key, replay, depth, size, stale date and malformed frames are refused, each for its reason", () => {
    const replay = new ReplayGuard(16);
    const good = rawCompactFrames(signer, newHeader("status_request", "wire"), "{}");
    assert.equal(reasonOf(() => decodeMessage(signer, good, { replay })), "accepted");
    assert.equal(reasonOf(() => decodeMessage(signer, good, { replay })), "replay");
    assert.equal(reasonOf(() => decodeMessage(signer, rawCompactFrames(new Signer("other"), header, "{}"), { replay })), "signature");
    // Tampered after signing: one byte of the content changed.
    const tampered = Buffer.from(rawCompactFrames(signer, newHeader("status_request", "wire"), '{"n":1}')[0]!.toString().replace('"n":1', '"n":2'));
    assert.equal(reasonOf(() => decodeMessage(signer, [tampered], { replay })), "signature");
    const limits = messageLimits();
    assert.equal(reasonOf(() => decodeMessage(signer, rawCompactFrames(signer, newHeader("status_request", "wire"), `{"x":${"[".repeat(limits.maxJsonDepth)}${"]".repeat(limits.maxJsonDepth)}}`), { replay })), "too-deep");
    // The depth check counts brackets first and scans only when there are many: brackets in strings
    // do not nest, and a text nested exactly to the limit passes.
    assert.equal(reasonOf(() => decodeMessage(signer, rawCompactFrames(signer, newHeader("status_request", "wire"), `{"s":"${"[{".repeat(limits.maxJsonDepth)}"}`), { replay })), "accepted");
    assert.equal(reasonOf(() => decodeMessage(signer, rawCompactFrames(signer, newHeader("status_request", "wire"), `{"x":${"[".repeat(limits.maxJsonDepth - 1)}${"]".repeat(limits.maxJsonDepth - 1)}}`), { replay })), "accepted");
    assert.equal(reasonOf(() => decodeMessage(signer, rawCompactFrames(signer, newHeader("status_request", "wire"), `{"s":"${"[".repeat(limits.maxJsonDepth)}","x":${"[".repeat(limits.maxJsonDepth)}${"]".repeat(limits.maxJsonDepth)}}`), { replay })), "too-deep");
    const small = { ...limits, maxJsonBytes: 1024 };
    assert.equal(reasonOf(() => decodeMessage(signer, rawCompactFrames(signer, newHeader("status_request", "wire"), `{"pad":"${"x".repeat(2048)}"}`), { replay, limits: small })), "oversized");
    const old: Header = { ...newHeader("status_request", "wire"), date: new Date(Date.now() - 2 * limits.maxClockSkewMs).toISOString() };
    assert.equal(reasonOf(() => decodeMessage(signer, rawCompactFrames(signer, old, "{}"), { replay })), "stale");
    const sign = (json: string) => [Buffer.from(COMPACT_MAGIC + signer.sign([json]) + json)];
    assert.equal(reasonOf(() => decodeMessage(signer, sign(`[${JSON.stringify(newHeader("a", "b"))},{},{}]`), { replay })), "malformed", "three parts");
    assert.equal(reasonOf(() => decodeMessage(signer, sign(`[${JSON.stringify(newHeader("a", "b"))},null,{},{}]`), { replay })), "malformed", "a null parent");
    assert.equal(reasonOf(() => decodeMessage(signer, sign(`[${JSON.stringify(newHeader("a", "b"))},{},{},[]]`), { replay })), "malformed", "array content");
    assert.equal(reasonOf(() => decodeMessage(signer, sign(`[${JSON.stringify(newHeader("a", "b"))},{},{},{}`), { replay })), "json");
    assert.equal(reasonOf(() => decodeMessage(signer, [Buffer.from(`${COMPACT_MAGIC}${"a".repeat(200)}[]`)], { replay })), "malformed", "no JSON after a bounded signature");
  });
});

describe("several small value frames travel as one (issue 13: a batch of tiny tasks)", () => {
  const header = newHeader("task_reply", "wire");

  test("a message's small value frames go as one joined frame and decode to the same frames, in order", () => {
    const values = Array.from({ length: 64 }, (_, i) => packValue(i).frames[0]!);
    values.push(Buffer.alloc(0), Buffer.from("last"));
    const frames = encodeCompact(signer, { identities: [Buffer.from("peer")], header, content: { n: 66 }, buffers: values });
    assert.equal(frames.length, 3, "identity, signed frame, one joined frame");
    const json = Buffer.from(frames[1] as string).subarray(COMPACT_MAGIC.length + 64);
    assert.equal(JSON.parse(json.toString("utf8"))[4], 66, "the signed part says how many frames the joined one holds");
    const msg = decodeMessage(signer, asBuffers(frames), { replay: new ReplayGuard(16) });
    assert.deepEqual(msg.buffers, values);
    assert.deepEqual(msg.buffers.slice(0, 64).map((b) => unpackValue([b])), Array.from({ length: 64 }, (_, i) => i));
  });

  test("a lone frame, and any message with a large frame, keep their own frames", () => {
    const one = encodeCompact(signer, { header, content: {}, buffers: [Buffer.from("only")] });
    assert.equal(one.length, 2);
    const large = Buffer.alloc(JOIN_MAX_FRAME_BYTES + 1, 7);
    const mixed = encodeCompact(signer, { header, content: {}, buffers: [Buffer.from("a"), large, Buffer.from("b")] });
    assert.equal(mixed.length, 4);
    assert.strictEqual(mixed[2], large, "a large frame is sent from its own memory");
    assert.deepEqual(decodeMessage(signer, asBuffers(mixed)).buffers, [Buffer.from("a"), large, Buffer.from("b")]);
  });

  test("a joined frame that does not hold what the signed part says is refused as malformed", () => {
    const replay = new ReplayGuard(16);
    const joined = (count: number, buffers: Buffer[]) => {
      const json = JSON.stringify([newHeader("task_reply", "wire"), {}, {}, {}, count]);
      return [Buffer.from(COMPACT_MAGIC + signer.sign([json]) + json), ...buffers];
    };
    const lengths = (...ns: number[]) => Buffer.concat(ns.map((n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; }));
    const good = Buffer.concat([lengths(1, 2), Buffer.from("abc")]);
    assert.deepEqual(decodeMessage(signer, joined(2, [good]), { replay }).buffers, [Buffer.from("a"), Buffer.from("bc")]);
    assert.equal(reasonOf(() => decodeMessage(signer, joined(2, [Buffer.concat([lengths(1, 5), Buffer.from("abc")])]), { replay })), "malformed", "a length past the end");
    assert.equal(reasonOf(() => decodeMessage(signer, joined(2, [Buffer.concat([lengths(1, 1), Buffer.from("abc")])]), { replay })), "malformed", "bytes left over");
    assert.equal(reasonOf(() => decodeMessage(signer, joined(3, [good]), { replay })), "malformed", "fewer frames than said");
    assert.equal(reasonOf(() => decodeMessage(signer, joined(1, [good]), { replay })), "malformed", "a count under two");
    assert.equal(reasonOf(() => decodeMessage(signer, joined(2.5, [good]), { replay })), "malformed", "a count that is not an integer");
    assert.equal(reasonOf(() => decodeMessage(signer, joined(2, [good, good]), { replay })), "malformed", "two value frames");
    assert.equal(reasonOf(() => decodeMessage(signer, joined(2, []), { replay })), "malformed", "no value frame");
  });
});

describe("small values without a v8 serializer", () => {
  const roundTrip = (value: unknown, ownArray = false) => {
    const frames = packValue(value, "value", { ownArray }).frames;
    return { frames, back: unpackValue(frames) };
  };

  test("primitives and short arrays tsparallel built come back the same, in one small frame", () => {
    for (const value of [0, -0, 1.5, NaN, -Infinity, Number.MAX_VALUE, true, false, null, undefined, "", "héllo ✓", "x".repeat(256)]) {
      const { frames, back } = roundTrip(value);
      assert.equal(frames.length, 1);
      assert.ok(Object.is(back, value), `${String(value)} came back as ${String(back)}`);
      assert.ok(frames[0]!.length <= 8 + 1 + 8 + Buffer.byteLength(String(value)), `${String(value)} took ${frames[0]!.length} bytes`);
    }
    const args = [1, null, true, undefined, -0, false];
    const { frames, back } = roundTrip(args, true);
    assert.equal(frames[0]!.length, 8 + 2 + 9 + 1 + 1 + 1 + 9 + 1);
    assert.deepEqual(back, args);
    assert.ok(Object.is((back as number[])[4], -0));
  });

  test("what the primitive form cannot keep goes through the clone, unchanged", () => {
    // A lone surrogate, a hole, a named property on a caller's array, and arrays past the size bound.
    const lone = "a\ud800b";
    assert.equal(roundTrip(lone).back, lone);
    const holey = [1, , 3];
    const back = roundTrip(holey, true).back as unknown[];
    assert.equal(back.length, 3);
    assert.ok(!(1 in back), "the hole stays a hole");
    const named = Object.assign([1, 2], { extra: "kept" });
    assert.equal((roundTrip(named).back as typeof named).extra, "kept");
    const many = Array.from({ length: 40 }, (_, i) => (i % 2 ? i : null));
    assert.deepEqual(roundTrip(many, true).back, many);
    assert.deepEqual(roundTrip([{ a: 1 }], true).back, [{ a: 1 }]);
  });

  test("a map chunk packed in place from the caller's array is the payload packValue gives its slice", () => {
    class Items extends Array<unknown> {}
    const items: unknown[] = [1, -0, NaN, 2 ** 40, -1.5, true, false, null, undefined, , "s", { a: 1 }, ...Array.from({ length: 20 }, (_, i) => i)];
    for (let start = 0; start < items.length; start++) {
      for (let end = start + 1; end <= Math.min(items.length, start + 18); end++) {
        const expected = packValue(items.slice(start, end), "an item", { ownArray: true }).frames;
        const size = primitivesRangeSize(items, start, end);
        const primitiveForm = expected.length === 1 && expected[0]!.subarray(0, 8).equals(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x50, 0x52, 0x4d]));
        assert.equal(size >= 0, primitiveForm, `items ${start}..${end}`);
        if (size < 0) continue;
        const block = Buffer.alloc(size + 10, 0xee);
        writePrimitivesRange(items, start, end, block, 5);
        assert.deepEqual(block.subarray(5, 5 + size), expected[0], `items ${start}..${end}`);
        assert.equal(block[4], 0xee);
        assert.equal(block[5 + size], 0xee, "nothing written past the size");
      }
    }
    assert.equal(primitivesRangeSize(Items.from([1, 2]), 0, 2) >= 0, true, "the view checks the array's prototype, not this helper");
  });

  test("a malformed primitive payload is a SerializationError", () => {
    const head = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x50, 0x52, 0x4d]);
    for (const tail of [[0x6e, 1, 2], [0x61, 200], [0x61, 2, 0x74], [0x3f], [0x74, 0x74]]) {
      assert.throws(() => unpackValue([Buffer.concat([head, Buffer.from(tail)])]), SerializationError, `tail ${tail.join(",")}`);
    }
    assert.throws(() => unpackValue([Buffer.concat([head, Buffer.from([0x74])]), Buffer.from("x")]), SerializationError);
  });
});

describe("the controller on the compact form", () => {
  const started: ChildProcess[] = [];
  after(() => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });

  test("answers a Jupyter-form and a compact request in one signed frame, and refuses a compact replay", { timeout: 60_000 }, async () => {
    const profile = "wire-compact";
    const controller = await startController(profile, ["--db", "memory"], started);
    const { dealer, key } = rawClientPeer(clientConnectionFile(profile));
    const keyed = new Signer(key);
    const replies = dealer[Symbol.asyncIterator]();
    const reply = async (): Promise<Buffer[]> => {
      const next = await Promise.race([replies.next(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no reply within 10 s")), 10_000))]);
      return next.value as Buffer[];
    };
    try {
      for (const form of [rawSignedFrames, rawCompactFrames]) {
        const request = newHeader("queue_status_request", "wire");
        await dealer.send(form(keyed, request, "{}"));
        const frames = await reply();
        assert.equal(frames.length, 1, `one frame in reply to the ${form.name} request`);
        const text = frames[0]!;
        assert.equal(text.toString("latin1", 0, COMPACT_MAGIC.length), COMPACT_MAGIC);
        const json = text.subarray(COMPACT_MAGIC.length + 64);
        assert.equal(text.toString("latin1", COMPACT_MAGIC.length, COMPACT_MAGIC.length + 64), createHmac("sha256", key).update(json).digest("hex"));
        const [header, parent, , content] = JSON.parse(json.toString("utf8")) as [Header, Header, unknown, Record<string, unknown>];
        assert.equal(header.msg_type, "queue_status_reply");
        assert.equal(parent.msg_id, request.msg_id);
        assert.ok("unassigned" in content);
      }
      const captured = rawCompactFrames(keyed, submitHeader(), JSON.stringify({ tasks: [] }));
      await dealer.send(captured);
      await dealer.send(captured);
      await eventually("the controller to log the replay", () => /replayed signature/.test(controller.stderr()));
    } finally {
      dealer.close();
      await kill9(controller.child);
    }
  });
});
