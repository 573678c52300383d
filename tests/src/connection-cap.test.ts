/**
 * Connection caps (issue 8): a peer that completes the ZeroMQ handshake (NULL, or CURVE with the
 * cluster's keys) and then sits was never closed, so 31,500 of them took all the controller's file
 * descriptors and new clients timed out. Now the controller counts handshaken connections per peer
 * address and per port and refuses more during the handshake. These tests hold real handshaken DEALERs
 * from other loopback addresses (127.0.0.2 and up) beyond small caps, and beyond the per-port cap that an
 * open-file limit of 512 leaves; real clients from 127.0.0.1 get in, or are refused with a clear error
 * when their port is full.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import * as zmq from "zeromq";
import { clientConnectionFile, curveClientOptions, engineConnectionFile, readConnectionFile, type ConnectionInfo } from "@tsparallel/protocol";
import { Client } from "tsparallel";
import { eventually, privateRoot } from "./support/cluster-fixture.js";
import { startController } from "./support/controller-process.js";
import { bins } from "./support/paths.js";

const started: ChildProcess[] = [];
const peers: zmq.Dealer[] = [];
/** ZeroMQ allows 1,023 sockets per context (a DEALER with an event observer takes two): each test closes its peers. */
function closePeers(): void {
  for (const dealer of peers.splice(0)) dealer.close();
}
after(() => {
  closePeers();
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

const PER_ADDRESS = 20;
const PER_PORT = 3 * PER_ADDRESS;
const FLOOD = 2 * PER_ADDRESS;

interface Flood {
  handshaken: number;
  refused: number;
  dealers: zmq.Dealer[];
}

/** `count` idle DEALERs from `source` on `port`, each with its own TCP connection; resolves once every handshake has ended one way or the other. */
async function flood(info: ConnectionInfo, port: number, source: string, count: number): Promise<Flood> {
  const result: Flood = { handshaken: 0, refused: 0, dealers: [] };
  for (let i = 0; i < count; i++) {
    const dealer = new zmq.Dealer({ linger: 0, ...curveClientOptions(info) });
    peers.push(dealer);
    result.dealers.push(dealer);
    let settled = false;
    dealer.events.on("handshake", () => {
      if (!settled) result.handshaken++;
      settled = true;
    });
    dealer.events.on("handshake:error:auth", () => {
      if (!settled) result.refused++;
      settled = true;
    });
    dealer.connect(`tcp://${source}:0;${info.ip}:${port}`);
  }
  await eventually(`all ${count} handshakes from ${source} to end`, () => result.handshaken + result.refused === count);
  return result;
}

function refusalLines(log: string, port: string, source: string): number {
  return log.split("\n").filter((line) => line.includes(`refused a connection to the ${port} port from ${source}`)).length;
}

for (const curve of [false, true]) {
  const mechanism = curve ? "CURVE" : "NULL";
  test(`${mechanism}: idle handshaken peers past the per-address and per-port caps are refused, counted and logged rate-limited; real clients get in or are told why`, { timeout: 90_000 }, async (t) => {
    const profile = `conn-cap-${mechanism.toLowerCase()}`;
    const args = ["--db", "memory", "--max-connections-per-address", String(PER_ADDRESS), "--max-connections-per-port", String(PER_PORT), ...(curve ? ["--curve"] : [])];
    const controller = await startController(profile, args, started);
    const engine = spawn(process.execPath, [bins.engine, "--file", engineConnectionFile(profile)], { stdio: "ignore" });
    started.push(engine);
    const first = await Client.connect({ profile, activate: false });
    try {
      await first.waitForEngines(1, { timeout: 30_000 });
      const info = readConnectionFile(clientConnectionFile(profile), "client");
      assert.equal(info.curve, curve);

      const held = await flood(info, info.ports.client, "127.0.0.2", FLOOD);
      assert.equal(held.handshaken, PER_ADDRESS, `handshakes admitted from 127.0.0.2 (${held.refused} refused)`);
      assert.equal(held.refused, FLOOD - PER_ADDRESS);

      // The admitted ones stay (they are idle, not misbehaving); a real client from another address gets in and works.
      const late = await Client.connect({ profile, activate: false, timeout: 20_000 });
      try {
        assert.deepEqual(await late.directView().apply(() => 1).get(30_000), [1]);
        const client = (await late.status()).connections?.client;
        assert.ok(client, "the snapshot has the client port's connections");
        assert.ok((client.refused ?? 0) >= FLOOD - PER_ADDRESS, `refusals counted: ${JSON.stringify(client)}`);
        assert.ok((client.counted ?? 0) >= PER_ADDRESS, `handshaken connections counted: ${JSON.stringify(client)}`);

        // The per-port cap: three more addresses, each within its own cap, fill the events port, where the two
        // clients' event sockets already hold two places.
        const events = [];
        for (const source of ["127.0.0.3", "127.0.0.4", "127.0.0.5"]) events.push(await flood(info, info.ports.events, source, PER_ADDRESS));
        const admitted = events.reduce((sum, f) => sum + f.handshaken, 0);
        const refused = events.reduce((sum, f) => sum + f.refused, 0);
        assert.deepEqual({ admitted, refused }, { admitted: PER_PORT - 2, refused: 3 * PER_ADDRESS - (PER_PORT - 2) }, "events port: admitted up to the per-port cap");
        assert.ok(((await late.status()).connections?.events?.refused ?? 0) >= refused);

        // Peers that leave free their place: the kernel's table shows them gone when the cap is reached again.
        for (const dealer of held.dealers) dealer.close();
        let seen: unknown;
        await eventually("the cap to count the flood's connections gone", async () => {
          const port = (seen = (await late.status()).connections?.client);
          // What stays open is the two clients' connections.
          return port !== undefined && port.open <= 6 && (port.counted ?? Infinity) <= port.open;
        }).catch((err: Error) => {
          throw new Error(`${err.message}: ${JSON.stringify(seen)}`);
        });
        const again = await flood(info, info.ports.client, "127.0.0.2", PER_ADDRESS);
        assert.equal(again.handshaken, PER_ADDRESS, "after the first flood left, as many get in again");
        assert.deepEqual(await late.directView().apply(() => 2).get(30_000), [2]);

        // The client port full (two clients hold four places): a new client is refused at once, and says why;
        // the clients already in are served as before.
        const rest = [await flood(info, info.ports.client, "127.0.0.3", PER_ADDRESS), await flood(info, info.ports.client, "127.0.0.4", PER_ADDRESS)];
        assert.equal(rest[0]!.handshaken + rest[1]!.handshaken, PER_PORT - PER_ADDRESS - 4);
        await assert.rejects(Client.connect({ profile, activate: false, timeout: 20_000 }), (err: Error) => err.name === "HandshakeError" && /connection caps allow/.test(err.message));
        assert.deepEqual(await first.directView().apply(() => 3).get(30_000), [3]);
      } finally {
        late.close();
      }
      const log = controller.stderr();
      const lines = refusalLines(log, "client", "127.0.0.2");
      assert.ok(lines >= 1 && lines < FLOOD - PER_ADDRESS, `refusals are logged, rate-limited: ${lines} lines for ${FLOOD - PER_ADDRESS} refusals`);
      t.diagnostic(`client port: ${JSON.stringify((await first.status()).connections?.client)}`);
      assert.equal(controller.child.exitCode, null, "the controller is alive");
    } finally {
      closePeers();
      first.close();
    }
  });
}

const FD_LIMIT = 512;
/** What the controller keeps for itself (connection-caps.ts): the rest is shared by its four ports. */
const RESERVED_DESCRIPTORS = 256;
const FD_FLOOD = 600;

test(`at an open-file limit of ${FD_LIMIT}, ${FD_FLOOD} idle handshaken peers on one port stop at its cap; the controller serves old and new clients`, { timeout: 120_000 }, async (t) => {
  privateRoot();
  const profile = "conn-cap-fds";
  const controller = spawn("prlimit", [`--nofile=${FD_LIMIT}:${FD_LIMIT}`, process.execPath, bins.controller, "--profile", profile, "--db", "memory", "--log-level", "info"], { stdio: ["ignore", "pipe", "pipe"] });
  started.push(controller);
  let log = "";
  controller.stderr!.on("data", (chunk: Buffer) => (log += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: controller.stdout! }).once("line", () => resolve());
    controller.once("exit", (code) => reject(new Error(`tspcontroller exited (${code}) before it was ready:\n${log}`)));
  });
  const perPort = Math.floor((FD_LIMIT - RESERVED_DESCRIPTORS) / 4);
  assert.match(log, new RegExp(`open-file limit \\(${FD_LIMIT}\\) leaves room for ${perPort} connections per port`));
  const engine = spawn(process.execPath, [bins.engine, "--file", engineConnectionFile(profile)], { stdio: "ignore" });
  started.push(engine);
  const first = await Client.connect({ profile, activate: false });
  try {
    await first.waitForEngines(1, { timeout: 30_000 });
    const engineInfo = readConnectionFile(engineConnectionFile(profile), "engine");
    // The heartbeat port, which clients do not use: a new client must get in while it is full.
    for (let i = 0; i < FD_FLOOD; i++) {
      const dealer = new zmq.Dealer({ linger: 0 });
      peers.push(dealer);
      dealer.connect(`tcp://127.0.0.${2 + (i % 8)}:0;${engineInfo.ip}:${engineInfo.ports.heartbeat}`);
    }
    const heartbeat = await eventually("the flood to be admitted up to the cap and the rest refused", async () => {
      const port = (await first.status()).connections?.heartbeat;
      return port && (port.refused ?? 0) >= FD_FLOOD - perPort ? port : undefined;
    }, 60_000);
    assert.equal(heartbeat.counted, perPort, `the heartbeat port counts its cap: ${JSON.stringify(heartbeat)}`);
    // Refused peers that connect again hold a descriptor while in their handshake: the count moves, so it is
    // reported, and what is asserted is what it is for: clients old and new are served.
    const descriptors = readdirSync(`/proc/${controller.pid}/fd`).length;
    assert.deepEqual(await first.directView().apply(() => 1).get(30_000), [1], "the client that was in is served");
    const late = await Client.connect({ profile, activate: false, timeout: 20_000 });
    try {
      assert.deepEqual(await late.directView().apply(() => 2).get(30_000), [2], "a new client gets in and is served");
    } finally {
      late.close();
    }
    t.diagnostic(`heartbeat port ${JSON.stringify(heartbeat)}; controller descriptors ${descriptors} of ${FD_LIMIT}`);
    assert.equal(controller.exitCode, null, "the controller is alive");
  } finally {
    closePeers();
    first.close();
  }
});

test("a cap that is not a positive whole number is refused at start, by name", async () => {
  privateRoot();
  for (const flag of ["--max-connections-per-address", "--max-connections-per-port"]) {
    const child = spawn(process.execPath, [bins.controller, "--profile", "conn-cap-bad", "--db", "memory", flag, "0"], { stdio: ["ignore", "ignore", "pipe"] });
    started.push(child);
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 1);
    assert.match(stderr, /maxConnectionsPer(Address|Port) must be a positive whole number, got 0/);
  }
});
