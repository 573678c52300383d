/**
 * The direct path's plain TCP stream (DirectAddress.stream), beside each engine's direct ROUTER on a
 * cluster without CURVE: its framing (stream-frames.ts) split and joined across reads and refusing
 * oversized or inconsistent messages before buffering them; DirectView work going over it (and
 * TSPARALLEL_DIRECT_STREAM=0 keeping it on ZeroMQ); the ROUTER's protections on it: bad messages
 * dropped and counted and never run, a message captured on one side refused on the other, broken
 * framing closing the connection, the handshake deadline and the connection cap.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "node:test";
import * as zmq from "zeromq";
import {
  MessageError, MessageSender, ReplayGuard, Signer, StreamFrameReader, decodeMessage, newHeader, newMessageId, readConnectionFile, streamChunks,
  type Message, type MessageContents,
} from "@tsparallel/protocol";
import { eventually, sharedCluster, startCluster } from "./support/cluster-fixture.js";
import { NO_PLAIN_STREAM, plainStreamOf, rawCompactFrames } from "./support/raw-peer.js";

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

describe("stream framing", () => {
  test("messages split across reads at every byte, and several in one read, come back frame for frame", () => {
    const messages = [[Buffer.from("one")], [Buffer.from("a"), Buffer.alloc(0), Buffer.alloc(70_000, 7)], ["text frame", Buffer.from([1, 2, 3])]];
    const wire = Buffer.concat(messages.flatMap((m) => streamChunks(m)));
    const expected = messages.map((m) => m.map((f) => (typeof f === "string" ? Buffer.from(f) : f)));
    for (const step of [1, 2, 7, 1000, wire.length]) {
      const reader = new StreamFrameReader(1 << 20);
      const got: Buffer[][] = [];
      for (let at = 0; at < wire.length; at += step) got.push(...reader.push(wire.subarray(at, Math.min(wire.length, at + step))));
      assert.deepEqual(got, expected, `read ${step} bytes at a time`);
    }
  });

  test("an oversized message is refused from its header, before its bytes come; inconsistent frame tables are refused", () => {
    const header = (bytes: number, count: number, lengths: number[] = []) => {
      const b = Buffer.alloc(8 + 4 * lengths.length);
      b.writeUInt32BE(bytes, 0);
      b.writeUInt32BE(count, 4);
      lengths.forEach((l, i) => b.writeUInt32BE(l, 8 + 4 * i));
      return b;
    };
    const refused = (chunk: Buffer, reason: string) => assert.throws(() => new StreamFrameReader(1000).push(chunk), (err: unknown) => err instanceof MessageError && err.reason === reason);
    refused(header(4 + 2000, 1), "oversized");
    refused(header(0, 0), "malformed");
    refused(header(4, 100_000), "malformed");
    refused(header(2, 1), "malformed");
    // One frame that claims more bytes than the message holds.
    refused(Buffer.concat([header(4 + 3, 1, [5]), Buffer.from("abc")]), "malformed");
  });
});

/** A raw TCP connection to an engine's stream: what any peer on the network has. */
function rawStream(url: string): { socket: net.Socket; messages: Message[]; closed: Promise<void>; send(frames: (Buffer | string)[]): void } {
  const [, host, port] = /^tcp:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(url)!;
  const socket = net.connect(Number(port), host!);
  const messages: Message[] = [];
  const reader = new StreamFrameReader(1 << 24);
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.on("error", () => {});
  return {
    socket,
    messages,
    closed,
    send: (frames) => void socket.write(Buffer.concat(streamChunks(frames))),
    ...{ reader },
  } as ReturnType<typeof rawStream>;
}

/** Collects the verified messages a raw stream gets. */
function listen(raw: ReturnType<typeof rawStream>, signer: Signer): void {
  const reader = new StreamFrameReader(1 << 24);
  const replay = new ReplayGuard(1000);
  raw.socket.on("data", (chunk: Buffer) => {
    for (const frames of reader.push(chunk)) raw.messages.push(decodeMessage(signer, frames, { replay }));
  });
}

