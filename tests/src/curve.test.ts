/**
 * Transport security (issue 8, items 2 and 4): ZeroMQ CURVE on every socket with `--curve` (on by
 * default for a non-loopback bind), and an events socket that only holders of the connection file
 * can read, with bounded subscriptions. Over real controller and engine processes and real sockets.
 * On the base commit the events port served anyone, kept every subscription, and nothing was encrypted.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { describe, test } from "node:test";
import * as zmq from "zeromq";
import { Client } from "tsparallel";
import { Signer, newHeader, readConnectionFile, type ClientConnectionInfo, type MessageType } from "@tsparallel/protocol";
import { eventually, sharedCluster } from "./support/cluster-fixture.js";
import { ControllerProcess, FakeClient, Scene } from "./support/controller-harness.js";
import { rawSignedFrames } from "./support/raw-peer.js";

const TEST_TIMEOUT = { timeout: 120_000 };

/** The keys as a connection file holds them (read as plain JSON, so this file also builds on the base commit). */
interface CurveFields {
  curve?: boolean;
  curve_keys?: { server_public: string; server_secret: string; client_public: string; client_secret: string };
}

function curveFields(info: ClientConnectionInfo): CurveFields {
  return info as unknown as CurveFields;
}

/** SUB options of a holder of the connection file (none when the file holds no keys). */
function holderOptions(info: ClientConnectionInfo): Partial<zmq.SocketOptions<zmq.Subscriber>> {
  const { curve, curve_keys: keys } = curveFields(info);
  return curve && keys ? { curveServerKey: keys.server_public, curvePublicKey: keys.client_public, curveSecretKey: keys.client_secret } : {};
}

/** A subscriber to everything on the events port, counting what it receives. */
function subscriber(info: ClientConnectionInfo, options: Partial<zmq.SocketOptions<zmq.Subscriber>>): { socket: zmq.Subscriber; received: () => number } {
  const socket = new zmq.Subscriber({ linger: 0, ...options });
  let count = 0;
  socket.subscribe();
  socket.connect(`tcp://${info.location}:${info.ports.events}`);
  void (async () => {
    try {
      for await (const _ of socket) count++;
    } catch {
      // closed
    }
  })();
  return { socket, received: () => count };
}

function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line!.split(/\s+/)[1]) * 1024;
}

/** Writes a changed copy of a client connection file (0600) and returns its path. */
function variantFile(source: string, name: string, change: (info: Record<string, unknown>) => void): string {
  const info = JSON.parse(readFileSync(source, "utf8")) as Record<string, unknown>;
  change(info);
  const path = source.replace(/\.json$/, `-${name}.json`);
  writeFileSync(path, JSON.stringify(info), { mode: 0o600 });
  return path;
}

