import * as zmq from "zeromq";
import type { Client } from "tsparallel";
import { COMPACT_MAGIC, DELIMITER, Signer, newHeader, newMessageId, readConnectionFile, url, type Header } from "@tsparallel/protocol";

/** Signed frames built from raw JSON texts, so a test can send what JSON.stringify would not make. */
export function rawSignedFrames(signer: Signer, header: Header, contentText: string, extra: { parent?: string; metadata?: string } = {}): Buffer[] {
  const parts = [JSON.stringify(header), extra.parent ?? "{}", extra.metadata ?? "{}", contentText].map((t) => Buffer.from(t));
  return [DELIMITER, Buffer.from(signer.sign(parts)), ...parts];
}

/**
 * The same message in the compact form the cluster's sockets speak: one frame, `<TSP|MSG>` + signature
 * + `[header, parent, metadata, content]` built from the raw texts, the HMAC over that JSON text.
 */
export function rawCompactFrames(signer: Signer, header: Header, contentText: string, extra: { parent?: string; metadata?: string } = {}): Buffer[] {
  const json = `[${JSON.stringify(header)},${extra.parent ?? "{}"},${extra.metadata ?? "{}"},${contentText}]`;
  return [Buffer.from(COMPACT_MAGIC + signer.sign([json]) + json)];
}

/** An execute task for every target, as a client would put it in a submit_request. */
export function executeTask(targets: number[], code: string): object {
  return { msgIds: targets.map(() => newMessageId()), targets, body: { kind: "execute", code }, bufferCount: 0 };
}

/** A DEALER on the controller's client port, speaking for nobody: what a hostile peer has. */
export function rawClientPeer(connectionFile: string): { dealer: zmq.Dealer; key: string; controllerPid: number } {
  const info = readConnectionFile(connectionFile, "client");
  const dealer = new zmq.Dealer({ linger: 0 });
  dealer.connect(url(info, info.ports.client));
  return { dealer, key: info.key, controllerPid: info.controller.pid };
}

export function submitHeader(session = "rogue"): Header {
  return newHeader("submit_request", session);
}

/** Where an engine's plain direct stream and its ZeroMQ direct socket listen, with the cluster's signer. */
export interface PlainStream {
  stream: string;
  url: string;
  signer: Signer;
}

/** An engine's plain direct stream; undefined on a CURVE cluster, whose engines offer none. */
export function plainStreamOf(client: Client, engineId: number): PlainStream | undefined {
  const direct = client.engines.find((e) => e.id === engineId)?.direct;
  const info = readConnectionFile(client.connectionFile, "client");
  if (info.curve || !direct?.stream) return undefined;
  return { stream: direct.stream, url: direct.url, signer: new Signer(info.key) };
}

export const NO_PLAIN_STREAM = "no plain stream on a CURVE cluster";
