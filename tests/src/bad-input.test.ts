/**
 * Bad input from the client's side: broken connection files, no engines, values that cannot travel,
 * engines killed mid-map, a controller that is gone, and messages signed with the wrong key.
 * Every case must end in a clear error within its timeout: the test timeouts catch a hang.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import * as zmq from "zeromq";
import {
  Signer, encodeMessage, newHeader, newMessageId, readConnectionFile, url, type MessageContents,
} from "@tsparallel/protocol";
import {
  Client, CompositeError, ConnectionFileError, ControllerError, EngineError, FunctionSerializationError,
  LocalControllerLauncher, NoEnginesError, SerializationError, TimeoutError,
} from "tsparallel";
import { eventually, isRunning, privateRoot, sharedCluster, startCluster, waitUntilBusy } from "./support/cluster-fixture.js";
import { compositeOf, instanceOf, remoteError } from "./support/remote-errors.js";

declare const runLogPath: string;

const TEST_TIMEOUT = { timeout: 60_000 };

function writeFile(name: string, text: string): string {
  const path = join(privateRoot(), name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

describe("connection files", () => {
  test("a missing connection file says how to start a cluster", async () => {
    await assert.rejects(Client.connect({ connectionFile: join(privateRoot(), "missing.json") }), instanceOf(ConnectionFileError, /no connection file.*tspcluster start/));
    await assert.rejects(Client.connect({ profile: "never-started" }), instanceOf(ConnectionFileError, /profile_never-started/));
  });

  test("a corrupt connection file is refused with the reason", async () => {
    const cases: [string, RegExp][] = [
      ["{ not json", /corrupt/],
      ["[1, 2]", /corrupt: it lacks/],
      ["null", /corrupt/],
      [JSON.stringify({ kind: "client" }), /lacks transport, ip, location, key, ports, signature_scheme/],
      [JSON.stringify({ kind: "engine", transport: "tcp", ip: "127.0.0.1", location: "127.0.0.1", key: "k", signature_scheme: "hmac-sha256", ports: { engine: 1, heartbeat: 2 } }), /for engines, not clients/],
      [JSON.stringify({ kind: "client", transport: "tcp", ip: "127.0.0.1", location: "127.0.0.1", key: "k", signature_scheme: "hmac-md5", ports: { client: 1, events: 2 } }), /signature scheme hmac-md5/],
      [JSON.stringify({ kind: "client", transport: "tcp", ip: "127.0.0.1", location: "127.0.0.1", key: "k", signature_scheme: "hmac-sha256", ports: { client: 1 } }), /port events is missing/],
    ];
    for (const [i, [text, reason]] of cases.entries()) {
      const file = writeFile(`corrupt-${i}.json`, text);
      await assert.rejects(Client.connect({ connectionFile: file, timeout: 2000 }), instanceOf(ConnectionFileError, reason), text);
    }
  });

  test("a connection file naming a port nobody listens on times out instead of hanging", TEST_TIMEOUT, async () => {
    const file = writeFile("nobody.json", JSON.stringify({
      kind: "client", transport: "tcp", ip: "127.0.0.1", location: "127.0.0.1", key: "k", signature_scheme: "hmac-sha256",
      profile: "nobody", controller: { pid: 1, hostname: "x", started: "" }, ports: { client: 9, events: 7 },
    }));
    await assert.rejects(Client.connect({ connectionFile: file, timeout: 1000 }), instanceOf(TimeoutError, /nobody\.json/));
  });
});

describe("with a cluster", () => {
  const shared = sharedCluster({ n: 2 });

  test("a connection file with the wrong key gets no answer: the client times out", TEST_TIMEOUT, async () => {
    const { client } = shared();
    const info = JSON.parse(readFileSync(client.connectionFile, "utf8")) as { key: string };
    const forged = writeFile("wrong-key.json", JSON.stringify({ ...info, key: `${info.key}-not` }));
    await assert.rejects(Client.connect({ connectionFile: forged, timeout: 1500 }), instanceOf(TimeoutError));
  });

  test("messages signed with the wrong key, or not at all, are dropped and never executed", TEST_TIMEOUT, async () => {
    const { client, ids } = shared();
    const info = readConnectionFile(client.connectionFile, "client");
    const dealer = new zmq.Dealer({ linger: 0 });
    dealer.connect(url(info, info.ports.client));
    const submit = (signer: Signer, name: string) => {
      const content: MessageContents["submit_request"] = {
        tasks: [{ msgIds: ids.map(() => newMessageId()), targets: ids, body: { kind: "execute", code: `var ${name} = true` }, bufferCount: 0 }],
      };
      return encodeMessage(signer, { header: newHeader("submit_request", "rogue"), content });
    };
    try {
      await dealer.send(submit(new Signer(`${info.key}-forged`), "pwnedForged"));
      await dealer.send(submit(new Signer(""), "pwnedUnsigned"));
      await dealer.send([Buffer.from("<IDS|MSG>"), Buffer.from("garbage")]);
      await dealer.send([Buffer.from("not a message at all")]);
      // The same request, rightly signed, does run: the ones above failed for their signatures only.
      await dealer.send(submit(new Signer(info.key), "signedRight"));
      const all = client.directView();
      await eventually("the rightly signed cell to run", () => all.pull("signedRight").get(20_000).then(() => true, () => false));
      await assert.rejects(all.pull("pwnedForged").get(20_000), compositeOf("NameError", ids.length));
      await assert.rejects(all.pull("pwnedUnsigned").get(20_000), compositeOf("NameError", ids.length));
      assert.deepEqual(await all.apply(() => "still serving"), ids.map(() => "still serving"));
    } finally {
      dealer.close();
    }
  });

  test("an argument that cannot travel is refused before anything is sent", () => {
    const { client, ids } = shared();
    const one = client.directView(ids[0]!);
    const lv = client.loadBalancedView();
    const sent = client.history.length;
    const identity = (x: unknown) => x;
    assert.throws(() => one.apply(identity, { f: () => 1 }), instanceOf(SerializationError, /functions can travel only as the function of apply\/map/));
    assert.throws(() => one.apply(identity, Symbol("s")), instanceOf(SerializationError, /symbols cannot be sent/));
    assert.throws(() => one.apply(identity, new WeakMap()), instanceOf(SerializationError, /an argument of identity cannot be sent/));
    assert.throws(() => lv.apply(identity, [1, () => 2]), instanceOf(SerializationError));
    assert.throws(() => lv.map(identity, [1, Symbol("two")]), instanceOf(SerializationError, /an item cannot be sent/));
    // A function is pushed as a function (from its source); inside data it cannot travel.
    assert.throws(() => one.push({ handler: { onEvent: () => 1 } }), instanceOf(SerializationError, /a pushed value/));
    assert.throws(() => client.directView().scatter("parts", [1, () => 2]), instanceOf(SerializationError, /a scattered item/));
    assert.throws(() => one.apply(Math.max, 1, 2), instanceOf(FunctionSerializationError, /native or bound/));
    assert.throws(() => one.apply(((x: number) => x).bind(null), 1), instanceOf(FunctionSerializationError, /native or bound/));
    assert.equal(client.history.length, sent, "nothing was submitted");
  });

  test("a result that cannot travel back fails that task only", TEST_TIMEOUT, async () => {
    const { client, ids } = shared();
    const one = client.directView(ids[0]!);
    await assert.rejects(one.apply(() => () => 1).get(20_000), remoteError("SerializationError", ids[0]));
    await assert.rejects(one.apply(() => Symbol("s")).get(20_000), remoteError("SerializationError", ids[0]));
    assert.deepEqual(await client.loadBalancedView().map((x: number) => (x === 1 ? new WeakSet() : x), [0, 2]), [0, 2]);
    assert.equal(await one.apply(() => "fine"), "fine");
  });
});

describe("no engines", () => {
  test("a controller without engines: work is refused at once and waiting for engines times out", TEST_TIMEOUT, async () => {
    privateRoot();
    const launched = await new LocalControllerLauncher().start({ profile: "no-engines", detached: false, timeoutMs: 20_000 });
    const client = await Client.connect({ connectionFile: launched.clientFile, activate: false });
    try {
      assert.deepEqual(client.ids, []);
      assert.deepEqual((await client.status()).engines, []);
      assert.throws(() => client.directView().apply(() => 1), instanceOf(NoEnginesError, /tspcluster start/));
      assert.throws(() => client.directView().execute("1"), instanceOf(NoEnginesError));
      assert.throws(() => client.directView(0).apply(() => 1), instanceOf(NoEnginesError, /not registered/));
      assert.throws(() => client.loadBalancedView().apply(() => 1), instanceOf(NoEnginesError));
      assert.throws(() => client.loadBalancedView().map((x: number) => x, [1]), instanceOf(NoEnginesError));
      await assert.rejects(client.waitForEngines(1, { timeout: 300 }), instanceOf(TimeoutError, /0 of 1 engines/));
      assert.equal(client.history.length, 0);
    } finally {
      client.close();
      process.kill(launched.process.pid, "SIGTERM");
      await eventually("the controller to exit", () => !isRunning(launched.process.pid));
    }
  });
});

/** Appends to a file shared by the engines, so the test can see what ran where and how often. */
const loggedWork = async (item: number) => {
  const fs = process.getBuiltinModule("node:fs") as typeof import("node:fs");
  fs.appendFileSync(runLogPath, `start ${item} ${process.pid}\n`);
  await new Promise((resolve) => setTimeout(resolve, 400));
  fs.appendFileSync(runLogPath, `done ${item} ${process.pid}\n`);
  return item * 10;
};

