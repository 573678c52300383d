import * as zmq from "zeromq";
import { dataSocketLimits, heartbeatSocketLimits } from "@tsparallel/protocol";

export interface ControllerSockets {
  client: zmq.Router;
  events: zmq.Publisher;
  engine: zmq.Router;
  heartbeat: zmq.Router;
}

export type SocketPorts = Record<keyof ControllerSockets, number>;

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
 * `sendTimeout: 0` makes sends synchronous (see MessageSender).
 */
export async function bindSockets(ip: string, ports?: SocketPorts): Promise<{ sockets: ControllerSockets; ports: SocketPorts }> {
  const sockets: ControllerSockets = {
    client: new zmq.Router({ sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout: 0, ...dataSocketLimits() }),
    events: new zmq.Publisher({ sendTimeout: 0, ...heartbeatSocketLimits() }),
    engine: new zmq.Router({ sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout: 0, ...dataSocketLimits() }),
    heartbeat: new zmq.Router({ sendTimeout: 0, ...heartbeatSocketLimits() }),
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
