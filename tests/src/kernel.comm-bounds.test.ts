/**
 * The sidebar's actions reach the kernel from the browser, which the kernel does not trust to have
 * checked them (issue 8): on the base commit `start`/`add_engines` took any positive n and engine
 * actions any id. A real kernel process, its status comm, and the clusters it starts.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster } from "tsparallel";
import { privateRoot } from "./support/cluster-fixture.js";
import { KernelClient } from "./support/kernel-client.js";

const COMM = "c-bounds";

describe("kernel status comm: actions are validated", () => {
  let kernel: KernelClient;
  let next = 0;

  before(async () => {
    privateRoot();
    kernel = await KernelClient.start({ env: { TSPARALLEL_PANEL_MAX_ENGINES: "3" } });
    kernel.send("shell", "comm_open", { comm_id: COMM, target_name: "tsparallel.status", data: {} });
    await kernel.waitForIopub((m) => m.header.msg_type === "comm_msg" && m.content.comm_id === COMM);
  });
  after(async () => {
    kernel.close();
    for (const profile of Cluster.running()) await Cluster.fromProfile(profile).stop();
  });

  async function act(data: Record<string, unknown>): Promise<{ ok: boolean; message: string }> {
    const id = `bounds-${next++}`;
    kernel.send("shell", "comm_msg", { comm_id: COMM, data: { type: "action", id, ...data } });
    const reply = await kernel.waitForIopub(
      (m) => m.header.msg_type === "comm_msg" && (m.content.data as Record<string, unknown>).type === "action_result" && (m.content.data as Record<string, unknown>).id === id,
      120_000,
    );
    const content = reply.content.data as { ok: boolean; message: string };
    return { ok: content.ok, message: String(content.message) };
  }

  test("start with n over the bound, or not a whole number, is refused and starts nothing", { timeout: 120_000 }, async () => {
    for (const n of [4, 1.5, -2, "2"]) {
      const result = await act({ action: "start", n });
      assert.equal(result.ok, false, `start with n = ${JSON.stringify(n)} was accepted: ${result.message}`);
      assert.match(result.message, /n must be a whole number of engines from 1 to 3/);
    }
    assert.deepEqual(Cluster.running(), [], "a cluster was started");
  });

  test("add_engines over the bound and engine actions on unknown ids are refused; known ones work", { timeout: 180_000 }, async () => {
    const started = await act({ action: "start", n: 1 });
    assert.equal(started.ok, true, started.message);
    const tooMany = await act({ action: "add_engines", n: 4 });
    assert.equal(tooMany.ok, false, tooMany.message);
    assert.match(tooMany.message, /from 1 to 3/);
    for (const action of ["stop_engine", "interrupt_engine", "restart_engine"]) {
      const result = await act({ action, engineId: 99 });
      assert.equal(result.ok, false, `${action} of engine 99 was accepted: ${result.message}`);
      assert.match(result.message, /there is no engine 99 in this cluster \(engines: 0\)/);
    }
    const interrupted = await act({ action: "interrupt_engine", engineId: 0 });
    assert.equal(interrupted.ok, true, interrupted.message);
    const stopped = await act({ action: "stop_cluster" });
    assert.equal(stopped.ok, true, stopped.message);
  });
});
