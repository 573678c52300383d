/**
 * What users see when they print things (issue 12): remote tracebacks in CompositeError, its message
 * truncated as ipyparallel's, and informative util.inspect of Cluster, Client, views and AsyncResult.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { inspect } from "node:util";
import { Cluster, CompositeError, RemoteError } from "tsparallel";
import { privateRoot, sharedCluster } from "./support/cluster-fixture.js";

const shared = sharedCluster({ n: 2 });

/** One line whatever the terminal width, so the checks below read the content, not the layout. */
const oneLine = (value: unknown) => inspect(value, { breakLength: Infinity });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function failure(promise: PromiseLike<unknown>): Promise<CompositeError> {
  const err = await Promise.resolve(promise).then(() => assert.fail("the call should fail"), (e: unknown) => e);
  assert.ok(err instanceof CompositeError, `expected a CompositeError, got ${String(err)}`);
  return err;
}

describe("remote errors", () => {
  test("printing a CompositeError shows each engine's remote traceback [test_compositeerror_render_exception]", async () => {
    const { client, ids } = shared();
    await client.directView().execute("function deepInside() { throw new RangeError('Division by zero') }");
    const err = await failure(client.directView().execute("1n / 0n"));
    const rendered = inspect(err);
    for (const id of ids) assert.match(rendered, new RegExp(`\\[${id}:execute\\]`), "one section per engine, named as ipyparallel does");
    assert.equal(rendered.match(/RangeError: Division by zero/g)?.length, ids.length, rendered);
    assert.doesNotMatch(rendered, /\[Array\]/);

    // A real remote stack, with its frames, for each engine.
    const deep = await failure(client.directView().execute("deepInside()"));
    const deepRendered = inspect(deep);
    assert.equal(deepRendered.match(/at deepInside/g)?.length, ids.length, deepRendered);
    assert.deepEqual(deep.renderTraceback(1).slice(0, 2), [`[${ids[1]}:execute]`, "RangeError: Division by zero"]);

    // A single RemoteError prints its remote stack too, not `traceback: [Array]`.
    const one = await client.directView(ids[0]!).execute("deepInside()").then(() => assert.fail("should throw"), (e: unknown) => e);
    assert.ok(one instanceof RemoteError);
    assert.match(inspect(one), new RegExp(`\\[${ids[0]}:execute\\] RangeError: Division by zero\\n.*at deepInside`));
  });

  test("a map with 40 failures shows 4 of them, then how many more [test_compositeerror_truncate]", async () => {
    const { client } = shared();
    const err = await failure(client.loadBalancedView().map((x: number) => BigInt(x) / 0n, range(40)));
    assert.equal(err.errors.length, 40, "every error is kept");
    const lines = err.message.split("\n");
    assert.equal(lines.length, 6, err.message);
    assert.match(lines[0]!, /^40 of 40 tasks failed:$/);
    for (const line of lines.slice(1, 5)) assert.match(line, /RangeError: Division by zero/);
    assert.equal(lines[5]!.trim(), "... 36 more exceptions ...");
    const rendered = inspect(err);
    assert.equal(rendered.match(/:map\]/g)?.length, 4, rendered);
    assert.match(rendered, /\.\.\. 36 more exceptions \.\.\./);
    assert.throws(() => err.raiseException(39), (e) => e === err.errors[39]);
    assert.throws(() => err.raiseException(40), RangeError);
  });
});

describe("inspections", () => {
  test("Client, views and AsyncResult inspect as their state: profile, controller, engines, pending tasks", async () => {
    const { client, ids, cluster } = shared();
    const shownClient = oneLine(client);
    assert.match(shownClient, /^Client \{/);
    assert.match(shownClient, new RegExp(`profile: '${cluster.profile}'`));
    assert.match(shownClient, /controller: 'connected'/);
    assert.match(shownClient, new RegExp(`engines: \\[ ${ids.join(", ")} \\]`));

    const dv = client.directView();
    assert.match(oneLine(dv), new RegExp(`^DirectView \\{ targets: 'all \\(now ${ids.join(", ")}\\)'`));
    assert.match(oneLine(client.directView(ids[1]!)), new RegExp(`^DirectView \\{ targets: ${ids[1]}`));
    assert.match(oneLine(client.loadBalancedView({ retries: 2 })), /^LoadBalancedView \{ retries: 2, targets: 'all/);

    const slow = dv.apply(async () => new Promise((resolve) => setTimeout(() => resolve(1), 400)));
    const running = oneLine(slow);
    assert.match(running, /^AsyncResult \{ kind: 'apply', status: 'pending', done: '0\/2', pending: 2/);
    assert.match(oneLine(client), /outstanding: 2/);
    await slow;
    assert.match(oneLine(slow), new RegExp(`status: 'ok', done: '2/2', pending: 0, engines: \\[ ${ids.join(", ")} \\]`));
    const failed = client.loadBalancedView().map((x: number) => (x === 1 ? x.toFixed(-1) : x), [0, 1, 2]);
    await failed.catch(() => undefined);
    assert.match(oneLine(failed), /^AsyncMapResult \{ kind: 'map', status: 'error', done: '3\/3', pending: 0, failed: 1/);
  });

  test("a Cluster inspects as its profile, controller and engines", () => {
    const { cluster, ids } = shared();
    const shown = oneLine(cluster);
    assert.match(shown, /^Cluster \{/);
    assert.match(shown, new RegExp(`profile: '${cluster.profile}'`));
    assert.match(shown, new RegExp(`controller: \\{ pid: ${cluster.controller.pid}, state: 'running' \\}`));
    assert.equal(shown.match(/state: 'running'/g)?.length, 1 + ids.length, shown);
    assert.match(shown, new RegExp(`engineIds: \\[ ${ids.join(", ")} \\]`));
  });
});

describe("stopping a cluster twice", () => {
  // Cluster.stop asked its stale client to shut down a controller already gone and waited out that
  // request's 10 s timeout. The bound below is a hang guard well under that timeout, not a speed check.
  const REQUEST_TIMEOUT_MS = 10_000;

  test("stopping a cluster someone else already stopped is prompt and says it was stopped [test_to_from_dict, test_default_from_file]", async () => {
    privateRoot();
    // The default profile (of this test's private TSPARALLEL_DIR), so fromProfile() finds it without a name.
    const c = await Cluster.start({ n: 2, timeout: 30_000 });
    try {
      assert.equal(Cluster.fromProfile().controller.pid, c.controller.pid);
      await Cluster.fromProfile().stop();
      assert.match(oneLine(c), /controller: \{ pid: \d+, state: 'stopped' \}/);
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        c.stop().then(() => "stopped"),
        new Promise((resolve) => (timer = setTimeout(() => resolve("still waiting on the old client"), REQUEST_TIMEOUT_MS - 2_000))),
      ]);
      clearTimeout(timer);
      assert.equal(outcome, "stopped");
    } finally {
      await c.stop();
    }
  });
});
