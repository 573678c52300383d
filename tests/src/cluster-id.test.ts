/**
 * Several clusters in one profile, told apart by a cluster id (ipyparallel's `cluster_id`,
 * test_cluster.py's test_cluster_id): their own connection files, state files and task stores.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { test } from "node:test";
import { Client, Cluster, ClusterError } from "tsparallel";
import { isRunning, privateRoot } from "./support/cluster-fixture.js";
import { instanceOf } from "./support/remote-errors.js";

test("clusters started with ids share a profile, each with its own files, found again by id [test_cluster_id]", { timeout: 180_000 }, async () => {
  privateRoot();
  const profile = "ids";
  const started: Cluster[] = [];
  try {
    for (const clusterId of ["abc", "def", undefined]) {
      started.push(await Cluster.start({ profile, n: 1, timeout: 60_000, ...(clusterId ? { clusterId } : {}) }));
    }
    const [abc, def, own] = started as [Cluster, Cluster, Cluster];
    assert.deepEqual(started.map((c) => c.clusterId), ["abc", "def", ""]);
    assert.deepEqual(started.map((c) => basename(c.clientFile)), ["tspcontroller-abc-client.json", "tspcontroller-def-client.json", "tspcontroller-client.json"]);
    assert.equal(new Set(started.map((c) => c.controller.pid)).size, 3, "three controllers");

    // Each is found again by its id: by a client of the profile, and as a Cluster.
    for (const cluster of started) {
      const client = await Client.connect({ profile, ...(cluster.clusterId ? { clusterId: cluster.clusterId } : {}), activate: false });
      try {
        assert.deepEqual(client.engines.map((e) => e.pid), cluster.engines.map((e) => e.pid), `the engines of cluster "${cluster.clusterId}"`);
        assert.equal(client.clusterId, cluster.clusterId, "the client knows which of the profile's clusters it is connected to");
      } finally {
        client.close();
      }
      const found = Cluster.fromProfile(profile, { clusterId: cluster.clusterId });
      assert.equal(found.controller.pid, cluster.controller.pid);
      assert.equal(found.clusterId, cluster.clusterId);
    }
    // Each has its own task store (an exclusive SQLite lock each).
    for (const id of ["abc", "def"]) assert.ok(existsSync(`${privateRoot()}/profile_${profile}/tspcontroller-${id}-tasks.sqlite`), `the task store of ${id}`);

    await assert.rejects(Cluster.start({ profile, clusterId: "abc", n: 0 }), instanceOf(ClusterError, /cluster "abc" of profile "ids" is already running/));
    await assert.rejects(Cluster.start({ profile, clusterId: "../x", n: 0 }), /invalid cluster id/);
    assert.throws(() => Cluster.fromProfile(profile, { clusterId: "nope" }), instanceOf(ClusterError, /no cluster "nope" is running in profile "ids"/));

    // Stopping one by id leaves the others running.
    await Cluster.fromProfile(profile, { clusterId: "abc" }).stop();
    await abc.stop();
    assert.equal(isRunning(abc.controller.pid), false);
    assert.ok(isRunning(def.controller.pid) && isRunning(own.controller.pid));
    const client = await Client.connect({ profile, clusterId: "def", activate: false });
    assert.equal(await client.loadBalancedView().apply(() => 6 * 7), 42);
    client.close();
  } finally {
    for (const cluster of started) await cluster.stop();
  }
});
