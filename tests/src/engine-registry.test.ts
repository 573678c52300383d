/**
 * Registrations by the hundred from one key holder (issue 8): on the base commit every fake engine
 * stayed in every snapshot for good, and any number could register at once. A real controller (SQLite
 * task store), real engines, and a raw peer on the engine port that registers fakes whose process the
 * controller can see is gone (so they are declared dead within two beats).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import * as zmq from "zeromq";
import { decodeMessage, encodeMessage, engineConnectionFile, newHeader, pidSpace, readConnectionFile, Signer, url, type MessageContents } from "@tsparallel/protocol";
import { Client } from "tsparallel";
import { eventually, privateRoot } from "./support/cluster-fixture.js";
import { bins } from "./support/paths.js";

const started: ChildProcess[] = [];
after(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

async function startController(profile: string, args: string[]): Promise<ChildProcess> {
  privateRoot();
  const child = spawn(process.execPath, [bins.controller, "--profile", profile, ...args], { stdio: ["ignore", "pipe", "ignore"], env: process.env });
  started.push(child);
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", () => resolve());
    child.once("exit", (code) => reject(new Error(`tspcontroller exited (${code}) before it was ready`)));
  });
  return child;
}

function startEngine(profile: string): ChildProcess {
  const child = spawn(process.execPath, [bins.engine, "--file", engineConnectionFile(profile)], { stdio: "ignore", env: process.env });
  started.push(child);
  return child;
}

type Reply = MessageContents["registration_reply"];

test("300 fake registrations: at most a burst is taken at once, dead ones leave the snapshot past the bound, a forgotten one gets its id back", { timeout: 120_000 }, async () => {
  const profile = "fake-registrations";
  const KEEP = 20;
  const PER_SEC = 10; // bursts of 100
  await startController(profile, ["--db", "sqlite", "--heartbeat-period", "100", "--heartbeat-misses", "10", "--keep-dead-engines", String(KEEP), "--new-engines-per-sec", String(PER_SEC)]);
  startEngine(profile);
  const client = await Client.connect({ profile, activate: false });
  const info = readConnectionFile(engineConnectionFile(profile), "engine");
  const signer = new Signer(info.key);
  const raw = new zmq.Dealer({ linger: 0, receiveTimeout: 30_000 });
  raw.connect(url(info, info.ports.engine));
  try {
    await client.waitForEngines(1, { timeout: 30_000 });
    const [real] = client.ids;
    // A pid in the controller's pid space whose start time is not what it says: gone, so dead in two beats.
    const fake = (uuid: string): MessageContents["registration_request"] => ({ uuid, hostname: "fake", pid: 2_000_000_000, version: "0", process: { pidSpace: pidSpace()!, startTime: 1 } });
    const register = async (uuid: string): Promise<Reply> => {
      await raw.send(encodeMessage(signer, { header: newHeader("registration_request", "fake"), content: fake(uuid) }));
      return decodeMessage<Reply>(signer, await raw.receive()).content;
    };
    const began = Date.now();
    const replies: Reply[] = [];
    for (let i = 0; i < 300; i++) replies.push(await register(`fake-${i}`));
    const seconds = (Date.now() - began) / 1000;
    const granted = replies.filter((r) => r.status === "ok") as Extract<Reply, { status: "ok" }>[];
    const refused = replies.filter((r) => r.status === "error");
    assert.ok(granted.length <= 100 + Math.ceil(PER_SEC * seconds) + 1, `${granted.length} of 300 new engines registered within ${seconds.toFixed(1)} s`);
    assert.ok(refused.length > 0 && refused.every((r) => (r as { retryAfterMs?: number }).retryAfterMs! > 0), "refusals say when to ask again");

    await eventually("every fake engine to be declared dead", async () => (await client.status()).engines.every((e) => e.id === real || e.state === "dead"));
    const status = await client.status();
    assert.ok(status.engines.length <= KEEP + 1, `the snapshot still lists ${status.engines.length} engines`);
    assert.equal(status.engines.find((e) => e.id === real)?.state, "idle", "the real engine is still there");
    assert.equal(await client.directView(real!).apply(() => 1), 1);

    // The first fake was forgotten long ago; the SQLite engine table still knows its uuid.
    const first = granted[0]!;
    assert.ok(!status.engines.some((e) => e.id === first.id), "the first fake is no longer in the snapshot");
    const again = await register("fake-0");
    assert.equal(again.status, "ok", JSON.stringify(again));
    assert.equal((again as Extract<Reply, { status: "ok" }>).id, first.id, "a forgotten engine registering again gets its id back");

    // A real engine that comes while the budget is spent is refused for now and asks again.
    for (let i = 300; i < 400; i++) await register(`fake-${i}`);
    startEngine(profile);
    await eventually("a second real engine to register", () => client.engines.some((e) => e.hostname !== "fake" && e.id !== real && client.ids.includes(e.id)), 60_000);
  } finally {
    raw.close();
    client.close();
  }
});
