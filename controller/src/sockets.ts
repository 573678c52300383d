import * as zmq from "zeromq";

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
 * Binds the four sockets on random ports. Routers queue without limit: at the default high-water
 * mark a ROUTER silently drops messages to a slow peer, and a lost task or result never comes back.
 * `sendTimeout: 0` makes sends synchronous (see MessageSender).
 */
export async function bindSockets(ip: string): Promise<{ sockets: ControllerSockets; ports: SocketPorts }> {
  const sockets: ControllerSockets = {
    client: new zmq.Router({ sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout: 0 }),
    events: new zmq.Publisher({ sendTimeout: 0 }),
    engine: new zmq.Router({ sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout: 0 }),
    heartbeat: new zmq.Router({ sendTimeout: 0 }),
  };
  try {
    for (const socket of Object.values(sockets)) await socket.bind(`tcp://${ip}:*`);
  } catch (err) {
    closeSockets(sockets, 0);
    throw err;
  }
  const ports = {
    client: portOf(sockets.client),
    events: portOf(sockets.events),
    engine: portOf(sockets.engine),
    heartbeat: portOf(sockets.heartbeat),
  };
  return { sockets, ports };
}

export function closeSockets(sockets: ControllerSockets, lingerMs: number): void {
  for (const socket of Object.values(sockets) as zmq.Socket[]) {
    if (socket.closed) continue;
    socket.linger = lingerMs;
    socket.close();
  }
}
