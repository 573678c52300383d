/**
 * Client against a real cluster: the TypeScript counterparts of ipyparallel's test_client.py (the
 * bracketed name in each title is the ipyparallel test; see tests/CONFORMANCE.md).
 */
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname, networkInterfaces } from "node:os";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { Client, Cluster, CompositeError, EngineError, NoEnginesError, TimeoutError, type AsyncResult, type ClusterSnapshot } from "tsparallel";
import { eventually, isRunning, privateRoot, sharedCluster, waitUntilBusy } from "./support/cluster-fixture.js";
import { instanceOf, remoteError } from "./support/remote-errors.js";

const nap = async (ms: number): Promise<number> => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
};

const shared = sharedCluster({ n: 2 });

describe("connection and identity", () => {
  test("the connection file carries a signing key, readable by its owner only [test_curve]", () => {
    const { client } = shared();
    const info = JSON.parse(readFileSync(client.connectionFile, "utf8")) as Record<string, unknown>;
    assert.equal(info.kind, "client");
    assert.equal(info.signature_scheme, "hmac-sha256");
    assert.equal(typeof info.key, "string");
    assert.ok((info.key as string).length >= 32, "a key of at least 32 characters");
    assert.equal(statSync(client.connectionFile).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(client.connectionFile)).mode & 0o777, 0o700);
    assert.match(client.url, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  });

  test("client.ids is a sorted copy the caller may change [test_ids_list, test_targets]", () => {
    const { client, ids } = shared();
    const mine = client.ids;
    assert.deepEqual(mine, ids);
    assert.deepEqual(mine, [...mine].sort((a, b) => a - b));
    mine.pop();
    assert.deepEqual(client.ids, ids);
    assert.deepEqual(client.engines.map((e) => e.id).sort((a, b) => a - b), ids);
    for (const engine of client.engines) assert.ok(isRunning(engine.pid), `engine ${engine.id} pid ${engine.pid}`);
  });

  test("direct views target one engine, a list, or all [test_dview_targets, test_view_indexing, test_iter]", () => {
    const { client, ids } = shared();
    assert.deepEqual(client.directView().targets, ids);
    assert.deepEqual(client.directView("all").targets, ids);
    assert.deepEqual(client.directView(ids.at(-1)!).targets, [ids.at(-1)]);
    assert.deepEqual(client.directView(ids.slice(0, 1)).targets, ids.slice(0, 1));
    assert.throws(() => client.directView(9999).targets, instanceOf(NoEnginesError, /9999/));
    assert.throws(() => client.directView([]).targets, instanceOf(NoEnginesError));
  });

  test("a load-balanced view keeps its target restriction [test_lbview_targets]", () => {
    const { client, ids } = shared();
    assert.deepEqual(client.loadBalancedView().options, {});
    assert.deepEqual(client.loadBalancedView({ targets: [ids.at(-1)!] }).options.targets, [ids.at(-1)]);
  });

  test("the last connected client is the active one unless it opts out [test_activate_on_init, test_activate]", async () => {
    const { client, cluster } = shared();
    client.activate();
    assert.equal(Client.active, client);
    const passive = await cluster.connect({ activate: false });
    assert.equal(Client.active, client);
    const eager = await cluster.connect();
    assert.equal(Client.active, eager);
    passive.activate();
    assert.equal(Client.active, passive);
    passive.close();
    assert.equal(Client.active, undefined);
    eager.close();
    client.activate();
    assert.equal(Client.active, client);
  });

  test("await using closes the client at the end of the block", async () => {
    const { cluster } = shared();
    let inner: Client | undefined;
    {
      await using scoped = await cluster.connect({ activate: false });
      inner = scoped;
      assert.equal(await scoped.directView(scoped.ids[0]!).apply(() => "inside"), "inside");
    }
    assert.throws(() => inner!.directView(inner!.ids[0]!).apply(() => 1), /closed/);
  });
});

test("await using a Cluster stops its controller and engines at the end of the block", async () => {
  privateRoot();
  let pids: number[] = [];
  {
    await using cluster = await Cluster.start({ n: 1, profile: "disposable" });
    pids = [cluster.controller.pid, ...cluster.engines.map((e) => e.pid)];
    assert.ok(pids.every(isRunning), "running inside the block");
  }
  assert.equal(pids.length, 2);
  for (const pid of pids) assert.equal(isRunning(pid), false, `process ${pid} is gone after the block`);
});

