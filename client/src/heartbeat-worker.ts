/**
 * The heartbeat thread of a client process: `client_heartbeat` every CLIENT_HEARTBEAT_MS for each
 * open client, each on a socket of its own, so a client whose main thread is busy in synchronous code
 * still counts as alive. One thread serves every client of the process and lives until the process
 * exits (ZeroMQ does not survive threads that come and go). Beats that cannot go out (the controller
 * is away) are dropped, never queued without bound.
 */
import { parentPort, workerData } from "node:worker_threads";
import * as zmq from "zeromq";
import { CLIENT_HEARTBEAT_MS, MessageSender, Signer, heartbeatSocketLimits, type CurveClientOptions, type Logger } from "@tsparallel/protocol";

export interface ClientHeartbeatConfig {
  /** One Int32, set to 1 once every socket is closed (the main thread waits for that on exit). */
  closed: SharedArrayBuffer;
}

export type ClientHeartbeatCommand =
  | { type: "add"; session: string; url: string; key: string; curve: CurveClientOptions }
  | { type: "remove"; session: string }
  | { type: "exit" };

const closed = new Int32Array((workerData as ClientHeartbeatConfig).closed);
const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const beating = new Map<string, { socket: zmq.Dealer; sender: MessageSender }>();

function beat(sender: MessageSender): void {
  sender.send("client_heartbeat", { time: Date.now() });
}

const timer = setInterval(() => {
  for (const { sender } of beating.values()) beat(sender);
}, CLIENT_HEARTBEAT_MS);

function remove(session: string): void {
  const entry = beating.get(session);
  if (!entry) return;
  beating.delete(session);
  entry.sender.close();
  entry.socket.close();
}

parentPort?.on("message", (command: ClientHeartbeatCommand) => {
  if (command.type === "add") {
    if (beating.has(command.session)) return;
    const socket = new zmq.Dealer({ linger: 0, sendHighWaterMark: 4, sendTimeout: 0, ...heartbeatSocketLimits(), ...command.curve });
    socket.connect(command.url);
    const sender = new MessageSender(socket, new Signer(command.key), command.session, quiet, "compact");
    beating.set(command.session, { socket, sender });
    beat(sender);
  } else if (command.type === "remove") {
    remove(command.session);
  } else {
    clearInterval(timer);
    for (const session of [...beating.keys()]) remove(session);
    Atomics.store(closed, 0, 1);
    Atomics.notify(closed, 0);
  }
});
