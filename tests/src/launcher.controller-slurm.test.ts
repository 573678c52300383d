/**
 * The controller in its own Slurm job, against a real single-node Slurm (slurmctld + slurmd + munge,
 * private to this run): the job's controller writes its connection files in the profile directory (the
 * shared file system a Slurm site has; here every process shares it), its ready line in the job's output,
 * and the client and engines (local or in a second job) connect. `stop` leaves squeue empty and no
 * process of the cluster running. Skipped (with the reason) unless root.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { Client, Cluster } from "tsparallel";
import { privateRoot } from "./support/cluster-fixture.js";
import { repoRoot } from "./support/paths.js";
import { slurmUnavailable } from "./support/slurm-cluster.js";
import { useSlurm } from "./support/slurm-suite.js";
import { processesOfProfile } from "./support/proc-scan.js";

const processesOf = processesOfProfile;

/** What the process was started with in its environment (read from /proc: everything runs on this one node). */
function environOf(pid: number, name: string): string | undefined {
  const line = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1);
}

const execFileP = promisify(execFile);
const skip = slurmUnavailable();

describe("controller in a Slurm job, on a real single-node Slurm", { skip }, () => {
  const suite = useSlurm(["ctlslurm", "ctlslurmcode", "ctlslurmexit"]);
  const tspcluster = suite.tspcluster;

  test("tspcluster start --controller slurm --engines slurm: two jobs; list says where the controller runs; stop leaves squeue empty", { timeout: 180_000 }, async (t) => {
    t.after(() => tspcluster("stop", "--profile", "ctlslurm"));
    const start = await tspcluster(
      "start", "--profile", "ctlslurm", "--daemonize", "--controller", "slurm", "--engines", "slurm", "-n", "2",
      "--partition", suite.slurm.partition, "--time", "10", "--slurm-args", "--overcommit", "--controller-slurm-args", "--job-name=tsp-test-controller",
    );
    assert.equal(start.code, 0, start.stderr + start.stdout);
    const m = new RegExp(`controller pid (\\d+) on ${hostname()} \\(slurm job (\\d+)\\), 2 engines \\(slurm job (\\d+)\\)`).exec(start.stdout);
    assert.ok(m, start.stdout);
    const [, pidText, controllerJob, enginesJob] = m;
    const pid = Number(pidText);
    assert.deepEqual(suite.slurm.queue().sort(), [controllerJob, enginesJob].sort());
    // The controller process is the job's (Slurm set its job id in its environment), not a child of ours.
    assert.deepEqual(processesOf("tspcontroller", "ctlslurm"), [pid]);
    assert.equal(environOf(pid, "SLURM_JOB_ID"), controllerJob);
    assert.equal(environOf(pid, "SLURM_JOB_NAME"), "tsp-test-controller");

    const listed = await tspcluster("list");
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^ctlslurm\\t''\\tcontroller pid ${pid} on ${hostname()} \\(slurm job ${controllerJob}\\)\\t0:\\w+\\(pid \\d+\\) 1:\\w+\\(pid \\d+\\)\\tsupervisor pid \\d+, 0 restarts$`, "m"));

    const client = await Client.connect({ profile: "ctlslurm", activate: false, timeout: 10_000 });
    try {
      const jobs = await client.directView().apply(() => process.env.SLURM_JOB_ID);
      assert.deepEqual(jobs, [enginesJob, enginesJob]);
    } finally {
      client.close();
    }

    const stop = await tspcluster("stop", "--profile", "ctlslurm");
    assert.equal(stop.code, 0, stop.stderr);
    assert.deepEqual(suite.slurm.queue(), []);
    assert.deepEqual(processesOf("tspcontroller", "ctlslurm"), []);
    assert.deepEqual(processesOf("tspengine", "ctlslurm"), []);
  });

  test("Cluster.start({ controller: { launcher: 'slurm' } }) with local engines; stop ends the job even when the controller ignores its shutdown", { timeout: 120_000 }, async () => {
    const cluster = await Cluster.start({ profile: "ctlslurmcode", n: 2, timeout: 60_000, controller: { launcher: "slurm", partition: suite.slurm.partition, time: "5" } });
    let pid: number;
    try {
      const job = cluster.controller.job!;
      assert.equal(job.launcher, "slurm");
      assert.deepEqual(suite.slurm.queue(), [job.jobId]);
      pid = cluster.controller.pid;
      assert.equal(environOf(pid, "SLURM_JOB_ID"), job.jobId);
      const client = await cluster.connect({ activate: false });
      try {
        assert.deepEqual(await client.directView().apply((x: number) => x + 1, 41), [42, 42]);
      } finally {
        client.close();
      }
      assert.equal(processesOf("tspengine", "ctlslurmcode").length, 2);
      // A controller that cannot answer: stop's shutdown request goes unanswered, the job is cancelled.
      process.kill(pid, "SIGSTOP");
    } finally {
      await cluster.stop();
    }
    assert.deepEqual(suite.slurm.queue(), []);
    assert.deepEqual(processesOf("tspcontroller", "ctlslurmcode"), []);
    assert.deepEqual(processesOf("tspengine", "ctlslurmcode"), []);
  });

  test("a script that ends without stop(): its controller's job is cancelled", { timeout: 120_000 }, async () => {
    const script = [
      `import { Cluster } from ${JSON.stringify(join(repoRoot, "client/dist/index.js"))};`,
      `const cluster = await Cluster.start({ profile: "ctlslurmexit", n: 1, timeout: 60_000, controller: { launcher: "slurm", partition: ${JSON.stringify(suite.slurm.partition)} } });`,
      `console.log(cluster.controller.job.jobId);`,
      `process.exit(0);`,
    ].join("\n");
    const { stdout } = await execFileP(process.execPath, ["--input-type=module", "-e", script], { env: { ...suite.slurm.env, TSPARALLEL_DIR: privateRoot() }, timeout: 90_000 });
    assert.match(stdout.trim(), /^\d+$/);
    assert.deepEqual(suite.slurm.queue(), []);
    assert.deepEqual(processesOf("tspcontroller", "ctlslurmexit"), []);
    // Its local engine got SIGTERM as the script exited (a launcher's children die with the process): give it a moment.
    for (let i = 0; i < 50 && processesOf("tspengine", "ctlslurmexit").length; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(processesOf("tspengine", "ctlslurmexit"), []);
  });

  test("a controller job Slurm refuses: a clear error, nothing queued or running", { timeout: 60_000 }, async () => {
    await assert.rejects(
      Cluster.start({ profile: "ctlslurmbad", n: 1, controller: { launcher: "slurm", partition: "no-such-partition" } }),
      /submitting the controller's job failed \(`sbatch --parsable --job-name=tspcontroller-ctlslurmbad .*--partition=no-such-partition .*`, exit 1\): [\s\S]*[Ii]nvalid partition/,
    );
    assert.deepEqual(suite.slurm.queue(), []);
    assert.deepEqual(processesOf("tspcontroller", "ctlslurmbad"), []);
    const listed = await tspcluster("list");
    assert.doesNotMatch(listed.stdout, /ctlslurmbad/);
  });
});
