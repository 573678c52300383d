/**
 * Replays the per-socket, in-memory guard let through (issue 8): a message captured on one port and
 * sent to another, and a captured submit sent again after the controller was killed and restarted with
 * `--restore` (same ports, same key). Real controller and engine processes and a real SQLite store.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { after, test } from "node:test";
import * as zmq from "zeromq";
import { clientConnectionFile, engineConnectionFile, readConnectionFile, Signer, url } from "@tsparallel/protocol";
import { Client } from "tsparallel";
import { eventually } from "./support/cluster-fixture.js";
import { bins } from "./support/paths.js";
import { kill9, startController } from "./support/controller-process.js";
import { executeTask, rawClientPeer, rawSignedFrames, submitHeader } from "./support/raw-peer.js";

const TEST_TIMEOUT = { timeout: 120_000 };
const started: ChildProcess[] = [];
after(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});



/** Polls a counter the replayed code bumps, after a marker sent behind the replay has run. */
async function counterAfterMarker(client: Client, dealer: zmq.Dealer, signer: Signer, ids: number[], marker: string): Promise<unknown> {
  await dealer.send(rawSignedFrames(signer, submitHeader(), JSON.stringify({ tasks: [executeTask(ids, `var ${marker} = true`)] })));
  const all = client.directView(ids);
  await eventually(`the marker ${marker} to run`, () => all.pull(marker).get(20_000).then(() => true, () => false));
  return all.pull("replayed").get(20_000);
}

test("a signed message captured on the client port and sent to the engine port is refused as a replay", TEST_TIMEOUT, async () => {
  const profile = "replay-ports";
  const controller = await startController(profile, ["--db", "memory"], started);
  try {
    const { dealer, key } = rawClientPeer(clientConnectionFile(profile));
    const info = readConnectionFile(engineConnectionFile(profile), "engine");
    const onEngine = new zmq.Dealer({ linger: 0 });
    onEngine.connect(url(info, info.ports.engine));
    try {
      const captured = rawSignedFrames(new Signer(key), submitHeader(), JSON.stringify({ tasks: [] }));
      await dealer.send(captured);
      await onEngine.send(captured);
      await eventually("the controller to log the replay", () => /replayed signature/.test(controller.stderr()));
    } finally {
      dealer.close();
      onEngine.close();
    }
  } finally {
    await kill9(controller.child);
  }
});

test("after SIGKILL and --restore with the same key, a submit accepted before the restart is not run again", TEST_TIMEOUT, async () => {
  const profile = "replay-restart";
  let controller = await startController(profile, [], started);
  const engine = spawn(process.execPath, [bins.engine, "--file", engineConnectionFile(profile)], { stdio: "ignore", env: process.env });
  started.push(engine);
  let client = await Client.connect({ profile, activate: false });
  try {
    await client.waitForEngines(1, { timeout: 30_000 });
    const ids = client.ids;
    const { dealer, key } = rawClientPeer(clientConnectionFile(profile));
    const signer = new Signer(key);
    const captured = rawSignedFrames(signer, submitHeader(), JSON.stringify({ tasks: [executeTask(ids, "globalThis.replayed = (globalThis.replayed ?? 0) + 1")] }));
    try {
      await dealer.send(captured);
      assert.deepEqual(await counterAfterMarker(client, dealer, signer, ids, "beforeRestart"), [1]);
    } finally {
      dealer.close();
    }
    client.close();
    await kill9(controller.child);
    controller = await startController(profile, ["--restore"], started);
    // The engine keeps its namespace when it rejoins the restarted controller.
    client = await Client.connect({ profile, activate: false });
    await client.waitForEngines(1, { timeout: 60_000 });
    assert.deepEqual(client.ids, ids, "the engine rejoined under its id");
    const again = rawClientPeer(clientConnectionFile(profile));
    try {
      await again.dealer.send(captured);
      assert.deepEqual(await counterAfterMarker(client, again.dealer, signer, ids, "afterRestart"), [1], "the captured submit ran again after the restart");
      await eventually("the controller to log the refused replay", () => /before this receiver's restart/.test(controller.stderr()));
    } finally {
      again.dealer.close();
    }
  } finally {
    client.close();
    engine.kill("SIGKILL");
    await kill9(controller.child);
  }
});
