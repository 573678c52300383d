import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { directStreamTrustFromEnv } from "./direct.js";
import { Signer } from "./signer.js";

/**
 * A direct stream between a client and an engine on the same host's loopback interface signs its
 * handshake and then nothing more ("trusted"). HMAC per message is what keeps a peer without the key
 * from getting work run; on a loopback TCP connection that peer cannot put bytes into a connection it
 * did not open (only root can, and root reads the key file), so once both ends have proved that they
 * hold the key and are live, on this very connection, a signature per message proves nothing new and
 * costs both ends two HMACs per round trip (on a fresh cluster ~20 us each, a fifth of a direct
 * round trip). A connection that is not loopback on both ends, or has not completed the exchange, is
 * signed and verified message by message as before.
 *
 * The exchange (every message of it signed and checked as usual, replay guard and date window
 * included): the client's direct_hello carries `trust`, a fresh nonce; the engine, on a loopback
 * connection, answers direct_challenge { echo: that nonce, nonce: its own fresh one } (it is live and
 * holds the key); the client answers direct_trust { nonce: the engine's } (it is live and holds the
 * key) and from then on sends unsigned and takes unsigned messages on that connection; the engine does
 * so once it has checked the direct_trust. Size, frame, depth and JSON checks stay on every message.
 */
export const NO_SIGNATURE = new Signer("");

/** A nonce of the exchange: 16 random bytes in hex. */
export function newTrustNonce(): string {
  return randomBytes(16).toString("hex");
}

export function isTrustNonce(value: unknown): value is string {
  return typeof value === "string" && /^[0-9a-f]{32}$/.test(value);
}

/** 127.0.0.0/8, ::1 and IPv4-mapped 127.x: addresses only this host's loopback interface carries. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith("127.");
  return address === "::1";
}

/**
 * Whether this end takes part in the trust exchange on a connected socket: the cluster signs (has a
 * key), both ends are on loopback, and TSPARALLEL_DIRECT_STREAM_TRUST does not switch it off.
 */
export function mayTrustStream(socket: { localAddress?: string; remoteAddress?: string }, signer: Signer): boolean {
  return signer.enabled && isLoopbackConnection(socket) && directStreamTrustFromEnv();
}

/** Both ends of a connected socket are on the loopback interface. */
export function isLoopbackConnection(socket: { localAddress?: string; remoteAddress?: string }): boolean {
  return isLoopbackAddress(socket.localAddress) && isLoopbackAddress(socket.remoteAddress);
}
