/**
 * Task dependencies: the counterparts of ipyparallel's test_dependency.py (Dependency met / reachable)
 * and the dependency tests of test_lbview.py (after, follow, impossible and invalid dependencies).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BroadcastView, Dependency, ImpossibleDependencyError, InvalidDependencyError, TaskAbortedError, TimeoutError } from "tsparallel";
import { sharedCluster } from "./support/cluster-fixture.js";
import { instanceOf, remoteError } from "./support/remote-errors.js";

// Names the functions below find in the engine namespace, once a requirement put them there.
declare const querystring: typeof import("node:querystring");
declare const qs: typeof import("node:querystring");
declare const foo: (x: number) => number;
function func(x: number): number {
  return x * x;
}
function bar(a: number): number {
  return func(a);
}

const range = (start: number, stop: number, step = 1) => Array.from({ length: Math.ceil((stop - start) / step) }, (_, i) => String(start + i * step));
const mixed = range(0, 10);
const completed = range(0, 10, 2);
const succeeded = new Set(range(0, 25, 2));
const failed = new Set(range(1, 25, 2));
const met = (dep: Dependency) => dep.check(succeeded, failed);
const unreachable = (dep: Dependency) => dep.unreachable(succeeded, failed);

const nap = async (ms: number): Promise<number> => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
};

describe("Dependency (test_dependency.py)", () => {
  test("success only: all of them, or any [test_success_only]", () => {
    let dep = new Dependency(mixed, { success: true, failure: false });
    assert.equal(met(dep), false);
    assert.equal(unreachable(dep), true);
    dep = new Dependency(mixed, { success: true, failure: false, all: false });
    assert.equal(met(dep), true);
    assert.equal(unreachable(dep), false);
    dep = new Dependency(completed, { success: true, failure: false });
    assert.equal(met(dep), true);
    assert.equal(unreachable(dep), false);
    dep = new Dependency(completed, { success: true, failure: false, all: false });
    assert.equal(met(dep), true);
    assert.equal(unreachable(dep), false);
  });

  test("failure only: all of them, or any [test_failure_only]", () => {
    let dep = new Dependency(mixed, { success: false, failure: true });
    assert.equal(met(dep), false);
    assert.equal(unreachable(dep), true);
    dep = new Dependency(mixed, { success: false, failure: true, all: false });
    assert.equal(met(dep), true);
    assert.equal(unreachable(dep), false);
    dep = new Dependency(completed, { success: false, failure: true });
    assert.equal(met(dep), false);
    assert.equal(unreachable(dep), true);
    dep = new Dependency(completed, { success: false, failure: true, all: false });
    assert.equal(met(dep), false);
    assert.equal(unreachable(dep), true);
  });

  test("an empty dependency is met at once; one wanting neither outcome is refused", () => {
    assert.equal(met(new Dependency([])), true);
    assert.equal(unreachable(new Dependency([])), false);
    assert.throws(() => new Dependency(mixed, { success: false, failure: false }), RangeError);
  });
});

describe("after and follow (test_lbview.py)", () => {
  const shared = sharedCluster({ n: 2 });

  test("a task after another starts once it completed [test_after]", async () => {
    const { client } = shared();
    const view = client.loadBalancedView();
    const first = view.apply(nap, 500);
    const second = view.with({ after: first }).apply(() => Date.now());
    await Promise.all([first, second]);
    assert.ok(second.metadata[0]!.started! >= first.metadata[0]!.completed!, `started ${second.metadata[0]!.started} before ${first.metadata[0]!.completed}`);
    // By msg id too (asked of the controller), and for every chunk of a map.
    const third = view.apply(nap, 300);
    const mapped = view.map((x: number) => x * 2, [1, 2, 3], { after: [...third.msgIds] });
    assert.deepEqual(await mapped, [2, 4, 6]);
    for (const m of mapped.metadata) assert.ok(m.started! >= third.metadata[0]!.completed!);
    assert.equal(await client.wait([mapped], 20_000), true);
  });

  test("tasks following another run on its engine [test_follow]", async () => {
    const { client } = shared();
    const view = client.loadBalancedView();
    const ar = view.apply(() => 1);
    await ar;
    const firstId = ar.engineIds[0];
    const following = view.with({ follow: ar });
    const ars = Array.from({ length: 5 }, () => following.apply(() => 1));
    assert.equal(await client.wait(ars, 20_000), true);
    for (const one of ars) assert.deepEqual(one.engineIds, [firstId]);
  });

  test("following tasks that ran on different engines is impossible [test_impossible_dependency]", async () => {
    const { client } = shared();
    const [e1, e2] = client.ids;
    const ar1 = client.loadBalancedView({ targets: [e1!] }).apply(() => 1);
    const ar2 = client.loadBalancedView({ targets: [e2!] }).apply(() => 1);
    await Promise.all([ar1, ar2]);
    const impossible = client.loadBalancedView().with({ follow: [ar1, ar2] }).apply(() => 1);
    await assert.rejects(impossible.get(20_000), instanceOf(ImpossibleDependencyError));
    // A failed dependency is never met when success is wanted, and is when failure is.
    const failing = client.loadBalancedView().apply(() => {
      throw new RangeError("no");
    });
    await assert.rejects(client.loadBalancedView({ after: failing }).apply(() => 1).get(20_000), instanceOf(ImpossibleDependencyError));
    assert.equal(await client.loadBalancedView({ after: new Dependency(failing, { success: false, failure: true }) }).apply(() => "ran"), "ran");
  });

  test("a dependency on an unknown task fails clearly [test_invalid_dependency]", async () => {
    const { client } = shared();
    await assert.rejects(client.loadBalancedView({ after: "12345" }).apply(() => 1).get(20_000), instanceOf(InvalidDependencyError, /12345/));
  });

  test("a held-back task can be aborted, and times out when its dependency takes too long", async () => {
    const { client } = shared();
    const slow = client.loadBalancedView().apply(nap, 1500);
    const held = client.loadBalancedView({ after: slow }).apply(() => "never");
    await held.abort();
    await assert.rejects(held.get(20_000), instanceOf(TaskAbortedError));
    const late = client.loadBalancedView({ after: slow, timeout: 200 }).apply(() => "late");
    await assert.rejects(late.get(20_000), instanceOf(TimeoutError, /dependencies were not met within 200 ms/));
    await slow;
  });
});

describe("require (test_dependency.py, test_view.py)", () => {
  const shared = sharedCluster({ n: 2 });

  test("view.require(specifier) imports a module on the engine before the task runs [test_require_imports]", async () => {
    const { client, ids } = shared();
    await client.directView(ids).clear();
    const encode = (arg: Record<string, string>) => querystring.stringify(arg);
    const lv = client.loadBalancedView();
    await assert.rejects(lv.apply(encode, { a: "x y" }).get(), remoteError("ReferenceError"));
    assert.equal(await lv.require("node:querystring").apply(encode, { a: "x y" }), "a=x%20y");
    assert.equal(await lv.require({ qs: "node:querystring" }).apply((arg: Record<string, string>) => qs.stringify(arg), { b: "1" }), "b=1");
    // A module no engine can import fails the task with a clear error naming it.
    const missing = await lv.require("tsp-no-such-module").apply(() => 1).catch((e: unknown) => e);
    remoteError("UnmetDependency")(missing);
    assert.match((missing as Error).message, /engine \d+ cannot import 'tsp-no-such-module'/);
  });

  test("view.require(fn) defines a function on the engine before the task runs [test_require_function]", async () => {
    const { client, ids } = shared();
    await client.directView(ids).clear();
    const lv = client.loadBalancedView();
    await assert.rejects(lv.apply(bar, 5).get(), remoteError("ReferenceError"));
    assert.equal(await lv.require(func).apply(bar, 5), func(5));
    await client.directView(ids).clear();
    assert.deepEqual(await lv.require(func).map(bar, [1, 2, 3, 4]), [1, 4, 9, 16], "a load-balanced map");
    await client.directView(ids).clear();
    assert.deepEqual(await client.directView(ids).require(func).map(bar, [1, 2, 3]), [1, 4, 9], "a direct map");
    await client.directView(ids).clear();
    assert.deepEqual(await client.directView(ids).require(func).apply(bar, 3), ids.map(() => 9), "a direct apply");
    await client.directView(ids).clear();
    const broadcast = client.broadcastView(ids).require(func);
    assert.ok(broadcast instanceof BroadcastView);
    assert.deepEqual(await broadcast.apply(bar, 2), ids.map(() => 4), "a broadcast apply");
  });

  test("view.require({ name: fn }) defines it under that name [test_require_object]", async () => {
    const { client, ids } = shared();
    await client.directView(ids).clear();
    const lv = client.loadBalancedView();
    assert.equal(await lv.require({ foo: func }).apply((a: number) => foo(a), 5), func(5));
    assert.throws(() => lv.require({ data: 5 as unknown as string }), /not a module specifier or a function/);
    assert.throws(() => lv.require((() => (x: number) => x)()), /not a valid name/);
  });
});