describe("a controller on loopback that runs elsewhere", () => {
  const elsewhere = "TSPARALLEL_CONTROLLER_ELSEWHERE";

  /** Connects through a copy of the cluster's client file whose controller host is `host`; the warnings of that connect. */
  async function connectAs(host: string): Promise<Error[]> {
    const { client } = shared();
    const info = JSON.parse(readFileSync(client.connectionFile, "utf8")) as { controller: { hostname: string } };
    info.controller.hostname = host;
    const file = join(privateRoot(), `client-as-${host.replace(/[^\w.-]/g, "_")}.json`);
    writeFileSync(file, JSON.stringify(info), { mode: 0o600 });
    const seen: Error[] = [];
    const listener = (warning: Error) => {
      if ((warning as Error & { code?: string }).code === elsewhere) seen.push(warning);
    };
    process.on("warning", listener);
    try {
      const other = await Client.connect({ connectionFile: file, activate: false });
      other.close();
      // process.emitWarning delivers on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", listener);
    }
    return seen;
  }

  test("a loopback controller whose file names another host warns; this host's name does not [test_warning_on_hostname_match]", async () => {
    const here = hostname();
    const warned = await connectAs(`${here.slice(0, -1)}.invalid`);
    assert.equal(warned.length, 1, "one warning for a controller host that is not this machine");
    assert.equal(warned[0]!.name, "RuntimeWarning");
    assert.match(warned[0]!.message, /listens on 127\.0\.0\.1, a loopback address, but runs on .*\.invalid, not on this machine/);
    assert.deepEqual(await connectAs(here), [], "no warning when the controller host is this machine's name");
  });

  test("a controller host that is one of this machine's addresses does not warn, where another host does [test_local_ip_true_doesnt_trigger_warning]", async () => {
    const ownAddresses = Object.values(networkInterfaces()).flatMap((list) => list ?? []).filter((iface) => iface.family === "IPv4").map((iface) => iface.address);
    assert.ok(ownAddresses.length > 0);
    for (const address of ownAddresses) assert.deepEqual(await connectAs(address), [], `no warning for ${address}`);
    assert.deepEqual(await connectAs("localhost"), [], "no warning for a name that resolves to loopback");
    assert.equal((await connectAs("192.0.2.7")).length, 1, "a documentation address (TEST-NET-1) is no address of this machine");
  });
});

