// Opt-in probe, not a test (the figures in SECURITY.md "Connection caps"): a controller limited to 1,024
// descriptors, flooded with idle handshaken DEALERs from 8 loopback addresses on its client port.
// Usage: node tests/probes/fd-limit-probe.mjs <repository root, e.g. . or another checkout> [flood, default 1600]
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
const root = process.argv[2];
const FLOOD = Number(process.argv[3] ?? 1600);
const FD_LIMIT = 1024;
process.env.TSPARALLEL_DIR = mkdtempSync(join(tmpdir(), "fdprobe-"));
const zmq = await import(join(root, "node_modules/zeromq/lib/index.js"));
zmq.context.maxSockets = 8192;
const { Client } = await import(join(root, "client/dist/index.js"));
const { readConnectionFile, clientConnectionFile, engineConnectionFile, curveClientOptions } = await import(join(root, "protocol/dist/index.js"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const profile = "fdprobe";
const controller = spawn("prlimit", [`--nofile=${FD_LIMIT}:${FD_LIMIT}`, process.execPath, join(root, "controller/bin/tspcontroller.js"), "--profile", profile, "--db", "memory"], { stdio: ["ignore", "pipe", "pipe"] });
let stderr = "";
controller.stderr.on("data", (c) => (stderr += c));
await new Promise((res) => createInterface({ input: controller.stdout }).once("line", res));
const engine = spawn(process.execPath, [join(root, "engines/bin/tspengine.js"), "--file", engineConnectionFile(profile)], { stdio: "ignore" });
const first = await Client.connect({ profile, activate: false });
await first.waitForEngines(1, { timeout: 30000 });
const info = readConnectionFile(clientConnectionFile(profile), "client");
const fds = () => readdirSync(`/proc/${controller.pid}/fd`).length;
console.log(`controller fds before: ${fds()}`);
let handshaken = 0, refused = 0, acceptFail = 0;
const dealers = [];
const t0 = Date.now();
for (let i = 0; i < FLOOD; i++) {
  const d = new zmq.Dealer({ linger: 0, ...curveClientOptions(info) });
  dealers.push(d);
  let done = false;
  d.events.on("handshake", () => { if (!done) handshaken++; done = true; });
  d.events.on("handshake:error:auth", () => { if (!done) refused++; done = true; });
  d.connect(`tcp://127.0.0.${2 + (i % 8)}:0;${info.ip}:${info.ports.client}`);
}
for (let i = 0; i < 100 && handshaken + refused < FLOOD; i++) await sleep(100);
console.log(`flood ${FLOOD}: handshaken ${handshaken}, refused ${refused}, unsettled ${FLOOD - handshaken - refused} after ${Date.now() - t0} ms; controller fds ${fds()}`);
let r = await first.directView().apply(() => 1).get(30000).then((v) => `ok ${v}`, (e) => `FAILED ${e.message}`);
console.log(`existing client apply: ${r}`);
const began = Date.now();
r = await Client.connect({ profile, activate: false, timeout: 15000 }).then(async (c) => { const v = await c.directView().apply(() => 2).get(15000).catch((e) => e.message); c.close(); return `connected, apply ${v}`; }, (e) => `${e.name}: ${e.message.slice(0, 160)}`);
console.log(`new client (${Date.now() - began} ms): ${r}`);
const status = await first.status().catch((e) => ({ error: e.message }));
console.log(`client port: ${JSON.stringify(status.connections?.client)}`);
console.log(`controller alive: ${controller.exitCode === null}`);
console.log(`log lines mentioning cap/accept/limit:\n${stderr.split("\n").filter((l) => /cap|accept|open-file|limit/.test(l)).slice(0, 6).join("\n")}`);
for (const d of dealers) d.close();
first.close();
engine.kill("SIGKILL");
controller.kill("SIGKILL");
await sleep(200);
rmSync(process.env.TSPARALLEL_DIR, { recursive: true, force: true });
process.exit(0);
