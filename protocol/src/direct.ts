/**
 * The direct client-engine path of DirectView work: on by default; `TSPARALLEL_DIRECT=0` (or "off",
 * "false") turns it off, in a client (every DirectView message goes through the controller) and in an
 * engine (it binds no direct socket).
 */
export const DIRECT_ENV = "TSPARALLEL_DIRECT";

export function directFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return !switchedOff(env[DIRECT_ENV]);
}

/** Connections an engine's direct socket holds at once (`TSPARALLEL_DIRECT_MAX_CONNECTIONS`); a handshake past it is refused. */
export function directMaxConnections(env: NodeJS.ProcessEnv = process.env): number {
  const told = Number(env.TSPARALLEL_DIRECT_MAX_CONNECTIONS);
  return Number.isInteger(told) && told > 0 ? told : 256;
}

/** `TSPARALLEL_DIRECT_STREAM=0` (or "off", "false", "no"): the direct path keeps to ZeroMQ (an engine offers no plain TCP stream; a client, read as it opens a link, uses none). */
export const DIRECT_STREAM_ENV = "TSPARALLEL_DIRECT_STREAM";

export function directStreamFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return !switchedOff(env[DIRECT_STREAM_ENV]);
}

/**
 * `TSPARALLEL_DIRECT_STREAM_TRUST=0` (or "off", "false", "no"): every message on a direct stream is signed,
 * loopback or not (stream-trust.ts): in a client, its links do not ask; in an engine, it does not grant.
 * For a loopback end that is only one end of a plaintext relay across a network.
 */
export const DIRECT_STREAM_TRUST_ENV = "TSPARALLEL_DIRECT_STREAM_TRUST";

export function directStreamTrustFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return !switchedOff(env[DIRECT_STREAM_TRUST_ENV]);
}

function switchedOff(setting: string | undefined): boolean {
  const value = setting?.trim().toLowerCase();
  return value === "0" || value === "off" || value === "false" || value === "no";
}
