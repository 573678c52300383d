/**
 * The supervisor process of a daemonized cluster (started by `tspcluster start --daemonize`): it starts
 * the controller and engines as its children, restarts those that crash, serves `engines add` on its
 * control socket, and on SIGTERM (what `tspcluster stop` sends first) stops the cluster and exits.
 */
import { rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { Cluster } from "./cluster.js";
import { restartPolicy } from "./restart-policy.js";
import type { SupervisorProcessOptions, SupervisorReply, SupervisorRequest } from "./supervisor-process.js";
import { controlSocketPath } from "./supervisor-process.js";

/** A request line longer than this is not one of ours: the connection is dropped. */
const MAX_REQUEST_BYTES = 64 * 1024;

function argument(name: string): string {
  const index = process.argv.indexOf(name);
  const value = index < 0 ? undefined : process.argv[index + 1];
  if (value === undefined) throw new Error(`missing ${name}`);
  return value;
}

function reply(socket: Socket, answer: SupervisorReply): void {
  socket.end(JSON.stringify(answer) + "\n");
}

function serve(cluster: () => Cluster | undefined, path: string): Promise<Server> {
  const server = createServer((socket) => {
    socket.on("error", () => undefined);
    let received = 0;
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > MAX_REQUEST_BYTES) socket.destroy();
    });
    createInterface({ input: socket }).once("line", (line) => {
      let request: Partial<SupervisorRequest>;
      try {
        request = JSON.parse(line) as Partial<SupervisorRequest>;
      } catch {
        return reply(socket, { ok: false, error: "the request is not JSON" });
      }
      const running = cluster();
      if (!running) return reply(socket, { ok: false, error: "the cluster is not running" });
      if (request.op !== "add_engines" || !Number.isInteger(request.n) || (request.n ?? 0) < 1) {
        return reply(socket, { ok: false, error: `unknown request (expected {"op":"add_engines","n":<positive integer>})` });
      }
      const timeout = typeof request.timeout === "number" && request.timeout > 0 ? request.timeout : 30_000;
      running.addEngines(request.n!, { timeout }).then(
        (ids) => reply(socket, { ok: true, ids }),
        (err: Error) => reply(socket, { ok: false, error: err.message }),
      );
    });
  });
  // Left by a supervisor that was killed: no cluster runs in this profile, or we would not be here.
  rmSync(path, { force: true });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve(server));
  });
}

const out = (value: object) => process.stdout.write(JSON.stringify(value) + "\n");

let cluster: Cluster | undefined;
let server: Server | undefined;
let socketPath: string | undefined;
// Detached, so no terminal sends it; SIGHUP from anywhere else must not end the cluster.
process.on("SIGHUP", () => undefined);
process.stdout.on("error", () => undefined);
// A supervisor that dies of a bug leaves the cluster unsupervised: log it (to supervisor.log) and go on.
for (const event of ["uncaughtException", "unhandledRejection"] as const) {
  process.on(event, (err) => process.stderr.write(`${new Date().toISOString()} supervisor: ${event}: ${(err as Error)?.stack ?? String(err)}\n`));
}
try {
  const options = JSON.parse(argument("--options")) as SupervisorProcessOptions;
  const policy = restartPolicy(options.supervise);
  socketPath = controlSocketPath(options.profile, options.clusterId);
  if (socketPath) server = await serve(() => cluster, socketPath);
  cluster = await Cluster._startSupervisedHere({ ...options, profile: options.profile }, policy, socketPath);
} catch (err) {
  out({ ready: false, error: (err as Error).message });
  server?.close();
  if (socketPath) rmSync(socketPath, { force: true });
  process.exit(1);
}

let stopping: Promise<void> | undefined;
const stop = (why: string) =>
  (stopping ??= (async () => {
    process.stderr.write(`${new Date().toISOString()} supervisor: stopping the cluster (${why})\n`);
    await cluster!.stop();
    server?.close();
    if (socketPath) rmSync(socketPath, { force: true });
    process.exit(0);
  })());
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
void cluster._supervisionEnded?.then((reason) => stop(reason));
// Nothing else keeps the loop alive when there is no control socket.
if (!server) setInterval(() => undefined, 1 << 30);
out({ ready: true, pid: process.pid });
process.stdout.end();
