/**
 * The MPI engine launcher under a real `mpiexec` (Debian's Open MPI): n engines as the ranks of one
 * mpiexec, each knowing its rank (in the controller's metadata, in `tspcluster list`, as `tspengine.rank`
 * on the engine), and `stop` leaving neither engines nor mpiexec behind.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Client, Cluster } from "tsparallel";
import { isRunning, privateRoot } from "./support/cluster-fixture.js";
import { leftoverEngines } from "./support/proc-scan.js";
import { tspcluster } from "./support/tspcluster.js";

/** mpiexec and engine processes this checkout's MPI launcher started that are still running. */
const leftovers = () => leftoverEngines(/launcher=mpi/);

// Open MPI refuses root unless told; more ranks than this machine's 2 cores need --oversubscribe.
const MPI_ARGS = process.getuid?.() === 0 ? ["--allow-run-as-root", "--oversubscribe"] : ["--oversubscribe"];

describe("mpi launcher", () => {
  after(async () => {
    await tspcluster("stop", "--profile", "mpicli");
  });

  test("tspcluster start --engines mpi -n 4: ranks 0..3 in list and on the engines; stop leaves nothing", { timeout: 120_000 }, async (t) => {
    t.after(() => tspcluster("stop", "--profile", "mpicli"));
    const start = await tspcluster("start", "--profile", "mpicli", "--daemonize", "--engines", "mpi", "-n", "4", "--mpi-args", MPI_ARGS.join(" "));
    assert.equal(start.code, 0, start.stderr + start.stdout);
    assert.match(start.stdout, /profile "mpicli", controller pid \d+, 4 engines \(\d+\)/);

    const listed = await tspcluster("list");
    assert.equal(listed.code, 0, listed.stderr);
    const line = listed.stdout.split("\n").find((l) => /^\t\thost .* \(mpi\): /.test(l));
    assert.ok(line, `a host line for mpi engines in:\n${listed.stdout}`);
    const ranks = [...line.matchAll(/\d+\(rank (\d+)\)/g)].map((m) => Number(m[1])).sort();
    assert.deepEqual(ranks, [0, 1, 2, 3]);

    const state = JSON.parse(readFileSync(join(privateRoot(), "profile_mpicli", "security", "cluster.json"), "utf8")) as { engines: { pid: number; launcher: string; engines: number }[] };
    assert.deepEqual(state.engines.map((e) => [e.launcher, e.engines]), [["mpi", 4]]);
    const mpiexec = state.engines[0]!.pid;

    const client = await Client.connect({ profile: "mpicli", activate: false, timeout: 10_000 });
    try {
      await client.waitForEngines(4, { timeout: 20_000 });
      const dv = client.directView();
      const seen = await dv.apply(() => {
        const engine = (globalThis as unknown as { tspengine: { id: number; rank?: number; size?: number } }).tspengine;
        return { id: engine.id, rank: engine.rank, size: engine.size, envRank: Number(process.env.OMPI_COMM_WORLD_RANK) };
      });
      assert.deepEqual(seen.map((s) => s.rank).sort(), [0, 1, 2, 3]);
      for (const s of seen) {
        assert.equal(s.rank, s.envRank);
        assert.equal(s.size, 4);
      }
      // The controller tells clients the same ranks.
      const byId = new Map(client.engines.map((e) => [e.id, e.metadata?.rank]));
      for (const s of seen) assert.equal(byId.get(s.id), s.rank);
      // A map across the ranks: each engine squares its share.
      const squares = await dv.map((x: number) => x * x, [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.deepEqual(squares, [1, 4, 9, 16, 25, 36, 49, 64]);
    } finally {
      client.close();
    }

    const stop = await tspcluster("stop", "--profile", "mpicli");
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(!isRunning(mpiexec), "mpiexec is gone");
    assert.deepEqual(leftovers(), []);
  });

  test("Cluster.start({ engines: { launcher: 'mpi' } }) from code, and a refused mpiexec reported with its log", { timeout: 120_000 }, async () => {
    privateRoot();
    const cluster = await Cluster.start({ profile: "mpicode", n: 2, engines: { launcher: "mpi", mpiArgs: MPI_ARGS } });
    try {
      const client = await cluster.connect({ activate: false });
      const engines = client.engines;
      client.close();
      assert.deepEqual(engines.map((e) => e.metadata?.rank).sort(), [0, 1]);
      assert.ok(engines.every((e) => e.metadata?.launcher === "mpi" && e.metadata?.size === 2));
    } finally {
      await cluster.stop();
    }
    assert.deepEqual(leftovers(), []);

    // An option mpiexec does not know: it exits at once, and the error says so with its output.
    await assert.rejects(
      Cluster.start({ profile: "mpibad", n: 2, engines: { launcher: "mpi", mpiArgs: [...MPI_ARGS, "--no-such-mpi-option"] } }),
      (err: Error) => /engine process \d+ \(log: .*mpi\.log\) exited before registering/.test(err.message),
    );
    assert.deepEqual(leftovers(), []);
  });
});