describe("the direct stream", () => {
  const shared = sharedCluster({ n: 1 });

  test("without CURVE an engine offers a stream and DirectView work goes over it; TSPARALLEL_DIRECT_STREAM=0 keeps a client on ZeroMQ", async (t) => {
    const { client, ids, cluster } = shared();
    const id = ids[0]!;
    const engine = client.engines.find((e) => e.id === id)!;
    const info = readConnectionFile(client.connectionFile, "client");
    if (info.curve) {
      assert.equal(engine.direct?.stream, undefined, "a CURVE cluster's engine offers no plain stream");
      return t.skip("CURVE cluster: direct work stays on the encrypted ROUTER");
    }
    assert.match(engine.direct?.stream ?? "", /^tcp:\/\/127\.0\.0\.1:\d+$/);
    client.directView(id);
    await eventually("a direct link", () => client.directEngines.includes(id));
    assert.equal(client._directTransport(id), "stream");
    assert.equal(await client.directView(id).apply((x: number) => x + 1, 41), 42);
    assert.equal(await client.directView(id).execute("console.log('printed'); 6 * 7"), 42);
    const before = process.env.TSPARALLEL_DIRECT_STREAM;
    process.env.TSPARALLEL_DIRECT_STREAM = "0";
    // Read as a link opens.
    const zmqClient = await cluster.connect({ activate: false });
    try {
      try {
        zmqClient.directView(id);
        await eventually("a direct link over ZeroMQ", () => zmqClient.directEngines.includes(id));
      } finally {
        if (before === undefined) delete process.env.TSPARALLEL_DIRECT_STREAM;
        else process.env.TSPARALLEL_DIRECT_STREAM = before;
      }
      assert.equal(zmqClient._directTransport(id), "zmq");
      assert.equal(await zmqClient.directView(id).apply((x: number) => x * 2, 21), 42);
    } finally {
      zmqClient.close();
    }
  });

  test("bad messages on the stream are dropped and counted and never run; one captured on the ROUTER is refused on the stream; broken framing closes the connection", async (t) => {
    const { client, ids } = shared();
    const id = ids[0]!;
    const plain = plainStreamOf(client, id);
    if (!plain) return t.skip(NO_PLAIN_STREAM);
    const { signer } = plain;
    const raw = rawStream(plain.stream);
    listen(raw, signer);
    const dealer = new zmq.Dealer({ linger: 0 });
    dealer.connect(plain.url);
    try {
      const request = (code: string) => JSON.stringify({ client: "00", tasks: [{ msgId: newMessageId(), body: { kind: "execute", code }, bufferCount: 0 }] } satisfies MessageContents["direct_request"]);
      // Unsigned, signed with another key, a signed request without tasks: dropped.
      raw.send([`<TSP|MSG>[${JSON.stringify(newHeader("direct_request", "rogue"))},{},{},${request("globalThis.streamRogue = 1")}]`]);
      raw.send(rawCompactFrames(new Signer("not-the-cluster-key"), newHeader("direct_request", "rogue"), request("globalThis.streamRogue = 2")));
      raw.send(rawCompactFrames(signer, newHeader("direct_request", "rogue"), JSON.stringify({ client: "00", tasks: "all of them" })));
      // Captured from the ROUTER side and sent again on the stream: it runs once.
      const captured = rawCompactFrames(signer, newHeader("direct_request", "rogue"), request("globalThis.crossReplay = (globalThis.crossReplay ?? 0) + 1"));
      await dealer.send(captured);
      await eventually("the ROUTER's copy to run", async () => (await client.directView(id).execute("(globalThis as any).crossReplay")) === 1);
      raw.send(captured);
      const sender = new MessageSender({ sendTimeout: 0, send: async (frames) => raw.send(frames) }, signer, "test", quiet, "compact");
      const dropped = await eventually("the engine to count the bad messages", async () => {
        sender.send("direct_hello", {});
        await new Promise((resolve) => setTimeout(resolve, 100));
        const welcome = raw.messages.filter((m) => m.header.msg_type === "direct_welcome").at(-1)?.content as MessageContents["direct_welcome"] | undefined;
        return welcome && welcome.dropped >= 4 ? welcome.dropped : undefined;
      });
      assert.ok(dropped >= 4);
      assert.equal(await client.directView(id).execute("typeof (globalThis as any).streamRogue"), "undefined");
      assert.equal(await client.directView(id).execute("(globalThis as any).crossReplay"), 1);
      // Framing that cannot be a message (zero frames): the engine closes the connection.
      raw.socket.write(Buffer.alloc(8));
      await raw.closed;
      // The engine goes on serving the stream.
      const again = rawStream(plain.stream);
      listen(again, signer);
      try {
        new MessageSender({ sendTimeout: 0, send: async (frames) => again.send(frames) }, signer, "test", quiet, "compact").send("direct_hello", {});
        await eventually("a welcome on a new connection", () => again.messages.some((m) => m.header.msg_type === "direct_welcome"));
      } finally {
        again.socket.destroy();
      }
    } finally {
      raw.socket.destroy();
      dealer.close();
    }
  });
});

