import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import * as zmq from "zeromq";
import { MessageSender, Signer, createLogger, curveClientOptions, dataSocketLimits, directFromEnv, engineConnectionFile, receiveMessages, url, type EngineConnectionInfo, type EngineMetadata } from "@tsparallel/protocol";
import { waitForConnectionFile } from "./connection.js";
import { DirectSocket } from "./direct-socket.js";
import { uncaptured } from "./engine-log.js";
import { defineEngineGlobal } from "./engine-globals.js";
import { EngineSession, type SessionIdentity } from "./engine-session.js";
import { LOST_CONTROLLER_MS } from "./heartbeat.js";
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
  /** How long to wait for a registration reply before asking again (default 10 s); the engine gives up after lostControllerMs. */
  registrationTimeoutMs?: number;
  /** How long to wait for the connection file to appear (default 10 s). */
  connectionFileWaitMs?: number;
  /**
   * How long the engine goes on without any controller (registering again with backoff) before it
   * exits (default 5 min). A controller that restarts or stops paused within this time gets it back.
   */
  lostControllerMs?: number;
  /** Told to the controller at registration (launcher, host, MPI rank...) and readable as `tspengine.metadata`. */
  metadata?: EngineMetadata;
  /**
   * Bind a direct socket that clients send DirectView work to without the controller (default: true,
   * unless `TSPARALLEL_DIRECT=0`). Without it every task comes through the controller.
   */
  direct?: boolean;
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
  const lostControllerMs = options.lostControllerMs ?? LOST_CONTROLLER_MS;
  if (!(lostControllerMs > 0)) throw new RangeError(`lostControllerMs must be a positive number of milliseconds, got ${lostControllerMs}`);
  const metadata = options.metadata ?? {};
  // The uuid is fixed for the life of the process: the controller knows the engine by it when it registers again.
  const identity: SessionIdentity = { uuid: randomUUID(), version, id: -1, lostControllerMs, metadata };
  const { uuid } = identity;
  // Taken before any user code can run, so `clear` knows what the builtins are.
  if (!("tspengine" in globalThis)) defineEngineGlobal(() => identity.id, metadata);
  const namespace = new Namespace(() => identity.id);
  const info = options.connection ?? (await waitForConnectionFile(options.connectionFile ?? engineConnectionFile(options.profile), options.connectionFileWaitMs));
  let capture: OutputCapture | null = null;
  const log = uncaptured(createLogger("engine"), () => capture);
  // From the start: SIGINT must never kill an engine, not even one still registering (the watchdog, held from here on, absorbs it).
  const interrupter = new Interrupter(() => log.info("SIGINT while idle: nothing to interrupt"));
  interrupter.install();
  const engineUrl = url(info, info.ports.engine);
  // Unbounded queues and synchronous sends: a dropped result never comes back, and a send per result is the hot path.
  const socket = new zmq.Dealer({ routingId: uuid, linger: 1000, sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout: 0, ...dataSocketLimits(), ...curveClientOptions(info) });
  socket.connect(engineUrl);
  const signer = new Signer(info.key);
  const sender = new MessageSender(socket, signer, uuid, log, "compact");
  const messages = receiveMessages(socket, signer, log);
  const direct = (options.direct ?? directFromEnv()) ? await DirectSocket.open(info, uuid, log) : undefined;
  identity.direct = direct?.address;
  let registration: Registration;
  try {
    registration = await register(messages, sender, { uuid, version, url: engineUrl, timeoutMs: options.registrationTimeoutMs, giveUpMs: lostControllerMs, metadata, direct: direct?.address }, log);
  } catch (err) {
    direct?.close();
    interrupter.uninstall();
    sender.close();
    socket.linger = 0;
    socket.close();
    throw err;
  }
  const session = new EngineSession(info, identity, registration, socket, sender, namespace, interrupter, direct);
  capture = session.capture;
  session.start(messages);
  return session;
}