/** A TCP relay that keeps every byte passing through, both ways. */
async function recordingRelay(targetPort: number): Promise<{ port: number; bytes: () => Buffer; close: () => void }> {
  const chunks: Buffer[] = [];
  const sockets: Socket[] = [];
  const server: Server = createServer((inbound) => {
    const outbound = createConnection({ host: "127.0.0.1", port: targetPort });
    sockets.push(inbound, outbound);
    for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
      from.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        to.write(chunk);
      });
      from.on("error", () => to.destroy());
      from.on("close", () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    bytes: () => Buffer.concat(chunks),
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** Pushes a marker through a relay in front of the client port and returns what crossed the wire. */
async function wireBytesOfPush(clientFile: string, marker: string): Promise<Buffer> {
  const info = readConnectionFile(clientFile, "client");
  const relay = await recordingRelay(info.ports.client);
  const file = variantFile(clientFile, `relay${relay.port}`, (i) => {
    i.location = "127.0.0.1";
    (i.ports as Record<string, number>).client = relay.port;
  });
  let client: Client | undefined;
  try {
    client = await Client.connect({ connectionFile: file, timeout: 20_000, activate: false });
    const all = client.directView();
    await all.push({ wireMarker: marker }).get(30_000);
    assert.deepEqual(await all.pull("wireMarker").get(30_000), client.ids.map(() => marker));
    return relay.bytes();
  } finally {
    client?.close();
    relay.close();
  }
}

describe("a CURVE cluster (Cluster.start({ curve: true }))", () => {
  const shared = sharedCluster({ n: 2, curve: true } as Parameters<typeof sharedCluster>[0]);

  test("the connection files say curve and hold the keys, readable by the owner only", async () => {
    const { client } = shared();
    for (const file of [client.connectionFile, client.connectionFile.replace(/client\.json$/, "engine.json")]) {
      const info = JSON.parse(readFileSync(file, "utf8")) as CurveFields;
      assert.equal(info.curve, true, `${file} says curve: true`);
      assert.match(info.curve_keys?.server_public ?? "", /^.{40}$/);
      assert.match(info.curve_keys?.client_secret ?? "", /^.{40}$/);
      assert.equal(statSync(file).mode & 0o777, 0o600);
    }
  });

  test("apply, map, push/pull and events work as on a plain cluster", TEST_TIMEOUT, async () => {
    const { client, ids } = shared();
    const all = client.directView();
    assert.deepEqual(await all.apply((x: number) => x + 1, 41).get(30_000), ids.map(() => 42));
    assert.deepEqual(await client.loadBalancedView().map((x: number) => x * x, [1, 2, 3, 4, 5]).get(30_000), [1, 4, 9, 16, 25]);
    const big = new Float64Array(100_000).map((_, i) => i);
    await all.push({ curveBig: big }).get(30_000);
    const pulled = (await all.pull("curveBig").get(30_000)) as Float64Array[];
    assert.equal(pulled.length, ids.length);
    for (const array of pulled) assert.deepEqual(array, big);
    let snapshots = 0;
    const count = () => snapshots++;
    client.events.on("cluster_snapshot", count);
    try {
      await eventually("a cluster_snapshot event over CURVE", () => snapshots > 0);
    } finally {
      client.events.off("cluster_snapshot", count);
    }
  });

  test("code and data cross the wire encrypted: a pushed marker is not in the bytes", TEST_TIMEOUT, async () => {
    const { client } = shared();
    const marker = "curve-wire-marker-5f3a9c";
    const wire = await wireBytesOfPush(client.connectionFile, marker);
    assert.ok(wire.length > 1000, `the relay carried the traffic (${wire.length} bytes)`);
    assert.equal(wire.includes(marker), false, "the marker crossed the wire in the clear");
    assert.equal(wire.includes("push_request") || wire.includes("submit_request") || wire.includes("hmac"), false, "message headers crossed in the clear");
  });

  test("a client without the keys cannot connect: a clear error at once, not a hang", TEST_TIMEOUT, async () => {
    const { client } = shared();
    const file = variantFile(client.connectionFile, "nokeys", (i) => {
      delete i.curve;
      delete i.curve_keys;
    });
    // The timeout is long on purpose: an error that comes only from it is the hang this test rules out.
    await assert.rejects(Client.connect({ connectionFile: file, timeout: 90_000, activate: false }), (err: Error) => {
      assert.equal(err.name, "HandshakeError", `${err.name}: ${err.message}`);
      assert.match(err.message, /CURVE/);
      return true;
    });
  });

  test("a client with another cluster's client key is refused by name, not left waiting", TEST_TIMEOUT, async () => {
    const { client } = shared();
    const other = zmq.curveKeyPair();
    const file = variantFile(client.connectionFile, "otherkey", (i) => {
      const keys = i.curve_keys as Record<string, string> | undefined;
      i.curve = true;
      i.curve_keys = { ...keys, client_public: other.publicKey, client_secret: other.secretKey };
    });
    await assert.rejects(Client.connect({ connectionFile: file, timeout: 90_000, activate: false }), (err: Error) => {
      assert.equal(err.name, "HandshakeError", `${err.name}: ${err.message}`);
      assert.match(err.message, /refused this client's CURVE key/);
      return true;
    });
  });
});

describe("plaintext for comparison", () => {
  const shared = sharedCluster({ n: 1 });

  test("on loopback without --curve the same marker is visible on the wire (the relay sees plaintext)", TEST_TIMEOUT, async () => {
    const { client } = shared();
    const info = JSON.parse(readFileSync(client.connectionFile, "utf8")) as CurveFields;
    assert.notEqual(info.curve, true, "loopback: CURVE is off unless asked");
    const marker = "plain-wire-marker-81d2e7";
    const wire = await wireBytesOfPush(client.connectionFile, marker);
    assert.equal(wire.includes(marker), true);
  });
});

describe("CURVE by default on a non-loopback bind", () => {
  test("--ip 0.0.0.0 turns CURVE on; --no-curve turns it off; loopback leaves it off", TEST_TIMEOUT, async () => {
    for (const [args, expected] of [[["--ip", "0.0.0.0"], true], [["--ip", "0.0.0.0", "--no-curve"], false], [[], false], [["--curve"], true]] as const) {
      const controller = await ControllerProcess.start([...args]);
      try {
        for (const info of [controller.clientInfo(), controller.engineInfo()]) {
          assert.equal(curveFields(info as ClientConnectionInfo).curve === true, expected, `${args.join(" ") || "(no flags)"}: curve ${String(curveFields(info as ClientConnectionInfo).curve)}`);
        }
      } finally {
        await controller.dispose();
      }
    }
  });
});

/** A DEALER on the events port that asks for events with a message signed by `key` and counts what comes. */
function eventsPeer(info: ClientConnectionInfo, key: string, options: Partial<zmq.SocketOptions<zmq.Dealer>> = {}): { socket: zmq.Dealer; received: () => number; subscribe: () => Promise<void> } {
  // A send that cannot be queued (no peer took the connection) fails instead of waiting for ever.
  const socket = new zmq.Dealer({ linger: 0, sendTimeout: 5000, ...options });
  socket.connect(`tcp://${info.location}:${info.ports.events}`);
  const signer = new Signer(key);
  let count = 0;
  void (async () => {
    try {
      for await (const _ of socket) count++;
    } catch {
      // closed
    }
  })();
  const subscribe = () => socket.send(rawSignedFrames(signer, newHeader("events_subscribe" as MessageType, "events-test"), "{}"));
  return { socket, received: () => count, subscribe };
}

async function withEnv<T>(name: string, value: string, run: () => Promise<T>): Promise<T> {
  const old = process.env[name];
  process.env[name] = value;
  try {
    return await run();
  } finally {
    if (old === undefined) delete process.env[name];
    else process.env[name] = old;
  }
}

describe("CURVE across a controller restart", () => {
  test("--restore keeps the CURVE keys and ports: a client holding the old file goes on", TEST_TIMEOUT, async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsp-curve-restore-"));
    const files = ["--client-file", join(dir, "client.json"), "--engine-file", join(dir, "engine.json"), "--db", "memory"];
    let second: ControllerProcess | undefined;
    try {
      const first = await ControllerProcess.start(["--curve", ...files]);
      const before = first.clientInfo();
      await first.dispose(); // SIGKILL: the files stay, as after a crash
      second = await ControllerProcess.start(["--curve", "--restore", ...files]);
      const after = second.clientInfo();
      assert.deepEqual(curveFields(after).curve_keys, curveFields(before).curve_keys);
      assert.deepEqual(after.ports, before.ports);
      const client = await FakeClient.start(before);
      try {
        const reply = await client.request<"status_reply">("status_request", {});
        assert.equal((reply.content as { controller: { pid: number } }).controller.pid, second.ready.pid);
      } finally {
        client.close();
      }
    } finally {
      await second?.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the events socket", () => {
  test("a peer without the key receives nothing (plain subscriber, wrong key, no subscription); a holder that subscribes does", TEST_TIMEOUT, async () => {
    const scene = await Scene.start();
    const info = scene.controller.clientInfo();
    const stranger = subscriber(info, {});
    const forger = eventsPeer(info, `${info.key}x`);
    const silent = eventsPeer(info, info.key);
    const holder = eventsPeer(info, info.key, holderOptions(info));
    try {
      await forger.subscribe();
      await holder.subscribe();
      await scene.engine();
      // controller_heartbeat goes out every second: three of them to the holder is time enough for the others.
      await eventually("three events at the key holder, or any at the stranger", () => holder.received() >= 3 || stranger.received() > 0, 30_000);
      assert.equal(stranger.received(), 0, "a plain subscriber read the events");
      assert.ok(holder.received() >= 3);
      assert.equal(forger.received(), 0, "a subscription signed with a wrong key was served");
      assert.equal(silent.received(), 0, "a peer that never subscribed was sent events");
    } finally {
      for (const s of [stranger, forger, silent, holder]) s.socket.close();
      await scene.close();
    }
  });

  test("20,000 long (300-byte) subscriptions do not grow the controller", TEST_TIMEOUT, async () => {
    const scene = await Scene.start();
    const info = scene.controller.clientInfo();
    const pid = scene.controller.ready.pid;
    // What a PUB socket took from anyone: an XSUB without a send limit (a SUB drops subscriptions past
    // its high-water mark), flooding once its handshake is done, or queueing if there is none.
    const socket = new zmq.XSubscriber({ linger: 0, sendHighWaterMark: 0 });
    const outcome = new Promise<string>((resolve) => {
      // A peer of the wrong socket type is disconnected without a handshake event.
      for (const type of ["handshake", "disconnect", "handshake:error:protocol", "handshake:error:other", "handshake:error:auth"] as const) {
        socket.events.on(type, () => resolve(type));
      }
    });
    socket.connect(`tcp://${info.location}:${info.ports.events}`);
    try {
      const before = rssBytes(pid);
      const handshake = await outcome;
      const chunk = "x".repeat(300);
      for (let i = 0; i < 20_000; i++) await socket.send(Buffer.from(`\x01${i}:${chunk}`, "latin1"));
      if (handshake === "handshake") {
        // Subscriptions of one peer are handled in order: once this last one is served, all were.
        await socket.send(Buffer.from("\x01controller_heartbeat", "latin1"));
        const [topic] = await socket.receive();
        assert.equal(topic!.toString(), "controller_heartbeat");
      }
      // Either way the controller must still serve, and must not have grown.
      const client = await scene.client();
      await client.events.next("controller_heartbeat");
      const grown = rssBytes(pid) - before;
      assert.ok(grown < 64 * 1024 * 1024, `the controller grew by ${Math.round(grown / 1048576)} MiB for 20,000 subscriptions`);
    } finally {
      socket.close();
      await scene.close();
    }
  });

  test("subscribers are bounded: past TSPARALLEL_MAX_EVENT_SUBSCRIBERS a key holder is refused and the refusal logged", TEST_TIMEOUT, async () => {
    const cap = 4;
    const scene = await withEnv("TSPARALLEL_MAX_EVENT_SUBSCRIBERS", String(cap), () => Scene.start());
    const info = scene.controller.clientInfo();
    const peers = Array.from({ length: 12 }, () => eventsPeer(info, info.key, holderOptions(info)));
    try {
      // Each asks many times: one entry each however often it asks.
      for (let round = 0; round < 50; round++) for (const peer of peers) await peer.subscribe();
      await eventually("events at the first subscribers", () => peers.filter((p) => p.received() >= 2).length >= 1, 30_000);
      await eventually("the refusal in the controller's log", () => /subscription\(s\) refused, 4 subscribers already/.test(scene.controller.stderr), 30_000);
      const served = peers.filter((p) => p.received() > 0).length;
      assert.ok(served <= cap, `${served} peers were served events, past the cap of ${cap}`);
    } finally {
      for (const peer of peers) peer.socket.close();
      await scene.close();
    }
  });
});
