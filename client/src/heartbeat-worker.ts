/**
 * The client's heartbeat thread: `client_heartbeat` every CLIENT_HEARTBEAT_MS on a socket of its own,
 * so a client whose main thread is busy in synchronous code still counts as alive. Beats that cannot
 * go out (the controller is away) are dropped, never queued without bound.
 */
import { parentPort, workerData } from "node:worker_threads";
import * as zmq from "zeromq";
import { CLIENT_HEARTBEAT_MS, MessageSender, Signer, type Logger } from "@tsparallel/protocol";

export interface ClientHeartbeatConfig {
  url: string;
  key: string;
  /** The client's session: the controller knows the client by it. */
  session: string;
  /** One Int32, set to 1 once the socket is closed (the main thread may wait for that on exit). */
  closed: SharedArrayBuffer;
}

const config = workerData as ClientHeartbeatConfig;
const closed = new Int32Array(config.closed);
const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const socket = new zmq.Dealer({ linger: 0, sendHighWaterMark: 4, sendTimeout: 0 });
socket.connect(config.url);
const sender = new MessageSender(socket, new Signer(config.key), config.session, quiet);
const beat = (): void => void sender.send("client_heartbeat", { time: Date.now() });
beat();
const beating = setInterval(beat, CLIENT_HEARTBEAT_MS);

parentPort?.on("message", (message: { type: string }) => {
  if (message.type !== "stop") return;
  clearInterval(beating);
  sender.close();
  socket.close();
  Atomics.store(closed, 0, 1);
  Atomics.notify(closed, 0);
  parentPort?.close();
});
