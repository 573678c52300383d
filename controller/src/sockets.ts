import * as zmq from "zeromq";
import { curveServerOptions, dataSocketLimits, heartbeatSocketLimits, type CurveKeys } from "@tsparallel/protocol";

export interface ControllerSockets {
  client: zmq.Router;
  events: zmq.Router;
  engine: zmq.Router;
  heartbeat: zmq.Router;
}

export type SocketPorts = Record<keyof ControllerSockets, number>;

/** Events a subscriber that does not read may have queued before it loses the newest ones. */
const EVENTS_HIGH_WATER_MARK = 1000;

/** With `curve`, every socket is a CURVE server; with or without, each has a ZAP domain that sees its handshakes. */
export interface SocketSecurity {
  keys: CurveKeys;
  curve: boolean;
  /** Per socket, the ZAP domain (zap.ts) that checks the client key of a CURVE handshake and the connection caps. */
  zapDomains: Record<keyof ControllerSockets, string>;
}

function portOf(socket: zmq.Socket): number {
  const endpoint = socket.lastEndpoint ?? "";
  const port = Number(endpoint.slice(endpoint.lastIndexOf(":") + 1));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`cannot tell the port of ${endpoint || "a socket"}`);
  return port;
}

/**
 * Binds the four sockets on random ports, or on `ports` (a restarted controller takes its old ones, so
 * that engines and clients reconnect to the same endpoints). Routers queue without limit: at the default high-water
 * mark a ROUTER silently drops messages to a slow peer, and a lost task or result never comes back.
 * `sendTimeout: 0` makes sends synchronous (see MessageSender). The events socket is a ROUTER with a
 * high-water mark: it serves only peers that subscribed with a signed message (event-subscribers.ts),
 * and drops events for one that does not keep up, as a PUB would.
 */
export async function bindSockets(ip: string, security: SocketSecurity, ports?: SocketPorts): Promise<{ sockets: ControllerSockets; ports: SocketPorts }> {
  // A ZAP domain on a NULL socket makes libzmq ask the ZAP handler too (and refuse ZMTP 1.0 peers).
  // Enforced: without it, a handshake whose ZAP request cannot be made (out of descriptors) goes through unasked.
  const auth = (name: keyof ControllerSockets) => ({
    ...(security.curve ? curveServerOptions(security.keys, security.zapDomains[name]) : { zapDomain: security.zapDomains[name] }),
    zapEnforceDomain: true,
  });
  const sockets: ControllerSockets = {
    client: new zmq.Router({ sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout: 0, ...dataSocketLimits(), ...auth("client") }),
    events: new zmq.Router({ sendHighWaterMark: EVENTS_HIGH_WATER_MARK, sendTimeout: 0, ...heartbeatSocketLimits(), ...auth("events") }),
    engine: new zmq.Router({ sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout: 0, ...dataSocketLimits(), ...auth("engine") }),
    heartbeat: new zmq.Router({ sendTimeout: 0, ...heartbeatSocketLimits(), ...auth("heartbeat") }),
  };
  try {
    for (const [name, socket] of Object.entries(sockets) as [keyof ControllerSockets, zmq.Socket][]) {
      const port = ports?.[name];
      try {
        await socket.bind(`tcp://${ip}:${port ?? "*"}`);
      } catch (err) {
        if (port === undefined) throw err;
        throw new Error(`cannot bind the ${name} socket on its previous port ${ip}:${port}: ${(err as Error).message} (is the previous controller still running?)`);
      }
    }
  } catch (err) {
    closeSockets(sockets, 0);
    throw err;
  }
  const bound = {
    client: portOf(sockets.client),
    events: portOf(sockets.events),
    engine: portOf(sockets.engine),
    heartbeat: portOf(sockets.heartbeat),
  };
  return { sockets, ports: bound };
}

export function closeSockets(sockets: ControllerSockets, lingerMs: number): void {
  for (const socket of Object.values(sockets) as zmq.Socket[]) {
    if (socket.closed) continue;
    socket.linger = lingerMs;
    socket.close();
  }
}
