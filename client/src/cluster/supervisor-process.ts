import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { logDir, securityDir } from "@tsparallel/protocol";
import type { ResolvedClusterOptions } from "./cluster.js";
import type { ControllerLauncherSpec } from "./controller-launchers.js";
import type { EngineLauncherSpec } from "./engine-launchers.js";
import type { RestartPolicy } from "./restart-policy.js";

/** What `tspcluster start --daemonize` hands its supervisor process (JSON on its command line). */
export interface SupervisorProcessOptions {
  profile: string;
  clusterId?: string;
  n?: number;
  ip?: string;
  location?: string;
  controllerArgs?: string[];
  engineArgs?: string[];
  /** Plain data, so the supervisor process makes the same engine and controller launchers. */
  engines?: EngineLauncherSpec;
  controller?: ControllerLauncherSpec;
  timeout?: number;
  supervise: RestartPolicy;
}

/** A request on the supervisor's control socket (one JSON line each way). */
export interface SupervisorRequest {
  op: "add_engines";
  n: number;
  timeout: number;
}

export type SupervisorReply = { ok: true; ids: number[] } | { ok: false; error: string };

export function supervisorLogFile(profile: string): string {
  return join(logDir(profile), "supervisor.log");
}

/** Linux limits a socket path to 107 bytes: beyond that the supervisor has no control socket. */
export function controlSocketPath(profile: string, clusterId = ""): string | undefined {
  const path = join(securityDir(profile), clusterId ? `supervisor-${clusterId}.sock` : "supervisor.sock");
  return Buffer.byteLength(path) <= 107 ? path : undefined;
}

const mainScript = fileURLToPath(new URL("./supervisor-main.js", import.meta.url));

/**
 * Starts a detached supervisor process, which starts the cluster and keeps it running; resolves once
 * the cluster is ready (its state is then in cluster.json), rejects with the supervisor's reason.
 */
export async function startSupervisorProcess(options: ResolvedClusterOptions & { supervise: RestartPolicy }): Promise<void> {
  const forwarded: SupervisorProcessOptions = {
    profile: options.profile, clusterId: options.clusterId, n: options.n, ip: options.ip, location: options.location, controllerArgs: options.controllerArgs,
    engineArgs: options.engineArgs, engines: options.engines, controller: options.controller, timeout: options.timeout, supervise: options.supervise,
  };
  const log = openSync(supervisorLogFile(options.profile), "a", 0o600);
  const child = spawn(process.execPath, [mainScript, "--profile", options.profile, "--options", JSON.stringify(forwarded)], {
    detached: true, stdio: ["ignore", "pipe", log],
  });
  closeSync(log);
  child.unref();
  const waitMs = 2 * (options.timeout ?? 30_000) + 10_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      const done = (err?: Error) => {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        lines.close();
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        child.kill("SIGTERM");
        done(new Error(`the supervisor did not report the cluster ready within ${waitMs} ms (log: ${supervisorLogFile(options.profile)})`));
      }, waitMs);
      child.once("exit", (code, signal) => done(new Error(`the supervisor exited (${signal ?? `code ${code}`}) before the cluster was ready (log: ${supervisorLogFile(options.profile)})`)));
      lines.on("line", (line) => {
        let parsed: { ready?: boolean; error?: string };
        try {
          parsed = JSON.parse(line) as typeof parsed;
        } catch {
          return;
        }
        if (parsed.ready) done();
        else if (parsed.error) done(new Error(parsed.error));
      });
    });
  } finally {
    // Nothing else is read; the supervisor must not keep this process alive.
    child.stdout!.destroy();
  }
}

/** One request to a supervisor process over its control socket. */
export function askSupervisor(socketPath: string, request: SupervisorRequest): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const timer = setTimeout(() => fail(new Error(`the supervisor did not answer within ${request.timeout + 10_000} ms`)), request.timeout + 10_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once("error", (err) => fail(new Error(`cannot reach the supervisor at ${socketPath}: ${err.message}`)));
    socket.write(JSON.stringify(request) + "\n");
    createInterface({ input: socket }).once("line", (line) => {
      clearTimeout(timer);
      socket.destroy();
      let reply: SupervisorReply;
      try {
        reply = JSON.parse(line) as SupervisorReply;
      } catch {
        return reject(new Error(`the supervisor answered something that is not JSON: ${line.slice(0, 200)}`));
      }
      if (reply.ok) resolve(reply.ids);
      else reject(new Error(reply.error));
    });
  });
}