function readRunLog(path: string): { started: Map<number, number[]>; done: Map<number, number[]> } {
  const started = new Map<number, number[]>();
  const done = new Map<number, number[]>();
  for (const line of readFileSync(path, "utf8").split("\n").filter(Boolean)) {
    const [what, item, pid] = line.split(" ");
    const map = what === "start" ? started : done;
    map.set(Number(item), [...(map.get(Number(item)) ?? []), Number(pid)]);
  }
  return { started, done };
}

/** Waits until the run log shows the victim inside a task (started, not done), the moment to kill it. */
async function victimMidTask(path: string, victimPid: number): Promise<void> {
  await eventually("the victim to be inside a task", () => {
    const { started, done } = readRunLog(path);
    return [...started].some(([item, pids]) => pids.includes(victimPid) && !(done.get(item) ?? []).includes(victimPid));
  });
}

describe("an engine killed with SIGKILL mid-map", () => {
  const items = Array.from({ length: 12 }, (_, i) => i);

  test("without retries its tasks fail with EngineError; the others finish; none runs twice", TEST_TIMEOUT, async () => {
    const cluster = await startCluster({ n: 2 });
    try {
      const { client, ids } = cluster;
      const logPath = join(privateRoot(), "runs-no-retry.log");
      writeFileSync(logPath, "");
      await client.directView().push({ runLogPath: logPath });
      const victim = ids[1]!;
      const victimPid = client.engines.find((e) => e.id === victim)!.pid;

      const amr = client.loadBalancedView().map(loggedWork, items);
      await victimMidTask(logPath, victimPid);
      process.kill(victimPid, "SIGKILL");

      const err = await amr.get(45_000).then(() => assert.fail("the map should fail"), (e: unknown) => e);
      assert.ok(err instanceof CompositeError, String(err));
      assert.ok(amr.ready(), "every task settled");
      for (const e of err.errors) {
        assert.ok(e instanceof EngineError, String(e));
        assert.equal(e.engineId, victim);
      }
      const { started, done } = readRunLog(logPath);
      const failed = amr.metadata.flatMap((m, i) => (m.status === "error" ? [items[i]!] : []));
      const ok = amr.metadata.flatMap((m, i) => (m.status === "ok" ? [items[i]!] : []));
      assert.equal(failed.length, err.errors.length);
      assert.equal(failed.length + ok.length, items.length, "no task lost");
      assert.ok(failed.length >= 1);
      for (const item of ok) assert.deepEqual(done.get(item)?.length, 1, `item ${item} completed once`);
      for (const item of failed) {
        assert.equal(done.get(item), undefined, `failed item ${item} never completed`);
        for (const pid of started.get(item) ?? []) assert.equal(pid, victimPid, `failed item ${item} ran only on the victim`);
      }
      await eventually("the dead engine to leave client.ids", () => !client.ids.includes(victim));
    } finally {
      await cluster.stop();
    }
  });

  test("with retries its tasks run on the other engines; every item completes exactly once", TEST_TIMEOUT, async () => {
    const cluster = await startCluster({ n: 3 });
    try {
      const { client, ids } = cluster;
      const logPath = join(privateRoot(), "runs-retry.log");
      writeFileSync(logPath, "");
      await client.directView().push({ runLogPath: logPath });
      const victim = ids[0]!;
      const victimPid = client.engines.find((e) => e.id === victim)!.pid;

      const amr = client.loadBalancedView({ retries: 2 }).map(loggedWork, items);
      await victimMidTask(logPath, victimPid);
      process.kill(victimPid, "SIGKILL");

      const results: number[] = await amr.get(45_000);
      assert.deepEqual(results, items.map((x) => x * 10));
      const { started, done } = readRunLog(logPath);
      for (const item of items) assert.equal(done.get(item)?.length, 1, `item ${item} completed once`);
      const retried = items.filter((item) => (started.get(item) ?? []).includes(victimPid) && done.get(item)![0] !== victimPid);
      assert.ok(retried.length >= 1, "the task running on the victim was retried elsewhere");
      for (const item of retried) assert.notEqual(amr.metadata[item]!.engineId, victim);
    } finally {
      await cluster.stop();
    }
  });
});

