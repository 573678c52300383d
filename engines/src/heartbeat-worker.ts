/**
 * The engine's heartbeat thread. It runs beside the main thread so that beats keep going (and
 * signals keep arriving) while the main thread is stuck in a long synchronous task. It never writes
 * through process.stderr: that would route through the main thread, which may be busy, and would
 * be captured as task output. Log lines go straight to fd 2.
 */
import { writeSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import * as zmq from "zeromq";
import { MessageSender, Signer, heartbeatSocketLimits, isMessage, receiveMessages, type Logger } from "@tsparallel/protocol";
import type { HeartbeatCommand, HeartbeatConfig, HeartbeatEvent } from "./heartbeat.js";
import { deliverInterrupt } from "./interrupt.js";

const config = workerData as HeartbeatConfig;
let engineId = config.id;
const heapUsed = new Float64Array(config.heapUsed);
const interruptState = new Int32Array(config.interruptState);
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
const threshold = LEVELS[(process.env.TSPARALLEL_LOG_LEVEL ?? "info").toLowerCase() as keyof typeof LEVELS] ?? LEVELS.info;

function line(level: keyof typeof LEVELS, message: string): void {
  if (LEVELS[level] < threshold) return;
  try {
    writeSync(2, `${new Date().toISOString()} [engine ${engineId} heartbeat] ${level.toUpperCase()} ${message}\n`);
  } catch {
    // stderr is gone or full: the heartbeat matters more than the line.
  }
}
const log: Logger = { debug: (m) => line("debug", m), info: (m) => line("info", m), warn: (m) => line("warn", m), error: (m) => line("error", m) };

const post = (event: HeartbeatEvent): void => parentPort?.postMessage(event);
const socket = new zmq.Dealer({ routingId: config.uuid, linger: 0, ...heartbeatSocketLimits(), ...config.curve });
socket.connect(config.url);
const signer = new Signer(config.key);
const sender = new MessageSender(socket, signer, config.uuid, log, "compact");

/** When the controller was last heard (any message); moved forward by the time this thread was stopped. */
let lastEcho = Date.now();
/** Whether a rejoin was asked for since the controller was last heard. */
let silenceReported = false;
let lastCheck = Date.now();
let lastCpu = process.cpuUsage();
let lastBeat = performance.now();
let lost = false;
const lastResorts: NodeJS.Timeout[] = [];

/** CPU over less than this is noise (the first beat comes right at start-up: it read 5,000%); the last figure stands. */
const MIN_CPU_WINDOW_MS = 100;
let cpuPercent = 0;

function beat(): void {
  const cpuNow = process.cpuUsage();
  const beatNow = performance.now();
  if (beatNow - lastBeat >= MIN_CPU_WINDOW_MS) {
    const cpuMicros = cpuNow.user - lastCpu.user + (cpuNow.system - lastCpu.system);
    cpuPercent = Math.round((cpuMicros / ((beatNow - lastBeat) * 1000)) * 1000) / 10;
    lastCpu = cpuNow;
    lastBeat = beatNow;
  }
  sender.send("heartbeat", {
    uuid: config.uuid,
    id: engineId,
    cpu: cpuPercent,
    rss: process.memoryUsage.rss(),
    heapUsed: heapUsed[0] ?? 0,
    time: Date.now(),
  });
}

/**
 * No controller for lostControllerMs: tell the main thread, which exits(1). If the main thread is
 * stuck in a synchronous task it cannot hear that, so SIGINT breaks the task, and SIGTERM ends a
 * thread that still does not answer.
 */
function controllerLost(silentMs: number): void {
  if (lost) return;
  lost = true;
  log.error(`no controller for ${Math.round(silentMs / 1000)} s (--lost-controller-ms ${config.lostControllerMs}): giving up, exiting`);
  post({ type: "lost", reason: `no controller for ${Math.round(silentMs)} ms` });
  lastResorts.push(setTimeout(() => process.kill(process.pid, "SIGINT"), 1000));
  lastResorts.push(setTimeout(() => process.kill(process.pid, "SIGTERM"), 3000));
}

function check(): void {
  const now = Date.now();
  const interval = Math.min(config.heartbeatMs, 1000);
  // This thread did not run for a while (the process was stopped, or starved): that time is not the
  // controller's silence. Its beats go out now, and the answers tell.
  const stalled = now - lastCheck - interval;
  if (stalled > 1000) lastEcho += stalled;
  lastCheck = now;
  const silent = now - lastEcho;
  if (silent > config.lostControllerMs) controllerLost(silent);
  else if (silent > config.rejoinAfterMs && !silenceReported) {
    silenceReported = true;
    log.warn(`no heartbeat echo from the controller for ${Math.round(silent)} ms: registering again`);
    post({ type: "rejoin", reason: `no heartbeat echo for ${Math.round(silent)} ms`, declaredDead: false });
  }
}

async function listen(): Promise<void> {
  for await (const msg of receiveMessages(socket, signer, log)) {
    lastEcho = Date.now();
    silenceReported = false;
    if (isMessage(msg, "reregister_request")) {
      const { reason, heartbeatTime } = msg.content;
      post({ type: "rejoin", reason: `the controller asks to register again: ${String(reason)}`, declaredDead: true, ...(typeof heartbeatTime === "number" ? { heartbeatTime } : {}) });
    } else if (isMessage(msg, "signal_request")) {
      const signal = msg.content.signal;
      if (signal === "SIGINT") {
        log.info("signal_request: interrupting the engine");
        deliverInterrupt(interruptState, (stoppedBefore) => post({ type: "interrupt", stoppedBefore }));
      } else if (signal === "SIGTERM" || signal === "SIGKILL") {
        log.info(`signal_request: sending ${signal} to the engine`);
        process.kill(process.pid, signal);
      } else {
        log.warn(`signal_request for an unsupported signal ${JSON.stringify(signal)}: ignored`);
      }
    }
  }
}

beat();
let heartbeatMs = config.heartbeatMs;
let beating = setInterval(beat, heartbeatMs);
const checking = setInterval(check, Math.min(config.heartbeatMs, 1000));
void listen();

parentPort?.on("message", (message: HeartbeatCommand) => {
  if (message.type === "registered") {
    engineId = message.id;
    if (message.heartbeatMs > 0 && message.heartbeatMs !== heartbeatMs) {
      heartbeatMs = message.heartbeatMs;
      clearInterval(beating);
      beating = setInterval(beat, heartbeatMs);
    }
    return;
  }
  // The main thread is handling it: the last resorts are not needed.
  for (const timer of lastResorts) clearTimeout(timer);
  if (message.type !== "stop") return;
  clearInterval(beating);
  clearInterval(checking);
  sender.close();
  socket.close();
  parentPort?.close();
});
