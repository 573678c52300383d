/**
 * The README's first example as a script: `await using cluster` plus `cluster.connect()`. When the block
 * ends, whatever the Cluster created is closed, so Node exits by itself (issue 10, item 11).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { isRunning, privateRoot } from "./support/cluster-fixture.js";

/** A bound on a hang, not a speed claim: the script takes a few seconds; one that never exits is killed. */
const HANG_MS = 90_000;

/** Compiled from tests/src/fixtures/, as a user compiles the README example. */
const SCRIPT = fileURLToPath(new URL("./fixtures/await-using-cluster.js", import.meta.url));

test("a script with `await using cluster` and cluster.connect() exits by itself once the block ends", async () => {
  const root = privateRoot();
  const child = spawn(process.execPath, [SCRIPT], { env: { ...process.env, TSPARALLEL_DIR: root }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk));
  child.stderr.on("data", (chunk: Buffer) => (out += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const hung = new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), HANG_MS).unref());
  const outcome = await Promise.race([exited, hung]);
  if (outcome === "hung") child.kill("SIGKILL");
  const pids: number[] = JSON.parse(/pids (\[.*\])/.exec(out)?.[1] ?? "[]");
  for (const pid of pids) if (isRunning(pid)) process.kill(pid, "SIGKILL");

  assert.notEqual(outcome, "hung", `the script did not exit after its block ended; output:\n${out}`);
  assert.equal(outcome, 0, out);
  assert.match(out, /answer 42/);
  assert.match(out, /block done/);
  assert.equal(pids.length, 2);
  for (const pid of pids) assert.equal(isRunning(pid), false, `cluster process ${pid} is gone`);
});
