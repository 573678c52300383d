/**
 * Limits applied to every message before it is trusted. Each can be changed through the environment
 * of the process that receives (controller, engine, client), so a site with larger data can raise them.
 */
export interface MessageLimits {
  /** Largest message (all frames) a data socket accepts; ZeroMQ drops the peer above it. */
  maxMessageBytes: number;
  /** Largest message a heartbeat socket accepts. */
  maxHeartbeatBytes: number;
  /** Largest JSON frame (header, parent, metadata or content): checked before HMAC and parsing. */
  maxJsonBytes: number;
  /** Deepest nesting of arrays/objects in a JSON frame. */
  maxJsonDepth: number;
  /** Recently seen signatures remembered to refuse replays (jupyter_client keeps 2^16). */
  replayHistory: number;
  /** A signed message whose header date is further than this from now is refused (ms). */
  maxClockSkewMs: number;
  /** Bytes of function source a controller keeps, and each engine keeps (least recently used out). */
  functionCacheBytes: number;
  /**
   * ZeroMQ `handshakeInterval`: a connection that has not finished the ZMTP handshake by then is closed
   * (libzmq's default is 30 s), so idle raw TCP connections cannot hold a listener's file descriptors.
   */
  handshakeMs: number;
}

export const DEFAULT_LIMITS: Readonly<MessageLimits> = {
  maxMessageBytes: 1024 * 1024 * 1024,
  maxHeartbeatBytes: 64 * 1024,
  maxJsonBytes: 64 * 1024 * 1024,
  maxJsonDepth: 256,
  replayHistory: 65_536,
  maxClockSkewMs: 15 * 60_000,
  functionCacheBytes: 64 * 1024 * 1024,
  handshakeMs: 3_000,
};

const ENV: Record<keyof MessageLimits, string> = {
  maxMessageBytes: "TSPARALLEL_MAX_MESSAGE_BYTES",
  maxHeartbeatBytes: "TSPARALLEL_MAX_HEARTBEAT_BYTES",
  maxJsonBytes: "TSPARALLEL_MAX_JSON_BYTES",
  maxJsonDepth: "TSPARALLEL_MAX_JSON_DEPTH",
  replayHistory: "TSPARALLEL_REPLAY_HISTORY",
  maxClockSkewMs: "TSPARALLEL_MAX_CLOCK_SKEW_MS",
  functionCacheBytes: "TSPARALLEL_FUNCTION_CACHE_BYTES",
  handshakeMs: "TSPARALLEL_HANDSHAKE_MS",
};

/** The limits in force: defaults, overridden by positive integers from the environment. */
export function messageLimits(env: NodeJS.ProcessEnv = process.env): MessageLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(ENV) as (keyof MessageLimits)[]) {
    const raw = env[ENV[key]];
    if (raw === undefined || raw === "") continue;
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${ENV[key]} must be a positive integer, not ${JSON.stringify(raw)}`);
    limits[key] = value;
  }
  return limits;
}

/** ZeroMQ socket options for a data socket (`maxMessageSize` makes libzmq drop an oversized peer). */
export function dataSocketLimits(): { maxMessageSize: number; handshakeInterval: number } {
  const limits = messageLimits();
  return { maxMessageSize: limits.maxMessageBytes, handshakeInterval: limits.handshakeMs };
}

export function heartbeatSocketLimits(): { maxMessageSize: number; handshakeInterval: number } {
  const limits = messageLimits();
  return { maxMessageSize: limits.maxHeartbeatBytes, handshakeInterval: limits.handshakeMs };
}
