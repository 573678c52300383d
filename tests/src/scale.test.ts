/** One host at full scale (issue 7): big chunkSize-1 maps and 64 engines on a small machine. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Client } from "tsparallel";
import { isRunning, startCluster } from "./support/cluster-fixture.js";

declare const globalThis: { runs?: number };

function deathsSeen(client: Client): number[] {
  const dead: number[] = [];
  client.events.on("engine_dead", (event) => dead.push(event.id));
  return dead;
}

test("a 200,000-item map with chunkSize 1 gives every value right and runs each item once", { timeout: 300_000 }, async () => {
  const tc = await startCluster({ n: 2 });
  try {
    const deaths = deathsSeen(tc.client);
    const n = 200_000;
    const items = Array.from({ length: n }, (_, i) => i);
    const out = await tc.client.loadBalancedView().map(
      (x: number) => {
        globalThis.runs = (globalThis.runs ?? 0) + 1;
        return x + 1;
      },
      items,
      { chunkSize: 1 },
    );
    assert.equal(out.length, n);
    let wrong = 0;
    for (let i = 0; i < n; i++) if (out[i] !== i + 1) wrong++;
    assert.equal(wrong, 0, "every value right");
    const runs = await tc.client.directView().apply(() => globalThis.runs ?? 0);
    assert.equal(runs.reduce((a, b) => a + b, 0), n, "each item ran exactly once");
    assert.deepEqual(deaths, []);
  } finally {
    await tc.stop();
  }
});

test("64 engines on this machine all register, and all survive a CPU-bound load with no false death", { timeout: 600_000 }, async () => {
  const tc = await startCluster({ n: 64, timeout: 240_000 });
  try {
    const deaths = deathsSeen(tc.client);
    assert.equal(tc.ids.length, 64);
    // Every engine spins its CPU at once: 128 tasks of 150 ms on 2 cores.
    const spin = (x: number) => {
      const until = Date.now() + 150;
      let k = 0;
      while (Date.now() < until) k++;
      return k > 0 ? x : -1;
    };
    const items = Array.from({ length: 128 }, (_, i) => i);
    assert.deepEqual(await tc.client.loadBalancedView().map(spin, items), items);
    const snapshot = await tc.client.status();
    assert.deepEqual(snapshot.engines.filter((e) => e.state === "dead" || e.state === "stopped").map((e) => e.id), [], "no engine declared dead");
    assert.equal(snapshot.engines.length, 64);
    assert.deepEqual(deaths, []);
    for (const engine of tc.cluster.engines) assert.ok(isRunning(engine.pid), `engine process ${engine.pid} still runs`);
  } finally {
    await tc.stop();
  }
});