describe("the direct stream beside ZeroMQ", () => {
  const shared = sharedCluster({ n: 1 });

  test("big messages take ZeroMQ and small ones the stream, and a client's work keeps its order: big and small pushes with applies reading them, none awaited between; big results and output come back whole", async () => {
    const { client, ids } = shared();
    const id = ids[0]!;
    const one = client.directView(id);
    await eventually("a direct link", () => client.directEngines.includes(id));
    const calls: PromiseLike<unknown>[] = [];
    for (let i = 0; i < 24; i++) {
      // 160 KB (over STREAM_MAX_BYTES: ZeroMQ) or 80 bytes (the stream), alternating irregularly.
      calls.push(one.push({ orderProbe: new Float64Array(i % 3 === 0 ? 20_000 : 10).fill(i) }));
      calls.push(one.apply(() => (globalThis as unknown as { orderProbe: Float64Array }).orderProbe[0]));
    }
    const values = await Promise.all(calls);
    assert.deepEqual(values.filter((_, k) => k % 2 === 1), Array.from({ length: 24 }, (_, i) => i));
    // A small request with a big answer, and output streamed before a big result.
    const pulled = await one.pull<Float64Array>("orderProbe");
    assert.equal(pulled.length, 10);
    await one.push({ bigProbe: new Float64Array(100_000).fill(7) });
    const back = await one.pull<Float64Array>("bigProbe");
    assert.equal(back.length, 100_000);
    assert.equal(back[99_999], 7);
    const printed = one.execute("console.log('streamed first'); new Float64Array(100_000).fill(3)");
    const value = (await printed) as Float64Array;
    assert.equal(value.length, 100_000);
    assert.match(printed.stdout.join(""), /streamed first/);
  });
});

describe("the direct stream's limits", () => {
  test("at most TSPARALLEL_DIRECT_MAX_CONNECTIONS connections at once, a connection silent past the handshake deadline is closed, and a link the stream refuses goes on over ZeroMQ", async (t) => {
    const saved = { cap: process.env.TSPARALLEL_DIRECT_MAX_CONNECTIONS, handshake: process.env.TSPARALLEL_HANDSHAKE_MS };
    process.env.TSPARALLEL_DIRECT_MAX_CONNECTIONS = "3";
    process.env.TSPARALLEL_HANDSHAKE_MS = "1500";
    let capped: Awaited<ReturnType<typeof startCluster>>;
    try {
      capped = await startCluster({ n: 1 });
    } finally {
      for (const [key, value] of [["TSPARALLEL_DIRECT_MAX_CONNECTIONS", saved.cap], ["TSPARALLEL_HANDSHAKE_MS", saved.handshake]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
    const raws: ReturnType<typeof rawStream>[] = [];
    try {
      const { client, ids } = capped;
      const plain = plainStreamOf(client, ids[0]!);
      if (!plain) return t.skip(NO_PLAIN_STREAM);
      const { signer } = plain;
      // A silent connection is closed once the deadline passes.
      const silent = rawStream(plain.stream);
      raws.push(silent);
      await silent.closed;
      const hello = () => {
        const raw = rawStream(plain.stream);
        raws.push(raw);
        listen(raw, signer);
        new MessageSender({ sendTimeout: 0, send: async (frames) => raw.send(frames) }, signer, "peer", quiet, "compact").send("direct_hello", {});
        return raw;
      };
      const first = Array.from({ length: 6 }, hello);
      await eventually("three peers welcomed", () => first.filter((r) => r.messages.length > 0).length >= 3);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(first.filter((r) => r.messages.length > 0).length, 3);
      // The welcomed ones go; a new peer gets in.
      for (const raw of first) raw.socket.destroy();
      await eventually("a new peer welcomed", async () => {
        const raw = hello();
        await new Promise((resolve) => setTimeout(resolve, 200));
        return raw.messages.length > 0;
      });
      // With the stream full, a client's link goes on over ZeroMQ alone.
      await eventually("the stream full again", async () => {
        const more = [hello(), hello(), hello()];
        await new Promise((resolve) => setTimeout(resolve, 300));
        return raws.filter((r) => !r.socket.destroyed && r.messages.length > 0).length >= 3 && more.some((r) => r.socket.destroyed);
      });
      const late = await capped.cluster.connect({ activate: false });
      try {
        late.directView(ids[0]!);
        await eventually("a direct link without the stream", () => late.directEngines.includes(ids[0]!));
        assert.equal(late._directTransport(ids[0]!), "zmq");
        assert.equal(await late.directView(ids[0]!).apply(() => "over ZeroMQ"), "over ZeroMQ");
      } finally {
        late.close();
      }
    } finally {
      for (const raw of raws) raw.socket.destroy();
      await capped.stop();
    }
  });
});
