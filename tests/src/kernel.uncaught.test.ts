import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster } from "tsparallel";
import { privateRoot } from "./support/cluster-fixture.js";
import { KernelClient, plainOutputs, streamText } from "./support/kernel-client.js";

/** Issue 11, gap 1: errors nobody catches (timers, floating promises) must not take the kernel, its state or its cluster down. */
describe("kernel: uncaught errors outside a cell", () => {
  const profile = "uncaught";
  let kernel: KernelClient;
  before(async () => {
    kernel = await KernelClient.start({ env: { TSPARALLEL_DIR: privateRoot() } });
    const started = await kernel.execute(`%tspcluster start -n 1 --profile ${profile}`);
    assert.equal(started.reply.content.status, "ok", JSON.stringify(started.reply.content));
  });
  after(async () => {
    await kernel.close();
    // The kernel stops its cluster on shutdown; should it have died, its cluster is stopped here.
    try {
      await Cluster.fromProfile(profile).stop();
    } catch {
      // Already stopped with the kernel.
    }
  });

  const ok = async (code: string) => {
    const executed = await kernel.execute(code);
    assert.equal(executed.reply.content.status, "ok", JSON.stringify(executed.reply.content));
    return executed;
  };

  test("a throw in a timer is stderr of the running cell, and the notebook and its cluster go on", { timeout: 120_000 }, async () => {
    const pid = kernel.pid;
    await ok("const kept = { n: 41 }");
    await ok("setTimeout(() => { throw new Error('from a timer') }, 50)");
    const later = await ok("await new Promise((r) => setTimeout(r, 1500)); kept.n + 1");
    const stderr = streamText(later.outputs, "stderr");
    assert.match(stderr, /Uncaught: .*Error.*: from a timer/, stderr);
    assert.match(stderr, /from work started by cell \[\d+\]/, stderr);
    assert.deepEqual(plainOutputs(later.outputs), ["42"]);
    assert.equal(kernel.pid, pid);
    const px = await ok("%px 20 + 1");
    assert.deepEqual(plainOutputs(px.outputs).filter((t) => !t.startsWith("%px: [")).map((t) => t.replace(/:\d+\]/, "]")), ["Out[0]: 21"]);
  });

  test("a floating rejected promise is stderr of the cell that made it", async () => {
    const { outputs } = await ok("Promise.reject(new Error('floating')); await new Promise((r) => setTimeout(r, 300)); kept.n");
    assert.match(streamText(outputs, "stderr"), /Unhandled promise rejection: .*Error.*: floating/);
    assert.deepEqual(plainOutputs(outputs), ["41"]);
    const async = await ok("(async () => { await new Promise((r) => setTimeout(r, 20)); throw new TypeError('late') })(); await new Promise((r) => setTimeout(r, 500)); 'alive'");
    assert.match(streamText(async.outputs, "stderr"), /TypeError.*: late/);
    assert.deepEqual(plainOutputs(async.outputs), ["'alive'"]);
  });
});
