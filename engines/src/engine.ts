import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import * as zmq from "zeromq";
import { MessageSender, Signer, createLogger, engineConnectionFile, receiveMessages, url, type EngineConnectionInfo } from "@tsparallel/protocol";
import { waitForConnectionFile } from "./connection.js";
import { uncaptured } from "./engine-log.js";
import { EngineSession } from "./engine-session.js";
import { Heartbeat } from "./heartbeat.js";
import { Interrupter } from "./interrupt.js";
import { Namespace } from "./namespace.js";
import type { OutputCapture } from "./output-capture.js";
import { register, type Registration } from "./registration.js";

export interface EngineOptions {
  /** The engine connection file the controller wrote. */
  connectionFile?: string;
  /** Used when connectionFile is absent: that profile's engine connection file. */
  profile?: string;
  /** Connection details given directly instead of a file. */
  connection?: EngineConnectionInfo;
  /** How long to wait for a registration reply (default 10 s). */
  registrationTimeoutMs?: number;
  /** How long to wait for the connection file to appear (default 10 s). */
  connectionFileWaitMs?: number;
}

export interface RunningEngine {
  readonly id: number;
  readonly uuid: string;
  /** Settles with the exit code the engine process should end with (0 after shutdown_request). */
  readonly exited: Promise<number>;
  /** Unregisters and stops. */
  shutdown(reason?: string): Promise<number>;
}

const version = (createRequire(import.meta.url)("../package.json") as { version: string }).version;

/** Connects, registers with the controller and serves tasks until shutdown. */
export async function startEngine(options: EngineOptions = {}): Promise<RunningEngine> {
  // Taken before any user code can run, so `clear` knows what the builtins are.
  let engineId = -1;
  const namespace = new Namespace(() => engineId);
  const info = options.connection ?? (await waitForConnectionFile(options.connectionFile ?? engineConnectionFile(options.profile), options.connectionFileWaitMs));
  const uuid = randomUUID();
  let capture: OutputCapture | null = null;
  const log = uncaptured(createLogger("engine"), () => capture);
  // From the start: SIGINT must never kill an engine, not even one still registering.
  const interrupter = new Interrupter(() => log.info("SIGINT while idle: nothing to interrupt"));
  interrupter.install();
  const engineUrl = url(info, info.ports.engine);
  // Unbounded queues and synchronous sends: a dropped result never comes back, and a send per result is the hot path.
  const socket = new zmq.Dealer({ routingId: uuid, linger: 1000, sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout: 0 });
  socket.connect(engineUrl);
  const signer = new Signer(info.key);
  const sender = new MessageSender(socket, signer, uuid, log);
  const messages = receiveMessages(socket, signer, log);
  // Ready before registering, so the first beat follows the registration reply at once.
  const heartbeat = new Heartbeat();
  let registration: Registration;
  try {
    await heartbeat.prepare({ url: url(info, info.ports.heartbeat), key: info.key, uuid });
    registration = await register(messages, sender, { uuid, version, url: engineUrl, timeoutMs: options.registrationTimeoutMs }, log);
  } catch (err) {
    await heartbeat.stop();
    interrupter.uninstall();
    sender.close();
    socket.linger = 0;
    socket.close();
    throw err;
  }
  engineId = registration.id;
  const session = new EngineSession(info, uuid, registration, socket, sender, namespace, interrupter, heartbeat);
  capture = session.capture;
  session.start(messages);
  return session;
}