describe("namespace, results and history", () => {
  test("clear empties one engine's namespace, then all of them [test_clear]", async () => {
    const { client, ids } = shared();
    const all = client.directView();
    const id0 = ids.at(-1)!;
    await all.push({ clearA: 5 });
    assert.deepEqual(await all.pull("clearA"), [5, 5]);
    await client.directView(id0).clear();
    assert.deepEqual(await client.directView(ids.slice(0, -1)).pull("clearA"), [5]);
    await assert.rejects(client.directView(id0).pull("clearA").get(20_000), remoteError("NameError", id0));
    await all.clear();
    for (const id of ids) await assert.rejects(client.directView(id).pull("clearA").get(20_000), remoteError("NameError", id));
    // Builtins survive a clear.
    assert.deepEqual(await all.apply(() => typeof Math.max), ["function", "function"]);
  });

  test("another client reads a task's record while it runs and once it is done [test_get_result]", async () => {
    const { client, cluster, ids } = shared();
    const other = await cluster.connect({ activate: false });
    try {
      const ar = other.directView(ids.at(-1)!).apply(nap, 1000);
      const msgId = ar.msgIds[0]!;
      const running = await eventually("the controller to know the task", () => client.getResult(msgId).catch(() => undefined));
      assert.equal(running.msgId, msgId);
      assert.equal(running.pending, true);
      assert.equal(running.kind, "apply");
      assert.equal(await ar, 1000);
      const done = await client.getResult(msgId);
      assert.equal(done.pending, false);
      assert.equal(done.status, "ok");
      assert.equal(done.engineId, ids.at(-1));
      assert.equal(done.value, 1000);
    } finally {
      other.close();
    }
  });

  test("the record of an execute keeps its display form, counter and output [test_get_execute_result]", async () => {
    const { client, cluster, ids } = shared();
    const other = await cluster.connect({ activate: false });
    try {
      const ar = other.directView(ids[0]!).execute("console.log('hello'); 6 * 7");
      assert.equal(await ar, 42);
      const record = await client.getResult(ar.msgIds[0]!);
      assert.equal(record.kind, "execute");
      assert.equal(record.value, 42);
      assert.equal(record.repr, "42");
      assert.equal(record.executionCount, ar.metadata[0]!.executionCount);
      assert.equal(record.stdout, "hello\n");
    } finally {
      other.close();
    }
  });

  test("the record of a failed task keeps its error", async () => {
    const { client, ids } = shared();
    const ar = client.directView(ids[0]!).apply(() => {
      throw new SyntaxError("recorded");
    });
    await assert.rejects(ar.get(20_000), remoteError("SyntaxError"));
    const record = await client.getResult(ar.msgIds[0]!);
    assert.equal(record.status, "error");
    assert.equal(record.error?.ename, "SyntaxError");
    assert.equal(record.error?.evalue, "recorded");
    assert.equal(record.value, undefined);
  });

  test("asking for an unknown task's record fails clearly", async () => {
    const { client } = shared();
    await assert.rejects(client.getResult("no-such-task"), /no record of task no-such-task/);
  });

  test("history lists this client's tasks in order; the controller's history ends with the latest and is in submission order [test_hub_history]", async () => {
    const { client, ids } = shared();
    const ar = client.directView(ids.at(-1)!).apply(() => 1);
    assert.deepEqual(client.history.slice(-1), ar.msgIds);
    await ar;
    const hub = await client.controllerHistory();
    assert.deepEqual(hub.slice(-1), ar.msgIds);
    // This client's tasks appear in the controller's history in the order they were submitted.
    const mine = hub.filter((id) => client.history.includes(id));
    assert.deepEqual(mine, client.history.filter((id) => hub.includes(id)));
    // The controller's history is in submission order: its records' submit times never go back.
    const submitted = await Promise.all(hub.slice(-20).map(async (id) => (await client.getResult(id)).submitted));
    for (let i = 1; i < submitted.length; i++) assert.ok(submitted[i]! >= submitted[i - 1]!, `submitted times ${submitted.join(", ")}`);
  });

  test("queue status per engine and for the whole cluster [test_queue_status]", async () => {
    const { client, ids } = shared();
    const one = await client.queueStatus([ids[0]!]);
    assert.deepEqual(Object.keys(one.engines), [String(ids[0])]);
    assert.deepEqual(Object.keys(one.engines[ids[0]!]!).sort(), ["completed", "failed", "queue"]);
    const all = await client.queueStatus();
    assert.deepEqual(Object.keys(all.engines).map(Number).sort((a, b) => a - b), ids);
    assert.equal(all.unassigned, 0);

    const busy = client.directView(ids[0]!).apply(nap, 800);
    const behind = client.directView(ids[0]!).apply(() => "behind");
    await waitUntilBusy(client, [ids[0]!]);
    const verbose = await client.queueStatus([ids[0]!], { verbose: true });
    assert.equal(verbose.engines[ids[0]!]!.queue, 2);
    assert.deepEqual(verbose.engines[ids[0]!]!.tasks, [...busy.msgIds, ...behind.msgIds]);
    const before = verbose.engines[ids[0]!]!.completed;
    await Promise.all([busy, behind]);
    const after = await client.queueStatus([ids[0]!]);
    assert.equal(after.engines[ids[0]!]!.completed, before + 2);
    assert.equal(after.engines[ids[0]!]!.queue, 0);
    await assert.rejects(client.queueStatus([9999]), /9999/);
  });

  test("the status snapshot describes the controller and every engine", async () => {
    const { client, cluster, ids } = shared();
    const snapshot: ClusterSnapshot = await client.status();
    assert.equal(snapshot.profile, cluster.profile);
    assert.equal(snapshot.controller.pid, cluster.controller.pid);
    assert.deepEqual(snapshot.engines.map((e) => e.id).sort((a, b) => a - b), ids);
    assert.deepEqual(snapshot.engines.map((e) => e.pid).sort(), cluster.engines.map((e) => e.pid).sort());
    for (const engine of snapshot.engines) assert.ok(engine.state === "idle" || engine.state === "busy", engine.state);
  });
});

