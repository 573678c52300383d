/**
 * DirectView's direct client-engine path against a real cluster: DirectView work goes straight to the
 * engine (it completes while the controller is paused), the controller still keeps the records
 * (another client reads the result, history, db_query, the task stream, queue status), abort and
 * interrupt reach direct tasks, an engine killed under a direct task fails it with EngineError, the
 * engine's direct socket drops an unsigned message (counted, never run), and the opt-outs work.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as zmq from "zeromq";
import { Client, EngineError, RemoteError, TaskAbortedError, type AsyncResult } from "tsparallel";
import { COMPACT_MAGIC, MessageSender, Signer, newHeader, newMessageId, readConnectionFile, receiveMessages, type MessageContents } from "@tsparallel/protocol";
import { eventually, sharedCluster, startCluster } from "./support/cluster-fixture.js";
import { rawCompactFrames } from "./support/raw-peer.js";

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** Runs `work` with the controller stopped (SIGSTOP), and always lets it go on again. */
async function withControllerPaused<T>(pid: number, work: () => Promise<T>): Promise<T> {
  process.kill(pid, "SIGSTOP");
  try {
    return await work();
  } finally {
    process.kill(pid, "SIGCONT");
  }
}

/** The value of `ar`, or "still pending" if it has not settled after `ms`. */
async function settledWithin<T>(ar: PromiseLike<T>, ms: number): Promise<T | "still pending"> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"still pending">((resolve) => (timer = setTimeout(() => resolve("still pending"), ms)));
  try {
    return await Promise.race([ar, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function directTo(client: Client, id: number): Promise<void> {
  client.directView(id);
  await eventually(`a direct link to engine ${id}`, () => client.directEngines.includes(id));
}

describe("the direct path", () => {
  const shared = sharedCluster({ n: 2 });

  test("DirectView work goes straight to the engine by default: apply, execute, push, pull and a map complete while the controller is paused", async () => {
    const { client, ids, cluster } = shared();
    const id = ids[0]!;
    await directTo(client, id);
    const one = client.directView(id);
    const both = client.directView(ids);
    await directTo(client, ids[1]!);
    const outcome = await withControllerPaused(cluster.controller.pid, async () => {
      const pushed = one.push({ directValue: 21 });
      const applied = one.apply((x: number) => x * 2, 21);
      const executed = one.execute("directValue + 1");
      const pulled = one.pull<number>("directValue");
      const mapped = both.map((x: number) => x * x, [1, 2, 3, 4]);
      return settledWithin(Promise.all([pushed, applied, executed, pulled, mapped]), 15_000);
    });
    assert.deepEqual(outcome, [undefined, 42, 22, 21, [1, 4, 9, 16]]);
  });

  test("another client sees a direct task through the controller: result_request, history, db_query, queue status and the task stream", async () => {
    const { client, ids, cluster } = shared();
    const id = ids[1]!;
    await directTo(client, id);
    const other = await cluster.connect({ activate: false });
    try {
      const streamed = new Set<string>();
      other.events.on("task_stream", ({ tasks }) => tasks.forEach((t) => streamed.add(t.msgId)));
      // Running long enough for the controller to hear of it while it runs.
      const running = client.directView(id).apply(async (ms: number) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return "slept";
      }, 1500);
      const msgId = running.msgIds[0]!;
      const queued = await eventually("the running direct task in queue status", async () => {
        const status = await other.queueStatus([id], { verbose: true });
        return status.engines[id]!.tasks?.includes(msgId) ? status : undefined;
      });
      assert.ok(queued.engines[id]!.queue >= 1);
      assert.equal(await running, "slept");

      const record = await eventually("the controller's record of the finished task", async () => {
        const found = await other.getResult(msgId).catch(() => undefined);
        return found && !found.pending ? found : undefined;
      });
      assert.equal(record.status, "ok");
      assert.equal(record.engineId, id);
      assert.equal(record.kind, "apply");
      assert.equal(record.value, "slept");
      assert.ok((await other.controllerHistory()).includes(msgId));
      const [row] = await other.dbQuery({ msgId }, ["engineId", "status", "pending", "kind"]);
      assert.deepEqual(row, { msgId, engineId: id, status: "ok", pending: false, kind: "apply" });
      await eventually("the task in the task stream", () => streamed.has(msgId));
      // Output and a failure are recorded too.
      const failing = client.directView(id).execute('console.log("said"); throw new RangeError("nope")');
      await assert.rejects(failing.get(20_000), (err: unknown) => err instanceof RemoteError && err.ename === "RangeError");
      const failed = await eventually("the failed task's record", async () => {
        const found = await other.getResult(failing.msgIds[0]!).catch(() => undefined);
        return found && !found.pending ? found : undefined;
      });
      assert.equal(failed.status, "error");
      assert.equal(failed.error?.ename, "RangeError");
      assert.match(failed.stdout ?? "", /said/);
    } finally {
      other.close();
    }
  });

  test("a direct task's result taken as an argument by a load-balanced task reaches it through the controller", async () => {
    const { client, ids } = shared();
    await directTo(client, ids[0]!);
    const lv = client.loadBalancedView();
    for (let i = 0; i < 5; i++) {
      const source = client.directView(ids[0]!).apply((x: number) => x * 10, i);
      const taker = lv.apply((x: number) => x + 1, source);
      assert.equal(await taker.get(20_000), i * 10 + 1);
      assert.equal(await source, i * 10);
    }
  });

  test("direct calls of one function in separate requests can be resubmitted through the controller: the engine's report carries its source once and names it by hash after", async () => {
    const { client, ids } = shared();
    await directTo(client, ids[0]!);
    const dv = client.directView(ids[0]!);
    const tag = (x: number) => `tag ${x}`;
    // Awaited one by one: each is its own direct_request, and they land in one or a few reports.
    const calls: AsyncResult<string>[] = [];
    for (let i = 0; i < 6; i++) {
      const ar = dv.apply(tag, i);
      assert.equal(await ar, `tag ${i}`);
      calls.push(ar);
    }
    const again = client.resubmit(calls.map((ar) => ar.msgIds[0]!));
    assert.deepEqual(await again.get(20_000), [0, 1, 2, 3, 4, 5].map((i) => `tag ${i}`));
  });

  test("a BroadcastView keeps the controller's gather, and order with direct work on its engines holds", async () => {
    const { client, ids, cluster } = shared();
    for (const id of ids) await directTo(client, id);
    const dv = client.directView(ids);
    const bv = client.broadcastView(ids);
    for (let i = 0; i < 20; i++) {
      // Not awaited: the broadcast follows the direct push on each engine.
      const pushed = dv.push({ orderMark: i });
      assert.deepEqual(await bv.pull("orderMark"), ids.map(() => i));
      await pushed;
    }
    // With nothing direct out, it goes through the controller: paused, it does not come back.
    let pending!: AsyncResult<string[]>;
    const whilePaused = await withControllerPaused(cluster.controller.pid, async () => {
      pending = bv.apply(() => "gathered");
      return settledWithin(pending, 500);
    });
    assert.equal(whilePaused, "still pending");
    assert.deepEqual(await pending, ids.map(() => "gathered"));
  });

  test("abort reaches a queued direct task (from its client, and by msg id from another client); interrupt stops a running one", async () => {
    const { client, ids, cluster } = shared();
    const id = ids[0]!;
    await directTo(client, id);
    const view = client.directView(id);
    const spinning = view.execute("while (true) {}");
    const first = view.apply(() => "first");
    const second = view.apply(() => "second");
    assert.deepEqual(await client.abort(first), []);
    const other = await cluster.connect({ activate: false });
    try {
      const secondId = second.msgIds[0]!;
      await eventually("the controller to know the queued direct task", async () => (await other.queueStatus([id], { verbose: true })).engines[id]!.tasks?.includes(secondId));
      await other.abort([secondId]);
    } finally {
      other.close();
    }
    // The engine takes the aborts once the spinning task is interrupted, before it would start the next.
    assert.deepEqual(await client.interrupt([id]), [id]);
    await assert.rejects(spinning.get(20_000), (err: unknown) => err instanceof RemoteError && err.ename === "InterruptError");
    await assert.rejects(first.get(20_000), TaskAbortedError);
    await assert.rejects(second.get(20_000), TaskAbortedError);
    // The engine goes on, still direct.
    assert.equal(await view.apply(() => "after"), "after");
    assert.ok(client.directEngines.includes(id));
  });

  test("unsigned, wrongly signed, malformed and replayed messages at an engine's direct port are dropped and counted, and never run", async () => {
    const { client, ids } = shared();
    const id = ids[1]!;
    const engine = client.engines.find((e) => e.id === id)!;
    assert.ok(engine.direct, "the engine announced a direct socket");
    const info = readConnectionFile(client.connectionFile, "client");
    const keys = info.curve ? info.curve_keys! : undefined;
    const dealer = new zmq.Dealer({ linger: 0, ...(keys ? { curveServerKey: engine.direct.curveKey!, curvePublicKey: keys.client_public, curveSecretKey: keys.client_secret } : {}) });
    dealer.connect(engine.direct.url);
    try {
      const request: MessageContents["direct_request"] = { client: "00", tasks: [{ msgId: newMessageId(), body: { kind: "execute", code: "globalThis.rogueWasHere = 1" }, bufferCount: 0 }] };
      // Unsigned, and signed with another key: both must be dropped.
      await dealer.send([Buffer.from(`${COMPACT_MAGIC}[${JSON.stringify(newHeader("direct_request", "rogue"))},{},{},${JSON.stringify(request)}]`)]);
      await dealer.send(rawCompactFrames(new Signer("not-the-cluster-key"), newHeader("direct_request", "rogue"), JSON.stringify(request)));
      // Junk, and signed requests that are malformed (no tasks, a task without a body, an abort of everything).
      await dealer.send([Buffer.from([0xff, 0x00, 0x13]), Buffer.from("junk")]);
      const signer = new Signer(info.key);
      await dealer.send(rawCompactFrames(signer, newHeader("direct_request", "rogue"), JSON.stringify({ client: "00", tasks: "all of them" })));
      await dealer.send(rawCompactFrames(signer, newHeader("direct_request", "rogue"), JSON.stringify({ client: "00", tasks: [{ msgId: "x", bufferCount: 0 }] })));
      await dealer.send(rawCompactFrames(signer, newHeader("abort_request", "rogue"), JSON.stringify({})));
      // A well-signed request sent twice (a captured message replayed): it runs once.
      const once = JSON.stringify({ client: "00", tasks: [{ msgId: newMessageId(), body: { kind: "execute", code: "globalThis.replayedRuns = (globalThis.replayedRuns ?? 0) + 1" }, bufferCount: 0 }] });
      const captured = rawCompactFrames(signer, newHeader("direct_request", "rogue"), once);
      await dealer.send(captured);
      await dealer.send(captured);
      // A signed hello tells how many this socket dropped (the replayed request's result may come first).
      const sender = new MessageSender(dealer, signer, "test", quiet, "compact");
      const replies = receiveMessages(dealer, signer, quiet);
      const dropped = await eventually("the engine to count the bad messages", async () => {
        sender.send("direct_hello", {});
        for (;;) {
          const { value } = await replies.next();
          if (value!.header.msg_type !== "direct_welcome") continue;
          const welcome = value!.content as MessageContents["direct_welcome"];
          assert.equal(welcome.id, id);
          return welcome.dropped >= 7 ? welcome.dropped : undefined;
        }
      });
      assert.ok(dropped >= 7);
      assert.equal(await client.directView(id).execute("typeof (globalThis as any).rogueWasHere"), "undefined");
      assert.equal(await client.directView(id).execute("(globalThis as any).replayedRuns"), 1);
    } finally {
      dealer.close();
    }
  });

  test("opting out sends DirectView work through the controller: ConnectOptions.direct false and TSPARALLEL_DIRECT=0", async () => {
    const { cluster, ids } = shared();
    const id = ids[0]!;
    const viaOption = await cluster.connect({ activate: false, direct: false });
    const before = process.env.TSPARALLEL_DIRECT;
    process.env.TSPARALLEL_DIRECT = "0";
    let viaEnv: Client;
    try {
      viaEnv = await cluster.connect({ activate: false });
    } finally {
      if (before === undefined) delete process.env.TSPARALLEL_DIRECT;
      else process.env.TSPARALLEL_DIRECT = before;
    }
    try {
      for (const client of [viaOption, viaEnv]) {
        const view = client.directView(id);
        assert.equal(await view.apply(() => "routed"), "routed");
        assert.deepEqual(client.directEngines, []);
        // Through the controller: nothing comes back while it is paused, and all of it once it goes on.
        let pending!: AsyncResult<string>;
        const whilePaused = await withControllerPaused(cluster.controller.pid, async () => {
          pending = view.apply(() => "routed again");
          return settledWithin(pending, 500);
        });
        assert.equal(whilePaused, "still pending");
        assert.equal(await pending, "routed again");
      }
    } finally {
      viaOption.close();
      viaEnv.close();
    }
  });

  test("an engine whose direct socket does not answer the handshake in time is served through the controller", async () => {
    const { cluster, ids } = shared();
    const id = ids[0]!;
    const fresh = await cluster.connect({ activate: false });
    const engine = fresh.engines.find((e) => e.id === id)!;
    try {
      // A stopped engine's kernel takes the TCP connection, but nothing answers the hello.
      process.kill(engine.pid, "SIGSTOP");
      let routed!: AsyncResult<string>;
      try {
        routed = fresh.directView(id).apply(() => "through the controller");
        await new Promise((resolve) => setTimeout(resolve, 3000));
      } finally {
        process.kill(engine.pid, "SIGCONT");
      }
      assert.equal(await routed.get(20_000), "through the controller");
      assert.equal(await fresh.directView(id).apply(() => "still routed"), "still routed");
      assert.deepEqual(fresh.directEngines, []);
      // One engine direct, the other routed: one call's tasks split between the paths, results in target order.
      await directTo(fresh, ids[1]!);
      const both = fresh.directView([ids[1]!, id, ids[1]!]);
      assert.deepEqual(await both.apply(() => (globalThis as unknown as { tspengine: { id: number } }).tspengine.id), [ids[1], id, ids[1]]);
      assert.deepEqual(await fresh.directView([id, ids[1]!]).map((x: number) => x + 1, [1, 2, 3, 4, 5]), [2, 3, 4, 5, 6]);
    } finally {
      fresh.close();
    }
  });

  test("an engine killed while it runs a direct task fails that task with EngineError, here and in the controller's record", async () => {
    const { client, ids } = shared();
    const id = ids[1]!;
    await directTo(client, id);
    const engine = client.engines.find((e) => e.id === id)!;
    const view = client.directView(id);
    const running = view.execute("await new Promise((resolve) => setTimeout(resolve, 60_000))");
    const queued = view.apply(() => "never");
    const msgId = running.msgIds[0]!;
    await eventually("the controller to know the direct task", async () => (await client.queueStatus([id], { verbose: true })).engines[id]!.tasks?.includes(msgId));
    process.kill(engine.pid, "SIGKILL");
    await assert.rejects(running.get(20_000), EngineError);
    await assert.rejects(queued.get(20_000), EngineError);
    const record = await eventually("the controller's record of the failed task", async () => {
      const found = await client.getResult(msgId).catch(() => undefined);
      return found && !found.pending ? found : undefined;
    });
    assert.equal(record.status, "error");
    assert.equal(record.error?.ename, "EngineError");
    // Nothing of that engine is left outstanding or linked.
    assert.ok(!client.outstanding.has(msgId));
    assert.ok(!client.directEngines.includes(id));
  });
});

describe("the direct path with CURVE", () => {
  test("an encrypted cluster's engines take direct work over CURVE with their own keys", async () => {
    const curved = await startCluster({ n: 1, curve: true });
    try {
      const { client, ids, cluster } = curved;
      const engine = client.engines.find((e) => e.id === ids[0])!;
      assert.match(engine.direct?.curveKey ?? "", /^.{40}$/);
      await directTo(client, ids[0]!);
      const value = await withControllerPaused(cluster.controller.pid, () => settledWithin(client.directView(ids[0]!).apply((x: number) => x + 1, 1), 15_000));
      assert.equal(value, 2);
    } finally {
      await curved.stop();
    }
  });
});

describe("the direct socket's connection cap", () => {
  test("an engine's direct socket holds at most TSPARALLEL_DIRECT_MAX_CONNECTIONS connections; one that closes makes room", async () => {
    const before = process.env.TSPARALLEL_DIRECT_MAX_CONNECTIONS;
    process.env.TSPARALLEL_DIRECT_MAX_CONNECTIONS = "4";
    let capped: Awaited<ReturnType<typeof startCluster>>;
    try {
      capped = await startCluster({ n: 1 });
    } finally {
      if (before === undefined) delete process.env.TSPARALLEL_DIRECT_MAX_CONNECTIONS;
      else process.env.TSPARALLEL_DIRECT_MAX_CONNECTIONS = before;
    }
    const peers: zmq.Dealer[] = [];
    try {
      const { client, ids } = capped;
      const engine = client.engines.find((e) => e.id === ids[0])!;
      const info = readConnectionFile(client.connectionFile, "client");
      const keys = info.curve ? info.curve_keys! : undefined;
      const signer = new Signer(info.key);
      /** A peer that says hello; resolves true once welcomed. */
      const hello = (): { dealer: zmq.Dealer; welcomed: Promise<boolean> } => {
        const dealer = new zmq.Dealer({ linger: 0, ...(keys ? { curveServerKey: engine.direct!.curveKey!, curvePublicKey: keys.client_public, curveSecretKey: keys.client_secret } : {}) });
        dealer.connect(engine.direct!.url);
        peers.push(dealer);
        new MessageSender(dealer, signer, "peer", quiet, "compact").send("direct_hello", {});
        const welcomed = receiveMessages(dealer, signer, quiet).next().then(({ value }) => value?.header.msg_type === "direct_welcome");
        return { dealer, welcomed };
      };
      const first = Array.from({ length: 10 }, hello);
      await eventually("four peers welcomed", async () => {
        const settled = await Promise.all(first.map((p) => settledWithin(p.welcomed, 10)));
        return settled.filter((v) => v === true).length >= 4;
      });
      // Time for any more to get in, if the cap did not hold.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const welcomed = (await Promise.all(first.map((p) => settledWithin(p.welcomed, 10)))).filter((v) => v === true).length;
      assert.equal(welcomed, 4);
      // Everyone goes; a new peer gets in (once the engine has seen the closes: a peer refused meanwhile is not retried).
      for (const peer of first) peer.dealer.close();
      await eventually("a new peer to get in", async () => (await settledWithin(hello().welcomed, 1000)) === true);
    } finally {
      for (const peer of peers) if (!peer.closed) peer.close();
      await capped.stop();
    }
  });
});

