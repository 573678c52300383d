import { hostname } from "node:os";
import { identify, isMessage, messageLimits, pidSpace, type DirectAddress, type EngineMetadata, type EngineProcess, type Logger, type Message, type MessageContents, type MessageSender } from "@tsparallel/protocol";

export interface Registration {
  id: number;
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
}

export class RegistrationError extends Error {
  override name = "RegistrationError";
  /** Set when the controller refused for now and said when to ask again. */
  retryAfterMs?: number;
}

/** How long an engine goes on asking a controller that refuses it for now (too many new engines at once). */
export const REGISTRATION_RETRY_MS = 120_000;

/** The wait a refusal asks for, bounded (a controller cannot park an engine for long with one reply). */
export function retryAfter(reply: MessageContents["registration_reply"]): number | undefined {
  if (reply.status === "ok") return undefined;
  const ms = (reply as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof ms === "number" && Number.isFinite(ms) && ms > 0 ? Math.min(ms, 10_000) : undefined;
}

export const REGISTRATION_TIMEOUT_MS = 10_000;

/** What a registration_request says about this engine process (`id`: the id it had, when registering again). */
export function registrationRequest(uuid: string, version: string, id?: number, metadata?: EngineMetadata, direct?: DirectAddress): MessageContents["registration_request"] {
  const request: MessageContents["registration_request"] = {
    uuid,
    hostname: hostname(),
    pid: process.pid,
    version,
    ...(id === undefined ? {} : { id }),
    // The controller models this engine's function cache with it (see FunctionCache).
    functionCacheBytes: messageLimits().functionCacheBytes,
  };
  if (metadata && Object.keys(metadata).length) request.metadata = metadata;
  if (direct) request.direct = direct;
  const running = thisProcess();
  if (running) request.process = running;
  return request;
}

function thisProcess(): EngineProcess | undefined {
  const space = pidSpace();
  const startTime = identify(process.pid)?.startTime;
  return space === undefined || startTime === undefined ? undefined : { pidSpace: space, startTime };
}

/** The registration a reply grants; throws RegistrationError for a refusal or a malformed reply. */
export function registrationOf(reply: MessageContents["registration_reply"]): Registration {
  if (reply.status !== "ok") {
    const refusal = new RegistrationError(`the controller refused registration: ${String(reply.message)}`);
    refusal.retryAfterMs = retryAfter(reply);
    throw refusal;
  }
  if (!Number.isInteger(reply.id) || !(reply.heartbeatMs > 0)) throw new RegistrationError("the registration reply is malformed (id or heartbeatMs)");
  // An older controller may leave out the timeout: the engine then assumes 10 periods.
  const heartbeatTimeoutMs = reply.heartbeatTimeoutMs > 0 ? reply.heartbeatTimeoutMs : 10 * reply.heartbeatMs;
  return { id: reply.id, heartbeatMs: reply.heartbeatMs, heartbeatTimeoutMs };
}

/**
 * Asks the controller for an engine id. Reads only as far as the registration_reply from the shared
 * message iterator, which the caller then goes on reading. A controller busy with a start storm (256
 * engines starting at once on 2 cores) may take longer than one attempt's wait: the request is sent
 * again (the controller gives a uuid it knows the same id) until `giveUpMs` have passed.
 */
export async function register(
  messages: AsyncIterator<Message>,
  sender: MessageSender,
  details: { uuid: string; version: string; url: string; timeoutMs?: number; giveUpMs?: number; metadata?: EngineMetadata; direct?: DirectAddress },
  log: Logger,
): Promise<Registration> {
  const attemptMs = details.timeoutMs ?? REGISTRATION_TIMEOUT_MS;
  const patienceMs = Math.max(attemptMs, details.giveUpMs ?? attemptMs);
  let giveUpAt = Date.now() + patienceMs;
  // A controller that asks to be asked again later (its rate of new registrations) is heard until then.
  const retryUntil = Date.now() + Math.max(attemptMs, REGISTRATION_RETRY_MS);
  const request = registrationRequest(details.uuid, details.version, undefined, details.metadata, details.direct);
  let next: Promise<IteratorResult<Message>> | undefined;
  for (;;) {
    sender.send("registration_request", request);
    const waitMs = Math.min(attemptMs, giveUpAt - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), waitMs);
    });
    let refusedFor: number | undefined;
    try {
      for (;;) {
        next ??= messages.next();
        const got = await Promise.race([next, timeout]);
        if (got === "timeout") break;
        next = undefined;
        if (got.done) throw new RegistrationError("the engine socket closed before the controller replied to registration");
        const msg = got.value;
        if (!isMessage(msg, "registration_reply")) {
          log.warn(`ignored ${msg.header.msg_type} before registration`);
          continue;
        }
        const wait = retryAfter(msg.content);
        if (wait !== undefined && Date.now() + wait < retryUntil) {
          log.info(`the controller refused registration for now (${String((msg.content as { message?: unknown }).message)}); asking again in ${wait} ms`);
          refusedFor = wait;
          break;
        }
        return registrationOf(msg.content);
      }
    } finally {
      clearTimeout(timer);
    }
    if (refusedFor !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, refusedFor));
      giveUpAt = Math.max(giveUpAt, Date.now() + attemptMs);
      continue;
    }
    if (Date.now() >= giveUpAt) {
      throw new RegistrationError(
        `no registration reply from the controller at ${details.url} within ${Math.round(patienceMs / 1000)} s: is the controller running, is the connection file current, and is this host under the controller's connection caps (its log says when it refuses one)?`,
      );
    }
    log.warn(`no registration reply from the controller at ${details.url} within ${Math.round(attemptMs / 1000)} s (a busy controller, or a stale connection file?): asking again`);
  }
}