describe("waiting on tasks", () => {
  test("outstanding holds a task's msg id until its result is in [test_outstanding]", async () => {
    const { client, ids } = shared();
    const ar = client.directView(ids.at(-1)!).apply(nap, 300);
    const msgId = ar.msgIds[0]!;
    assert.ok(client.outstanding.has(msgId));
    client.outstanding.delete(msgId);
    assert.ok(client.outstanding.has(msgId), "outstanding is a copy");
    await ar;
    assert.ok(!client.outstanding.has(msgId));
  });

  test("rc.wait waits for all, or for given results, msg ids and history indexes, and reports a timeout", async () => {
    const { client, ids } = shared();
    const quick = client.directView(ids[0]!).apply(nap, 50);
    const slow = client.directView(ids[1]!).apply(nap, 1500);
    assert.equal(await client.wait([quick], 20_000), true);
    assert.ok(quick.ready());
    assert.equal(await client.wait(slow.msgIds[0]!, 0), false, "a zero timeout while the task runs");
    assert.equal(await client.wait(-1, 50), false, "history index -1 is the slow task");
    assert.ok(!slow.ready());
    assert.equal(await client.wait(undefined, 20_000), true);
    assert.ok(slow.ready());
    assert.equal(client.outstanding.size, 0);
    // Failed and unknown tasks count as done; a bad index is refused.
    const failing = client.directView(ids[0]!).apply(() => {
      throw new RangeError("no");
    });
    assert.equal(await client.wait(failing), true);
    await assert.rejects(failing.get(0), remoteError("RangeError"));
    assert.equal(await client.wait(["not-a-task-of-this-client"], 0), true);
    await assert.rejects(client.wait(client.history.length + 5), RangeError);
  });
});

describe("task labels", () => {
  test("a label on a view or a map call is kept in each task's metadata and record, and filters the controller's history", async () => {
    const { client, ids } = shared();
    const label = `stage-${Date.now()}`;
    const lv = client.loadBalancedView({ label });
    const mapped = lv.map((x: number) => x * 2, [1, 2, 3]);
    const direct = client.directView("all", { label }).apply(() => "labelled");
    const other = client.loadBalancedView().apply(() => "not labelled");
    const perCall = client.loadBalancedView().map((x: number) => x, [7], { label: `${label}-b` });
    await Promise.all([mapped, direct, other, perCall]);
    assert.deepEqual([...mapped.metadata, ...direct.metadata].map((m) => m.label), Array(3 + ids.length).fill(label));
    assert.equal(other.metadata[0]!.label, undefined);
    assert.deepEqual(await client.controllerHistory({ label }), [...mapped.msgIds, ...direct.msgIds]);
    assert.deepEqual(await client.controllerHistory({ label: `${label}-b` }), [...perCall.msgIds]);
    assert.equal((await client.getResult(mapped.msgIds[1]!)).label, label);
    assert.equal((await client.getResult(other.msgIds[0]!)).label, undefined);
    assert.ok((await client.controllerHistory()).includes(other.msgIds[0]!));
    assert.throws(() => client.loadBalancedView({ label: "x".repeat(300) }).apply(() => 1), TypeError);
  });
});

/**
 * Resolves once the task has written on each of `engines`: it runs there. The controller's "busy" only
 * says it was sent, and a SIGINT that reaches an engine before it starts the task interrupts nothing.
 */
function writing(ar: AsyncResult<unknown>, engines: number): Promise<void> {
  return new Promise((resolve) => {
    const seen = new Set<number>();
    const stop = ar.onOutput((event) => {
      seen.add(event.engineId);
      if (seen.size < engines) return;
      stop();
      resolve();
    });
  });
}

describe("signals", () => {
  test("interrupt stops running tasks, async or busy-looping, and the engines live on [test_signal_engines]", async () => {
    const { client, ids } = shared();
    const view = client.directView();
    const sleeping = view.apply(async (ms: number) => {
      console.log("sleeping");
      await new Promise((resolve) => setTimeout(resolve, ms));
    }, 30_000);
    await writing(sleeping, ids.length);
    assert.deepEqual((await client.interrupt()).sort((a, b) => a - b), ids);
    const err = await sleeping.get(20_000).catch((e: unknown) => e);
    assert.ok(err instanceof CompositeError, String(err));
    assert.equal(err.errors.length, ids.length);
    for (const inner of err.errors) remoteError("InterruptError")(inner);

    const spinning = client.directView(ids[0]!).apply(() => {
      // The first write leaves the engine at once, even with the loop that follows holding its thread.
      console.log("spinning");
      for (;;) {
        // a loop only SIGINT can stop
      }
    });
    await writing(spinning, 1);
    await client.interrupt([ids[0]!]);
    await assert.rejects(spinning.get(20_000), remoteError("InterruptError", ids[0]));
    assert.deepEqual(await view.apply(() => "alive"), ["alive", "alive"]);
  });
});

