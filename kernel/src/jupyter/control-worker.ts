/**
 * The kernel's second thread: it answers heartbeats and owns the control socket, so both keep
 * working while the main thread runs a long synchronous cell. An interrupt_request is answered
 * here and turned into SIGINT, which stops synchronous code (vm breakOnSigint) as well as
 * awaiting code. Other control requests go to the main thread. Log lines go straight to fd 2:
 * process.stderr would pass through the busy (and captured) main thread.
 */
import { writeSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import * as zmq from "zeromq";
import { decodeMessage, encodeMessage, MessageError, MessageSender, newHeader, Signer, type Logger } from "@tsparallel/protocol";

export interface ControlWorkerConfig {
  controlUrl: string;
  heartbeatUrl: string;
  key: string;
  session: string;
}

export type ControlWorkerEvent = { type: "ready" } | { type: "failed"; message: string } | { type: "request"; frames: Uint8Array[] };
export type ControlWorkerCommand = { type: "send"; frames: Uint8Array[] } | { type: "stop" };

const config = workerData as ControlWorkerConfig;
const line = (level: string) => (message: string) => {
  try {
    writeSync(2, `${new Date().toISOString()} [kernel control] ${level} ${message}\n`);
  } catch {
    // Nothing else to tell it to.
  }
};
const log: Logger = { debug: () => {}, info: line("INFO"), warn: line("WARN"), error: line("ERROR") };
const post = (event: ControlWorkerEvent): void => parentPort?.postMessage(event);
const signer = new Signer(config.key);
const heartbeat = new zmq.Reply({ linger: 0 });
const control = new zmq.Router({ linger: 0 });
const sender = new MessageSender(control, signer, config.session, log);

async function echoHeartbeats(): Promise<void> {
  try {
    for await (const frames of heartbeat) await heartbeat.send(frames);
  } catch (err) {
    if (!heartbeat.closed) log.warn(`heartbeat loop ended: ${(err as Error).message}`);
  }
}

async function serveControl(): Promise<void> {
  try {
    for await (const frames of control) {
      let msg;
      try {
        msg = decodeMessage(signer, frames);
      } catch (err) {
        if (err instanceof MessageError) {
          log.warn(`dropped a bad control message (${err.message})`);
          continue;
        }
        throw err;
      }
      if (msg.header.msg_type === "interrupt_request") {
        const header = newHeader("interrupt_reply", config.session, "kernel");
        sender.sendFrames(encodeMessage(signer, { identities: msg.identities, header, parent_header: msg.header, content: { status: "ok" } }));
        process.kill(process.pid, "SIGINT");
        continue;
      }
      post({ type: "request", frames });
    }
  } catch (err) {
    if (!control.closed) log.warn(`control loop ended: ${(err as Error).message}`);
  }
}

async function start(): Promise<void> {
  try {
    await heartbeat.bind(config.heartbeatUrl);
    await control.bind(config.controlUrl);
  } catch (err) {
    post({ type: "failed", message: `cannot bind the control or heartbeat socket: ${(err as Error).message}` });
    return;
  }
  void echoHeartbeats();
  void serveControl();
  post({ type: "ready" });
}

parentPort?.on("message", (command: ControlWorkerCommand) => {
  if (command.type === "send") sender.sendFrames(command.frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength)));
  else if (command.type === "stop") {
    void sender.flushed().then(() => {
      sender.close();
      heartbeat.close();
      control.close();
      parentPort?.close();
    });
  }
});

void start();
