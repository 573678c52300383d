import { ByteLru, DEFAULT_LIMITS, isMessage, pidSpace, type DirectAddress, type Message, type MessageContents } from "@tsparallel/protocol";
import type { ControllerContext } from "./context.js";
import { sanitizeMetadata } from "./engine-metadata.js";

const CONTROLLER_PID_SPACE = pidSpace();

/** The engine's start time when its pid can be looked up here; anything malformed counts as elsewhere. */
function localStartTime(process: unknown): number | undefined {
  if (CONTROLLER_PID_SPACE === undefined || typeof process !== "object" || process === null) return undefined;
  const { pidSpace: space, startTime } = process as Record<string, unknown>;
  return space === CONTROLLER_PID_SPACE && Number.isSafeInteger(startTime) ? (startTime as number) : undefined;
}

/** The engine's function-cache capacity as it told it; an engine that did not say has the default. */
function functionCacheCapacity(told: unknown): number {
  return Number.isSafeInteger(told) && (told as number) > 0 ? (told as number) : DEFAULT_LIMITS.functionCacheBytes;
}

const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

/** An engine's direct socket as it told it; anything malformed is left out (clients then go through the controller). */
function directAddress(told: unknown): DirectAddress | undefined {
  if (told === null || typeof told !== "object") return undefined;
  const { url, curveKey, stream } = told as Record<string, unknown>;
  const isUrl = (value: unknown): value is string => typeof value === "string" && value.length <= 256 && /^tcp:\/\/\S+:\d+$/.test(value);
  if (!isUrl(url)) return undefined;
  if (curveKey !== undefined && (typeof curveKey !== "string" || !Z85_KEY.test(curveKey))) return undefined;
  const address: DirectAddress = curveKey === undefined ? { url } : { url, curveKey };
  // A plain stream only beside a socket without CURVE; a malformed one is left out (clients use ZeroMQ).
  if (curveKey === undefined && isUrl(stream)) address.stream = stream;
  return address;
}

/** Handles one message from the engine ROUTER. */
export function handleEngineMessage(ctx: ControllerContext, msg: Message): void {
  if (isMessage(msg, "registration_request")) return register(ctx, msg);
  const engine = ctx.registry.byIdentity(msg.identities);
  if (!engine) {
    ctx.log.warn(`${msg.header.msg_type} from an unregistered engine; dropped`);
    return;
  }
  if (isMessage(msg, "task_reply")) ctx.router.results(engine, msg.content.results, msg.buffers);
  else if (isMessage(msg, "direct_report")) {
    ctx.router.directReport(engine, msg.content, msg.buffers);
    if (msg.content?.flushed !== undefined) ctx.directReportAnswered(engine.id, msg.content.flushed);
  }
  else if (isMessage(msg, "stream")) ctx.router.streams(engine, msg.content.items);
  else if (isMessage(msg, "unregistration_request")) {
    if (engine.alive) ctx.engineLost(engine, "stopped", msg.content.reason ?? "unregistered");
  } else if (isMessage(msg, "abort_reply") || isMessage(msg, "shutdown_reply")) {
    ctx.log.debug(`engine ${engine.id}: ${msg.header.msg_type}`);
  } else {
    ctx.log.warn(`unexpected ${msg.header.msg_type} from engine ${engine.id}; dropped`);
  }
}

function register(ctx: ControllerContext, msg: Message<MessageContents["registration_request"]>): void {
  const { uuid, hostname, pid, id: previousId } = msg.content;
  const reply = (content: MessageContents["registration_reply"]) =>
    ctx.engineSender.send("registration_reply", content, { identities: msg.identities, parent: msg.header });
  if (typeof uuid !== "string" || typeof hostname !== "string" || !Number.isInteger(pid)) {
    ctx.log.warn("malformed registration_request; refused");
    reply({ status: "error", message: "registration_request needs uuid, hostname and pid" });
    return;
  }
  if (ctx.registry.isNew(uuid)) {
    const wait = ctx.registrations.take();
    if (wait > 0) {
      ctx.warnings.warn("registration-rate", `more than ${ctx.registrations.perSecond} new engines per second: refusing for now (they ask again); ${ctx.registrations.refused} refused so far`);
      reply({ status: "error", message: `too many new engines at once (over ${ctx.registrations.perSecond} per second); ask again later`, retryAfterMs: wait });
      return;
    }
  }
  const { engine, outcome } = ctx.registry.register(uuid, hostname, pid, msg.identities, Date.now());
  engine.metadata ??= sanitizeMetadata(msg.content.metadata);
  engine.localStartTime = localStartTime(msg.content.process);
  engine.direct = directAddress(msg.content.direct);
  // A new or rejoining engine may hold sources the model has forgotten, never the reverse: start the model afresh.
  if (outcome !== "same") engine.knownFunctions = new ByteLru(functionCacheCapacity(msg.content.functionCacheBytes));
  reply({ status: "ok", id: engine.id, heartbeatMs: ctx.timings.heartbeatMs, heartbeatTimeoutMs: ctx.timings.heartbeatTimeoutMs });
  if (outcome === "same") return;
  if (outcome === "new") ctx.store.engineRegistered({ id: engine.id, uuid, hostname, pid, registered: engine.registered }, ctx.registry.nextId);
  if (outcome === "rejoined") ctx.log.info(`engine ${engine.id} rejoined (pid ${pid} on ${hostname})`);
  else if (Number.isInteger(previousId)) ctx.log.info(`engine ${engine.id} registered (pid ${pid} on ${hostname}; it was engine ${String(previousId)} of a controller that does not know it)`);
  else ctx.log.info(`engine ${engine.id} registered (pid ${pid} on ${hostname})`);
  ctx.events.publish("engine_registered", { engine: engine.info() });
  ctx.events.changed();
  ctx.router.engineJoined();
}
