import * as zmq from "zeromq";
import { ConnectionFileError, type ConnectionInfo } from "./connection.js";

/**
 * CURVE keys of a cluster, Z85-encoded (40 characters each). One keypair is the controller's (its
 * sockets are the CURVE servers); the other is shared by every client and engine, and the controller's
 * ZAP handler lets in no other: so only a holder of the connection file completes a handshake. The
 * controller makes them at every fresh start and writes them whether or not the cluster uses CURVE.
 * The controller's secret is in the files too: a holder can already sign anything as the controller
 * (the HMAC key is shared), and `--restore` must present the same server key to peers that reconnect.
 */
export interface CurveKeys {
  server_public: string;
  server_secret: string;
  client_public: string;
  client_secret: string;
}

export function newCurveKeys(): CurveKeys {
  if (!zmq.capability.curve) throw new Error("this build of ZeroMQ has no CURVE support");
  const server = zmq.curveKeyPair();
  const client = zmq.curveKeyPair();
  return { server_public: server.publicKey, server_secret: server.secretKey, client_public: client.publicKey, client_secret: client.secretKey };
}

const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

export function validateCurveKeys(value: unknown, source: string): CurveKeys {
  const keys = value as Record<string, unknown> | null;
  for (const name of ["server_public", "server_secret", "client_public", "client_secret"]) {
    if (typeof keys?.[name] !== "string" || !Z85_KEY.test(keys[name] as string)) {
      throw new ConnectionFileError(`${source} is corrupt: curve_keys.${name} is not a 40-character Z85 key`);
    }
  }
  return keys as unknown as CurveKeys;
}

export interface CurveClientOptions {
  curveServerKey?: string;
  curvePublicKey?: string;
  curveSecretKey?: string;
}

/**
 * Options for a socket that connects to the controller: the client keypair and the server's public
 * key when the cluster runs with CURVE, none otherwise.
 */
export function curveClientOptions(info: ConnectionInfo): CurveClientOptions {
  if (!info.curve) return {};
  const keys = info.curve_keys;
  if (!keys) throw new ConnectionFileError("the connection info says curve: true but holds no curve_keys");
  return { curveServerKey: keys.server_public, curvePublicKey: keys.client_public, curveSecretKey: keys.client_secret };
}

export interface CurveServerOptions {
  curveServer?: boolean;
  curveSecretKey?: string;
  zapDomain?: string;
}

/** Options for one of the controller's bound sockets; `zapDomain` routes its handshakes to the ZAP handler. */
export function curveServerOptions(keys: CurveKeys | undefined, zapDomain: string): CurveServerOptions {
  if (!keys) return {};
  return { curveServer: true, curveSecretKey: keys.server_secret, zapDomain };
}

const Z85_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
const Z85_VALUES = new Map([...Z85_CHARS].map((c, i) => [c, i]));

/** Z85 (ZeroMQ RFC 32) to bytes: what a ZAP request carries is the raw 32-byte key. */
export function z85Decode(text: string): Buffer {
  if (text.length % 5 !== 0) throw new Error("a Z85 string's length is a multiple of 5");
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let value = 0;
    for (let j = 0; j < 5; j++) {
      const digit = Z85_VALUES.get(text[i + j]!);
      if (digit === undefined) throw new Error(`not a Z85 character: ${JSON.stringify(text[i + j])}`);
      value = value * 85 + digit;
    }
    out.writeUInt32BE(value >>> 0, (i / 5) * 4);
  }
  return out;
}
