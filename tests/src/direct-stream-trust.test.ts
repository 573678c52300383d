/**
 * The direct stream's trust exchange (protocol/src/stream-trust.ts): on a loopback connection, once the
 * client's and the engine's nonces have been answered by signed messages, both ends drop the per-message
 * HMAC; before that, on another connection, or off loopback, every message is signed and checked.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { networkInterfaces } from "node:os";
import { describe, test } from "node:test";
import {
  COMPACT_MAGIC, StreamFrameReader, decodeMessage, newHeader, newMessageId, newTrustNonce, readConnectionFile, streamChunks,
  NO_SIGNATURE, type Message, type MessageContents,
} from "@tsparallel/protocol";
import { eventually, sharedCluster, startCluster } from "./support/cluster-fixture.js";
import { NO_PLAIN_STREAM, plainStreamOf, rawCompactFrames } from "./support/raw-peer.js";

/** A message as it came off the wire: the signature it carried (hex, "" for none) and its decoded form. */
interface Seen {
  signature: string;
  msg: Message;
}

/** A raw TCP peer of an engine's stream that sends what it is told and records what comes back, signed or not. */
function rawPeer(url: string) {
  const [, host, port] = /^tcp:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(url)!;
  const socket = net.connect(Number(port), host!);
  const seen: Seen[] = [];
  const reader = new StreamFrameReader(1 << 24);
  socket.on("error", () => {});
  socket.on("data", (chunk: Buffer) => {
    for (const frames of reader.push(chunk)) {
      const text = frames[0]!.toString("latin1");
      const signature = text.slice(COMPACT_MAGIC.length, text.indexOf("["));
      seen.push({ signature, msg: decodeMessage(NO_SIGNATURE, frames) });
    }
  });
  return {
    socket,
    seen,
    of: (type: string) => seen.filter((s) => s.msg.header.msg_type === type),
    send: (frames: (Buffer | string)[]) => void socket.write(Buffer.concat(streamChunks(frames))),
  };
}

const unsigned = (type: "direct_request" | "direct_hello" | "direct_trust", content: string, msgId?: string) =>
  rawCompactFrames(NO_SIGNATURE, newHeader(type, "peer", "tsparallel", msgId), content);
const repliesTo = (msg: Message, msgId: string) => (msg.content as MessageContents["task_reply"]).results.some((r) => r.msgId === msgId);
const request = (code: string, msgId = newMessageId()) =>
  JSON.stringify({ client: "00", tasks: [{ msgId, body: { kind: "execute", code }, bufferCount: 0 }] } satisfies MessageContents["direct_request"]);

