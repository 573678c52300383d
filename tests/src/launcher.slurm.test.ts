/**
 * The Slurm and batch-template engine launchers against a real single-node Slurm (slurmctld + slurmd +
 * munge, private to this run): one submission registers n engines, each with its task rank and job id;
 * `stop` cancels the job and leaves squeue empty. Skipped (with the reason) unless root.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { BatchEngineLauncher, Client, Cluster, createEngineLauncher, renderBatchTemplate } from "tsparallel";
import { privateRoot } from "./support/cluster-fixture.js";
import { repoRoot } from "./support/paths.js";
import { slurmUnavailable } from "./support/slurm-cluster.js";
import { useSlurm } from "./support/slurm-suite.js";
import { leftoverEngines } from "./support/proc-scan.js";

/** Engines of this checkout started by a batch job that are still running. */
const leftovers = () => leftoverEngines(/launcher=(slurm|batch)/);

describe("batch templates shipped in examples/batch", () => {
  test("the PBS, LSF and Slurm-array examples render and name their scheduler", () => {
    for (const [file, scheduler] of [["pbs.sh", "pbs"], ["lsf.sh", "lsf"], ["slurm-array.sh", "slurm"]] as const) {
      const text = readFileSync(join(repoRoot, "examples/batch", file), "utf8");
      const rendered = renderBatchTemplate(text, { n: "8", queue: "q", time: "1:00:00", engine_command: "node tspengine.js", job_name: "j", log_file: "/l" });
      assert.doesNotMatch(rendered, /\{[a-z_]+\}/, `${file} has no placeholder left`);
      assert.match(rendered, /node tspengine\.js/);
      const launcher = createEngineLauncher({ launcher: "batch", templateFile: join(repoRoot, "examples/batch", file) }) as BatchEngineLauncher;
      assert.equal(launcher.name, scheduler);
    }
  });
});

const skip = slurmUnavailable();

describe("slurm and batch launchers on a real single-node Slurm", { skip }, () => {
  const suite = useSlurm(["slurmcli"]);
  const tspcluster = suite.tspcluster;

  test("tspcluster start --engines slurm -n 3: one job, ranks 0..2, stop runs scancel and leaves squeue empty", { timeout: 180_000 }, async (t) => {
    t.after(() => tspcluster("stop", "--profile", "slurmcli"));
    // Three tasks on a 2-CPU node: --overcommit lets one job hold more tasks than CPUs.
    const start = await tspcluster(
      "start", "--profile", "slurmcli", "--daemonize", "--engines", "slurm", "-n", "3",
      "--partition", suite.slurm.partition, "--time", "10", "--slurm-args", "--overcommit --job-name=tsp-test-engines",
    );
    assert.equal(start.code, 0, start.stderr + start.stdout);
    const jobId = /3 engines \(slurm job (\d+)\)/.exec(start.stdout)?.[1];
    assert.ok(jobId, start.stdout);
    assert.deepEqual(suite.slurm.queue(), [jobId]);

    const listed = await tspcluster("list");
    const line = listed.stdout.split("\n").find((l) => /^\t\thost .* \(slurm\): /.test(l));
    assert.ok(line, listed.stdout);
    assert.deepEqual([...line.matchAll(/\(rank (\d+)\)/g)].map((m) => Number(m[1])).sort(), [0, 1, 2]);

    const client = await Client.connect({ profile: "slurmcli", activate: false, timeout: 10_000 });
    try {
      const seen = await client.directView().apply(() => {
        const engine = (globalThis as unknown as { tspengine: { rank?: number; size?: number; metadata: Record<string, string | number> } }).tspengine;
        return { rank: engine.rank, size: engine.size, job: engine.metadata.job, slurmJob: process.env.SLURM_JOB_ID, launcher: engine.metadata.launcher };
      });
      assert.deepEqual(seen.map((s) => s.rank).sort(), [0, 1, 2]);
      for (const s of seen) assert.deepEqual([s.size, s.job, s.slurmJob, s.launcher], [3, jobId, jobId, "slurm"]);
    } finally {
      client.close();
    }

    const stop = await tspcluster("stop", "--profile", "slurmcli");
    assert.equal(stop.code, 0, stop.stderr);
    assert.deepEqual(suite.slurm.queue(), []);
    assert.deepEqual(leftovers(), []);
  });

  test("--batch-template: a job script from a template file (#SBATCH found, sbatch/scancel/squeue used)", { timeout: 180_000 }, async () => {
    const template = join(privateRoot(), "engines.sbatch");
    writeFileSync(template, [
      "#!/bin/sh",
      "#SBATCH --job-name={job_name}",
      "#SBATCH --ntasks={n}",
      "#SBATCH --partition={queue}",
      "#SBATCH --time={time}",
      "#SBATCH --overcommit",
      "#SBATCH --output={log_file}",
      'echo "engines of launch ${SLURM_JOB_ID}: {launch_id}"',
      "srun {engine_command}",
      "",
    ].join("\n"));
    const cluster = await Cluster.start({
      profile: "batchcode", n: 2, timeout: 60_000,
      engines: { launcher: "batch", templateFile: template, queue: suite.slurm.partition, time: "5" },
    });
    let jobId: string;
    try {
      assert.equal(cluster.jobs.length, 1);
      jobId = cluster.jobs[0]!.jobId;
      assert.equal(cluster.jobs[0]!.launcher, "slurm");
      assert.deepEqual(suite.slurm.queue(), [jobId]);
      const client = await cluster.connect({ activate: false });
      const engines = client.engines;
      client.close();
      assert.deepEqual(engines.map((e) => [e.metadata?.launcher, e.metadata?.job]), [["slurm", jobId], ["slurm", jobId]]);
    } finally {
      await cluster.stop();
    }
    assert.deepEqual(suite.slurm.queue(), []);
    assert.deepEqual(leftovers(), []);
  });

  test("bad batch input: an unknown placeholder and a refused submission are clear errors, and nothing is left", { timeout: 120_000 }, async () => {
    const template = join(privateRoot(), "typo.sbatch");
    writeFileSync(template, "#!/bin/sh\n#SBATCH --ntasks={tasks}\nsrun {engine_command}\n");
    await assert.rejects(
      Cluster.start({ profile: "batchbad", n: 1, engines: { launcher: "batch", templateFile: template } }),
      /unknown placeholder \{tasks\} in the batch template; known: \{n\}/,
    );
    await assert.rejects(
      Cluster.start({ profile: "batchbad", n: 1, engines: { launcher: "slurm", partition: "no-such-partition" } }),
      /submitting the engines' job failed \(`sbatch --parsable --partition=no-such-partition .*`, exit 1\): [\s\S]*[Ii]nvalid partition/,
    );
    assert.deepEqual(suite.slurm.queue(), []);
    const listed = await tspcluster("list");
    assert.doesNotMatch(listed.stdout, /batchbad/);
  });
});
