/**
 * A flood of idle TCP connections on the client port (issue 8): on the base commit 31,500 of them took
 * all the controller's file descriptors and new clients timed out, since libzmq keeps a connection that
 * never says a word for its default handshake interval (30 s) and has no cap on accepted connections.
 * Here the controller runs with 1,024 descriptors (prlimit) and the test holds 3,000 raw connections:
 * connections that do not finish the ZMTP handshake are closed after the handshake interval
 * (TSPARALLEL_HANDSHAKE_MS, 2 s in this test), so a new client gets in while the flood is still held.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { connect, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import { clientConnectionFile, engineConnectionFile, readConnectionFile } from "@tsparallel/protocol";
import { Client } from "tsparallel";
import { eventually, privateRoot } from "./support/cluster-fixture.js";
import { bins } from "./support/paths.js";
import { rssOf } from "./support/rss.js";

const started: ChildProcess[] = [];
const flood: Socket[] = [];
after(() => {
  for (const socket of flood) socket.destroy();
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

const FLOOD = 3000;
const FD_LIMIT = 1024;

test(`${FLOOD} idle TCP connections against a controller with ${FD_LIMIT} file descriptors do not lock a new client out`, { timeout: 180_000 }, async (t) => {
  privateRoot();
  const profile = "conn-flood";
  const env = { ...process.env, TSPARALLEL_HANDSHAKE_MS: "2000" };
  const controller = spawn("prlimit", [`--nofile=${FD_LIMIT}:${FD_LIMIT}`, process.execPath, bins.controller, "--profile", profile, "--db", "memory"], { stdio: ["ignore", "pipe", "ignore"], env });
  started.push(controller);
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: controller.stdout! }).once("line", () => resolve());
    controller.once("exit", (code) => reject(new Error(`tspcontroller exited (${code}) before it was ready`)));
  });
  const engine = spawn(process.execPath, [bins.engine, "--file", engineConnectionFile(profile)], { stdio: "ignore", env });
  started.push(engine);
  const first = await Client.connect({ profile, activate: false });
  try {
    await first.waitForEngines(1, { timeout: 30_000 });
    const pid = (await first.status()).controller.pid;
    const rssBefore = rssOf(pid);
    const info = readConnectionFile(clientConnectionFile(profile), "client");
    let connected = 0;
    let closedByServer = 0;
    for (let i = 0; i < FLOOD; i++) {
      const socket = connect({ host: "127.0.0.1", port: info.ports.client });
      socket.on("connect", () => connected++);
      socket.on("error", () => undefined);
      // Read (and drop) the controller's greeting, so that its close is seen.
      socket.resume();
      socket.on("close", () => closedByServer++);
      flood.push(socket);
    }
    await eventually("the flood to reach the controller", () => connected >= FD_LIMIT);
    // The flood is held (nothing is closed from this side): a new client must still get in and work.
    const began = Date.now();
    const late = await Client.connect({ profile, activate: false, timeout: 20_000 });
    try {
      const connectMs = Date.now() - began;
      assert.deepEqual(await late.directView().apply(() => 1).get(30_000), [1]);
      const status = await late.status();
      const client = status.connections?.client;
      assert.ok(client, "the snapshot counts connections per port");
      assert.ok(client.droppedInHandshake > 0, `no connection was closed in its handshake: ${JSON.stringify(client)}`);
      t.diagnostic(`connected ${connected} of ${FLOOD}; a new client connected after ${connectMs} ms; client port ${JSON.stringify(client)}; controller RSS +${((rssOf(pid) - rssBefore) / 2 ** 20).toFixed(1)} MiB`);
      // The controller closes every idle connection it accepts, without this side doing anything: what stays
      // open is the two clients' sockets (a DEALER, a SUB and a heartbeat DEALER each).
      await eventually("the controller to close the idle connections", async () => ((await late.status()).connections?.client?.open ?? Infinity) <= 6, 60_000);
      t.diagnostic(`closed by the controller: ${closedByServer} (flood sockets that connected: ${connected})`);
    } finally {
      late.close();
    }
    assert.equal(controller.exitCode, null, "the controller is alive");
  } finally {
    first.close();
  }
});
