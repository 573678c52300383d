/**
 * "Hosts" for the ssh launcher tests: network namespaces on a bridge, each with a real sshd bound to its
 * own address and a throwaway key (no system file is changed: sshd runs with its own config, host key and
 * authorized_keys file). Names and the 10.x.y.0/24 subnet are unique per run, so a parallel run of the
 * same tests cannot collide; `teardown` removes everything and is also run at process exit.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface NetnsHost {
  /** The namespace's name (`ip netns exec <ns>`). */
  ns: string;
  address: string;
  sshPort: number;
}

export interface NetnsHosts {
  hosts: NetnsHost[];
  /** The address of this (root) namespace on the bridge: what the engines reach the controller at. */
  bridgeAddress: string;
  /** ssh options that log in to every host with the throwaway key. */
  sshArgs: string[];
  /** Pids in a namespace whose command line matches. */
  processesIn(ns: string, pattern: RegExp): number[];
  teardown(): void;
}

/** Why these tests cannot run here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (network namespaces and sshd); CI runs as root";
  return undefined;
}

const run = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
const quiet = (cmd: string, ...args: string[]) => {
  try {
    run(cmd, ...args);
  } catch {
    // Teardown of something already gone.
  }
};

/** A 10.x.y.0/24 no interface or route of this machine uses (another run may hold one: pick again). */
function freeSubnet(): string {
  const used = run("ip", "-4", "route", "show", "table", "all") + run("ip", "-4", "addr");
  for (let attempt = 0; attempt < 100; attempt++) {
    const x = 100 + (randomBytes(1)[0]! % 150);
    const y = randomBytes(1)[0]!;
    const prefix = `10.${x}.${y}.`;
    if (!used.includes(prefix)) return prefix;
  }
  throw new Error("no free 10.x.y.0/24 subnet found");
}

function waitForPort(address: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect({ host: address, port });
      socket.once("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd at ${address}:${port} is not listening after ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

export async function createNetnsHosts(count: number): Promise<NetnsHosts> {
  for (const tool of ["/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen"]) {
    if (!existsSync(tool)) throw new Error(`${tool} is missing: run \`bash .ci/setup\` (it installs openssh-server)`);
  }
  const suffix = randomBytes(3).toString("hex");
  const bridge = `tspb${suffix}`;
  const subnet = freeSubnet();
  const dir = mkdtempSync(join(tmpdir(), `tsp-netns-${suffix}-`));
  const namespaces: string[] = [];
  const veths: string[] = [];
  const daemons: ChildProcess[] = [];
  let tornDown = false;
  const teardown = () => {
    if (tornDown) return;
    tornDown = true;
    for (const daemon of daemons) daemon.kill("SIGKILL");
    for (const ns of namespaces) {
      // Anything still running in the namespace (a test that failed half way) goes with it.
      for (const pid of pidsIn(ns)) quiet("kill", "-KILL", String(pid));
      quiet("ip", "netns", "del", ns);
    }
    for (const veth of veths) quiet("ip", "link", "del", veth);
    quiet("ip", "link", "del", bridge);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", teardown);
  try {
    run("ip", "link", "add", bridge, "type", "bridge");
    run("ip", "addr", "add", `${subnet}1/24`, "dev", bridge);
    run("ip", "link", "set", bridge, "up");
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", join(dir, "id"));
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_key"));
    writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "id.pub")), { mode: 0o600 });
    run("mkdir", "-p", "/run/sshd");
    const hosts: NetnsHost[] = [];
    for (let i = 1; i <= count; i++) {
      const ns = `tsph-${suffix}-${i}`;
      const veth = `tspv${suffix}${i}`;
      const address = `${subnet}${10 + i}`;
      run("ip", "netns", "add", ns);
      namespaces.push(ns);
      run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns);
      veths.push(veth);
      run("ip", "link", "set", veth, "master", bridge, "up");
      run("ip", "-n", ns, "addr", "add", `${address}/24`, "dev", "eth0");
      run("ip", "-n", ns, "link", "set", "eth0", "up");
      run("ip", "-n", ns, "link", "set", "lo", "up");
      const config = join(dir, `sshd-${i}.conf`);
      writeFileSync(config, [
        "Port 2222", `ListenAddress ${address}`, `HostKey ${join(dir, "host_key")}`, `PidFile ${join(dir, `sshd-${i}.pid`)}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`, "StrictModes no", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "UsePAM no", "PermitRootLogin prohibit-password", "MaxStartups 100", "",
      ].join("\n"));
      const daemon = spawn("ip", ["netns", "exec", ns, "/usr/sbin/sshd", "-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      daemon.stderr!.on("data", (chunk: Buffer) => {
        if (stderr.length < 8192) stderr += chunk.toString();
      });
      daemons.push(daemon);
      await waitForPort(address, 2222, 10_000).catch((err: Error) => {
        throw new Error(`${err.message}; sshd said: ${stderr.trim()}`);
      });
      hosts.push({ ns, address, sshPort: 2222 });
    }
    const sshArgs = ["-i", join(dir, "id"), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"];
    return {
      hosts,
      bridgeAddress: `${subnet}1`,
      sshArgs,
      processesIn: (ns, pattern) => pidsIn(ns).filter((pid) => pattern.test(commandLine(pid))),
      teardown,
    };
  } catch (err) {
    teardown();
    throw err;
  }
}

function pidsIn(ns: string): number[] {
  try {
    return run("ip", "netns", "pids", ns).split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** The network namespace a process is in (its /proc/PID/ns/net link), to tell hosts apart. */
export function netnsOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}
