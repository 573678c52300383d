import { hostname } from "node:os";
import { identify, isMessage, messageLimits, pidSpace, type EngineMetadata, type EngineProcess, type Logger, type Message, type MessageContents, type MessageSender } from "@tsparallel/protocol";

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
export function registrationRequest(uuid: string, version: string, id?: number, metadata?: EngineMetadata): MessageContents["registration_request"] {
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
 * message iterator, which the caller then goes on reading.
 */
export async function register(
  messages: AsyncIterator<Message>,
  sender: MessageSender,
  details: { uuid: string; version: string; url: string; timeoutMs?: number; metadata?: EngineMetadata },
  log: Logger,
): Promise<Registration> {
  const timeoutMs = details.timeoutMs ?? REGISTRATION_TIMEOUT_MS;
  const ask = () => sender.send("registration_request", registrationRequest(details.uuid, details.version, undefined, details.metadata));
  ask();
  const retryUntil = Date.now() + Math.max(timeoutMs, REGISTRATION_RETRY_MS);
  let timer: NodeJS.Timeout | undefined;
  let timeout!: Promise<"timeout">;
  const startTimer = () => {
    clearTimeout(timer);
    timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
  };
  startTimer();
  try {
    for (;;) {
      const next = await Promise.race([messages.next(), timeout]);
      if (next === "timeout") {
        throw new RegistrationError(
          `no registration reply from the controller at ${details.url} within ${timeoutMs / 1000} s: is the controller running, and is the connection file current?`,
        );
      }
      if (next.done) throw new RegistrationError("the engine socket closed before the controller replied to registration");
      const msg = next.value;
      if (!isMessage(msg, "registration_reply")) {
        log.warn(`ignored ${msg.header.msg_type} before registration`);
        continue;
      }
      const wait = retryAfter(msg.content);
      if (wait !== undefined && Date.now() + wait < retryUntil) {
        log.info(`the controller refused registration for now (${String((msg.content as { message?: unknown }).message)}); asking again in ${wait} ms`);
        clearTimeout(timer);
        await new Promise((resolve) => setTimeout(resolve, wait));
        ask();
        startTimer();
        continue;
      }
      return registrationOf(msg.content);
    }
  } finally {
    clearTimeout(timer);
  }
}
