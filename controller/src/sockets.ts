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

/** With `curve`, every socket is a CURVE server whose handshakes the ZAP domain checks. */
export interface SocketSecurity {
  keys: CurveKeys;
  curve: boolean;
  /** The ZAP domain (zap.ts) that checks the client key of every CURVE handshake. */
  zapDomain: string;
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
  const data = security.curve ? curveServerOptions(security.keys, security.zapDomain) : {};
  const sockets: ControllerSockets = {
    client: new zmq.Router({ sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout: 0, ...dataSocketLimits(), ...data }),
    events: new zmq.Router({ sendHighWaterMark: EVENTS_HIGH_WATER_MARK, sendTimeout: 0, ...heartbeatSocketLimits(), ...data }),
    engine: new zmq.Router({ sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout: 0, ...dataSocketLimits(), ...data }),
    heartbeat: new zmq.Router({ sendTimeout: 0, ...heartbeatSocketLimits(), ...data }),
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
