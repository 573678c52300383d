/**
 * ipyparallel's test_wait_for_engines_crash: waiting for engines that can no longer come fails early
 * with EngineError (naming the engine processes that exited), instead of waiting out the timeout.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { EngineError, TimeoutError } from "tsparallel";
import { eventually, isRunning, startCluster } from "./support/cluster-fixture.js";

test("waitForEngines fails early with EngineError once the cluster's engines have exited [test_wait_for_engines_crash]", async () => {
  const running = await startCluster({ n: 2 });
  try {
    const { cluster, client } = running;
    assert.deepEqual((await client.waitForEngines(2, { timeout: 10_000 })).length, 2);
    const pids = cluster.engines.map((e) => e.pid);
    for (const pid of pids) process.kill(pid, "SIGKILL");
    await eventually("the engine processes to be gone", () => pids.every((pid) => !isRunning(pid)));
    const error = await client.waitForEngines(3, { timeout: 120_000 }).then(
      () => assert.fail("waitForEngines(3) resolved with no engines left"),
      (err: unknown) => err,
    );
    assert.ok(!(error instanceof TimeoutError), `failed early, not by the timeout: ${String(error)}`);
    assert.ok(error instanceof EngineError, String(error));
    assert.match(error.message, new RegExp(`${pids[0]} \\(log: `));
    assert.match(error.message, /at most 0 can come/);
  } finally {
    await running.stop();
  }
});