describe("a cluster whose engines change", () => {
  const growing = sharedCluster({ n: 1 });

  test("waitForEngines resolves at once, times out, or waits for new engines [test_wait_for_engines]", async () => {
    const { client, cluster } = growing();
    const n = client.ids.length;
    assert.deepEqual(await client.waitForEngines(n), client.ids);
    await assert.rejects(client.waitForEngines(n + 1, { timeout: 300 }), instanceOf(TimeoutError, new RegExp(`${n} of ${n + 1} engines`)));
    const waiting = client.waitForEngines(n + 1, { timeout: 20_000 });
    const added = await cluster.addEngines(1);
    assert.equal(added.length, 1);
    const ids = await waiting;
    assert.ok(ids.includes(added[0]!));
    assert.equal(ids.length, n + 1);
  });

  test("adding engines grows client.ids and emits engine_registered [test_ids]", async () => {
    const { client, cluster } = growing();
    const before = client.ids;
    const seen: number[] = [];
    const onRegistered = ({ engine }: { engine: { id: number } }) => seen.push(engine.id);
    client.events.on("engine_registered", onRegistered);
    try {
      const added = await cluster.addEngines(2);
      assert.equal(added.length, 2);
      await eventually("both engines to reach this client", () => added.every((id) => client.ids.includes(id)));
      assert.deepEqual(client.ids, [...before, ...added].sort((a, b) => a - b));
      await eventually("engine_registered events", () => added.every((id) => seen.includes(id)));
    } finally {
      client.events.off("engine_registered", onRegistered);
    }
  });

  test("directView() means the engines alive at each call [test_lazy_all_targets]", async () => {
    const { client, cluster } = growing();
    const v = client.directView();
    const double = (x: number) => x * 2;
    const seq = Array.from({ length: 100 }, (_, i) => i);
    const n1 = client.ids.length;
    assert.deepEqual(await v.apply(() => 1), Array(n1).fill(1));
    assert.deepEqual(await v.map(double, seq), seq.map(double));
    await cluster.addEngines(1);
    // addEngines waits for the cluster's own client; this one hears of the engine a moment later.
    await client.waitForEngines(n1 + 1, { timeout: 20_000 });
    const n2 = client.ids.length;
    assert.equal(n2, n1 + 1);
    assert.deepEqual(await v.apply(() => 1), Array(n2).fill(1));
    assert.deepEqual(await v.map(double, seq), seq.map(double));
  });

  test("stopping an engine ends its process and removes it from the views [test_shutdown]", async () => {
    const { client } = growing();
    const id0 = client.ids.at(-1)!;
    const pid: number = await client.directView(id0).apply(() => process.pid);
    assert.deepEqual(await client.stopEngines([id0]), [id0]);
    assert.ok(!client.ids.includes(id0));
    await eventually(`engine ${id0} (pid ${pid}) to exit`, () => !isRunning(pid));
    assert.throws(() => client.directView(id0).targets, instanceOf(NoEnginesError, new RegExp(`${id0}`)));
    const status = await client.status();
    assert.notEqual(status.engines.find((e) => e.id === id0)?.state ?? "stopped", "idle");
    // The rest keep working.
    const rest = client.ids;
    assert.deepEqual(await client.directView().apply(() => "ok"), rest.map(() => "ok"));
  });

  test("a task for an engine stopped by another client fails with EngineError or is refused, never hangs", async () => {
    const { client, cluster } = growing();
    const target = client.ids.at(-1)!;
    const other = await cluster.connect({ activate: false });
    try {
      await other.stopEngines([target]);
    } finally {
      other.close();
    }
    // `client` may not have heard of the stop yet: then the controller must fail the task.
    let late;
    try {
      late = client.directView([target]).apply(() => "too late");
    } catch (err) {
      instanceOf(NoEnginesError, new RegExp(`${target}`))(err);
      return;
    }
    await assert.rejects(late.get(20_000), instanceOf(EngineError, new RegExp(`${target}`)));
  });
});
