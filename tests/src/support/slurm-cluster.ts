/**
 * A real single-node Slurm (slurmctld + slurmd, munge for authentication) private to one test run: its
 * own config (SLURM_CONF), munge socket, ports, state and spool directories under a temp dir, so it
 * touches no system file and cannot meet another run. The daemons run in the foreground as children and
 * `teardown` (also at process exit) kills them.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, hostname, totalmem } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.js";

export interface SlurmCluster {
  /** Environment for anything that talks to this Slurm (sbatch, squeue, scancel, the launcher). */
  env: NodeJS.ProcessEnv;
  partition: string;
  /** squeue's job ids, as text lines (empty when nothing is queued or running). */
  queue(): string[];
  teardown(): void;
}

export function slurmUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (slurmd and munged); CI runs as root";
  return undefined;
}


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function idOf(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync("id", ["-u", user]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", user]).toString().trim());
  return { uid, gid };
}

export async function startSlurm(): Promise<SlurmCluster> {
  for (const tool of ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/bin/sbatch"]) {
    if (!existsSync(tool)) throw new Error(`${tool} is missing: run \`bash .ci/setup\` (it installs slurm-wlm and munge)`);
  }
  const suffix = randomBytes(3).toString("hex");
  // World-traversable (munged runs as the munge user and must reach its directory), sticky like /tmp.
  const dir = mkdtempSync(join("/tmp", `tsp-slurm-${suffix}-`));
  chmodSync(dir, 0o1755);
  const env: NodeJS.ProcessEnv = { ...process.env, SLURM_CONF: join(dir, "slurm.conf") };
  const daemons: ChildProcess[] = [];
  const logs = new Map<string, string>();
  let tornDown = false;
  const teardown = () => {
    if (tornDown) return;
    tornDown = true;
    // Jobs a failed test left (their slurmstepd outlives slurmd): cancelled while slurmctld still answers.
    try {
      execFileSync("scancel", ["--full", "--user=root"], { env, stdio: "ignore", timeout: 10_000 });
      for (let i = 0; i < 50; i++) {
        const left = execFileSync("squeue", ["--noheader"], { env, stdio: ["ignore", "pipe", "ignore"], timeout: 5000 }).toString().trim();
        if (!left) break;
        execFileSync("sleep", ["0.2"]);
      }
    } catch {
      // slurmctld already gone
    }
    for (const daemon of daemons.reverse()) daemon.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", teardown);
  const daemon = (name: string, cmd: string, args: string[], user?: { uid: number; gid: number }) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"], ...user });
    let out = "";
    const keep = (chunk: Buffer) => {
      if (out.length < 16_384) out += chunk.toString();
      logs.set(name, out);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    daemons.push(child);
    return child;
  };
  const why = () => [...logs].map(([name, text]) => `--- ${name} ---\n${text.trim()}`).join("\n") +
    ["slurmctld.log", "slurmd.log"].map((f) => {
      try {
        return `\n--- ${f} ---\n${readFileSync(join(dir, f), "utf8").trim().split("\n").slice(-20).join("\n")}`;
      } catch {
        return "";
      }
    }).join("");
  try {
    const munge = idOf("munge");
    const mungeDir = join(dir, "munge");
    mkdirSync(mungeDir, { mode: 0o700 });
    writeFileSync(join(mungeDir, "munge.key"), randomBytes(1024), { mode: 0o400 });
    chownSync(mungeDir, munge.uid, munge.gid);
    chownSync(join(mungeDir, "munge.key"), munge.uid, munge.gid);
    const socket = join(mungeDir, "munge.socket");
    // The socket must be reachable by root-run Slurm daemons only; its directory stays munge's.
    chmodSync(mungeDir, 0o711);
    // Started as the munge user directly (not through runuser), so killing the child kills munged.
    daemon("munged", "/usr/sbin/munged", [
      "--foreground", "--force",
      `--socket=${socket}`, `--key-file=${join(mungeDir, "munge.key")}`, `--pid-file=${join(mungeDir, "munged.pid")}`,
      `--log-file=${join(mungeDir, "munged.log")}`, `--seed-file=${join(mungeDir, "munged.seed")}`,
    ], munge);
    for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(100);
    if (!existsSync(socket)) throw new Error(`munged did not start\n${why()}`);

    const node = hostname();
    const cpus = availableParallelism();
    const memory = Math.floor((totalmem() / 1024 / 1024) * 0.8);
    const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
    for (const sub of ["state", "spool"]) mkdirSync(join(dir, sub));
    writeFileSync(env.SLURM_CONF!, [
      `ClusterName=tsp${suffix}`,
      `SlurmctldHost=${node}(127.0.0.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      "AuthType=auth/munge",
      "CredType=cred/munge",
      `AuthInfo=socket=${socket}`,
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "MpiDefault=none",
      "SlurmUser=root",
      "SlurmdUser=root",
      `StateSaveLocation=${join(dir, "state")}`,
      `SlurmdSpoolDir=${join(dir, "spool")}`,
      `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`,
      `SlurmdPidFile=${join(dir, "slurmd.pid")}`,
      `SlurmctldLogFile=${join(dir, "slurmctld.log")}`,
      `SlurmdLogFile=${join(dir, "slurmd.log")}`,
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_Core",
      "ReturnToService=2",
      "JobCompType=jobcomp/none",
      "AccountingStorageType=accounting_storage/none",
      `NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${memory} State=UNKNOWN`,
      `PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8`,
      "",
    ].join("\n"));
    daemon("slurmctld", "/usr/sbin/slurmctld", ["-D", "-i"]);
    daemon("slurmd", "/usr/sbin/slurmd", ["-D"]);
    const deadline = Date.now() + 30_000;
    for (;;) {
      let state = "";
      try {
        state = execFileSync("sinfo", ["--noheader", "--format=%T"], { env, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
      } catch {
        // slurmctld not answering yet
      }
      if (/^(idle|mixed|allocated)/.test(state)) break;
      if (Date.now() > deadline) throw new Error(`the test Slurm's node is not idle after 30 s (sinfo: "${state}")\n${why()}`);
      if (daemons.some((d) => d.exitCode !== null)) throw new Error(`a Slurm daemon exited\n${why()}`);
      await sleep(300);
    }
    return {
      env,
      partition: "debug",
      queue: () => execFileSync("squeue", ["--noheader", "--format=%i"], { env }).toString().split("\n").filter(Boolean),
      teardown,
    };
  } catch (err) {
    teardown();
    throw err;
  }
}