describe("the direct stream's trust exchange on loopback", () => {
  const shared = sharedCluster({ n: 1 });

  test("a client's link completes it and its work runs; unsigned messages run only on a connection that answered its own challenge", async (t) => {
    const { client, ids } = shared();
    const id = ids[0]!;
    const plain = plainStreamOf(client, id);
    if (!plain) return t.skip(NO_PLAIN_STREAM);
    const { signer } = plain;
    const one = client.directView(id);
    await eventually("a trusted direct stream", () => client._directTransport(id) === "stream" && client._directStreamTrusted(id));
    assert.equal(await one.apply((x: number) => x + 1, 41), 42);

    const raw = rawPeer(plain.stream);
    try {
      // Unsigned before any exchange: dropped, never run.
      raw.send(unsigned("direct_request", request("globalThis.trustProbe = 'before'")));
      const nonce = newTrustNonce();
      raw.send(rawCompactFrames(signer, newHeader("direct_hello", "peer"), JSON.stringify({ trust: nonce })));
      await eventually("a challenge and a welcome", () => raw.of("direct_challenge").length === 1 && raw.of("direct_welcome").length === 1);
      const [challenge] = raw.of("direct_challenge");
      // The challenge is signed with the cluster's key and echoes this connection's nonce.
      assert.equal(challenge!.signature.length, 64, "the challenge is signed");
      const content = challenge!.msg.content as MessageContents["direct_challenge"];
      assert.equal(content.echo, nonce);
      assert.match(content.nonce, /^[0-9a-f]{32}$/);
      assert.notEqual(content.nonce, nonce);

      // A wrong answer, and an unsigned right one: both dropped; unsigned work still does not run.
      raw.send(rawCompactFrames(signer, newHeader("direct_trust", "peer"), JSON.stringify({ nonce: newTrustNonce() })));
      raw.send(unsigned("direct_trust", JSON.stringify({ nonce: content.nonce })));
      raw.send(unsigned("direct_request", request("globalThis.trustProbe = 'unanswered'")));
      // The signed right answer: from then on this connection's unsigned work runs, and answers come unsigned.
      const trustFrames = rawCompactFrames(signer, newHeader("direct_trust", "peer"), JSON.stringify({ nonce: content.nonce }));
      raw.send(trustFrames);
      const msgId = newMessageId();
      raw.send(unsigned("direct_request", request("globalThis.trustProbe = 'trusted'; 7", msgId), msgId));
      const reply = await eventually("the trusted request's reply", () => raw.seen.find((s) => s.msg.header.msg_type === "task_reply" && repliesTo(s.msg, msgId)));
      assert.equal(reply.signature, "", "answers on a trusted connection are unsigned");
      assert.equal(await one.execute("(globalThis as any).trustProbe"), "trusted");
      // Signed messages before the answer; none of the engine's messages was unsigned before it.
      const replyAt = raw.seen.indexOf(reply);
      assert.ok(raw.seen.slice(0, replyAt).every((s) => s.signature.length === 64));

      // Another connection: the captured answer is no answer to its challenge, and its unsigned work does not run.
      const other = rawPeer(plain.stream);
      try {
        other.send(rawCompactFrames(signer, newHeader("direct_hello", "peer"), JSON.stringify({ trust: newTrustNonce() })));
        await eventually("the other connection's challenge", () => other.of("direct_challenge").length === 1);
        other.send(trustFrames);
        other.send(rawCompactFrames(signer, newHeader("direct_trust", "peer"), JSON.stringify({ nonce: content.nonce })));
        other.send(unsigned("direct_request", request("globalThis.trustProbe = 'other'")));
        const dropped = await eventually("the engine to count the dropped messages", async () => {
          other.send(rawCompactFrames(signer, newHeader("direct_hello", "peer"), "{}"));
          await new Promise((resolve) => setTimeout(resolve, 100));
          const welcome = other.of("direct_welcome").at(-1)?.msg.content as MessageContents["direct_welcome"] | undefined;
          return welcome && welcome.dropped >= 7 ? welcome.dropped : undefined;
        });
        assert.ok(dropped >= 7, `dropped ${dropped}`);
        assert.equal(other.of("task_reply").length, 0);
      } finally {
        other.socket.destroy();
      }
      assert.equal(await one.execute("(globalThis as any).trustProbe"), "trusted");
      // The client's own link went on working throughout.
      assert.equal(await one.apply((x: number) => x * 2, 21), 42);
    } finally {
      raw.socket.destroy();
    }
  });

  test("TSPARALLEL_DIRECT_STREAM_TRUST=0 in a client keeps its loopback stream signed", async (t) => {
    const { cluster, client, ids } = shared();
    const id = ids[0]!;
    if (readConnectionFile(client.connectionFile, "client").curve) return t.skip(NO_PLAIN_STREAM);
    const before = process.env.TSPARALLEL_DIRECT_STREAM_TRUST;
    process.env.TSPARALLEL_DIRECT_STREAM_TRUST = "0";
    const signedClient = await cluster.connect({ activate: false });
    try {
      try {
        // Read as a link opens its stream.
        signedClient.directView(id);
        await eventually("a direct link over the stream", () => signedClient._directTransport(id) === "stream");
      } finally {
        if (before === undefined) delete process.env.TSPARALLEL_DIRECT_STREAM_TRUST;
        else process.env.TSPARALLEL_DIRECT_STREAM_TRUST = before;
      }
      assert.equal(await signedClient.directView(id).apply((x: number) => x + 2, 40), 42);
      assert.equal(signedClient._directStreamTrusted(id), false);
    } finally {
      signedClient.close();
    }
  });
});

/** This host's first IPv4 address that is not loopback, if it has one. */
function outwardIPv4(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return undefined;
}

describe("the direct stream off loopback", () => {
  test("a cluster on an outward address keeps its stream signed message by message: no challenge, no trusted link", async (t) => {
    const ip = outwardIPv4();
    if (!ip) return t.skip("this host has no IPv4 address besides loopback");
    // An outward address gets CURVE by default, and a CURVE cluster has no plain stream.
    const { client, ids, stop } = await startCluster({ n: 1, ip, curve: false });
    try {
      const id = ids[0]!;
      const plain = plainStreamOf(client, id);
      if (!plain) return t.skip(NO_PLAIN_STREAM);
      assert.ok(!plain.stream.includes("127.0.0.1"), `the stream is at ${plain.stream}`);
      const one = client.directView(id);
      await eventually("a direct link over the stream", () => client._directTransport(id) === "stream");
      assert.equal(await one.apply((x: number) => x + 1, 1), 2);
      assert.equal(client._directStreamTrusted(id), false);
      const raw = rawPeer(plain.stream);
      try {
        const { signer } = plain;
        raw.send(rawCompactFrames(signer, newHeader("direct_hello", "peer"), JSON.stringify({ trust: newTrustNonce() })));
        await eventually("a welcome", () => raw.of("direct_welcome").length === 1);
        const msgId = newMessageId();
        raw.send(rawCompactFrames(signer, newHeader("direct_request", "peer", "tsparallel", msgId), request("6 * 7", msgId)));
        const reply = await eventually("a signed reply", () => raw.seen.find((s) => s.msg.header.msg_type === "task_reply" && repliesTo(s.msg, msgId)));
        assert.equal(reply.signature.length, 64);
        assert.equal(raw.of("direct_challenge").length, 0);
      } finally {
        raw.socket.destroy();
      }
    } finally {
      await stop();
    }
  });
});