describe("a controller that is gone", () => {
  test("killed: outstanding tasks fail with ControllerError within controllerTimeout, requests time out", TEST_TIMEOUT, async () => {
    // Engines wait for a controller to come back (register again) only this long before they exit.
    const cluster = await startCluster({ n: 1, engineArgs: ["--lost-controller-ms", "4000"] });
    const client = await cluster.cluster.connect({ controllerTimeout: 2000, activate: false });
    try {
      const enginePids = cluster.cluster.engines.map((e) => e.pid);
      const ar = client.directView(client.ids[0]!).apply(async () => {
        await new Promise((resolve) => setTimeout(resolve, 60_000));
        return "never";
      });
      await waitUntilBusy(client, client.ids);
      process.kill(cluster.cluster.controller.pid, "SIGKILL");
      await assert.rejects(ar.get(30_000), instanceOf(ControllerError, /no word from the controller/));
      await assert.rejects(client.status(), instanceOf(TimeoutError, /no status reply/));
      await assert.rejects(Client.connect({ connectionFile: client.connectionFile, timeout: 1000, activate: false }), instanceOf(TimeoutError, /connection file/));
      // Engines give up after --lost-controller-ms without any controller rather than linger as orphans.
      await eventually("the engines to exit", () => enginePids.every((pid) => !isRunning(pid)), 30_000);
    } finally {
      client.close();
      await cluster.stop();
    }
  });

  test("stopped: outstanding tasks fail with ControllerError at once", TEST_TIMEOUT, async () => {
    const cluster = await startCluster({ n: 1 });
    const client = await cluster.cluster.connect({ controllerTimeout: 60_000, activate: false });
    try {
      const ar = client.directView(client.ids[0]!).apply(async () => {
        await new Promise((resolve) => setTimeout(resolve, 60_000));
        return "never";
      });
      await waitUntilBusy(client, client.ids);
      process.kill(cluster.cluster.controller.pid, "SIGTERM");
      // controllerTimeout is a minute: only the controller's shutdown notice can fail the task this soon.
      await assert.rejects(ar.get(20_000), instanceOf(ControllerError, /shut down/));
    } finally {
      client.close();
      await cluster.stop();
    }
  });
});
