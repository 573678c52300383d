import type { Logger, Message, MessageContents } from "@tsparallel/protocol";
import type { DirectRoutes } from "./direct-routes.js";
import type { DirectSocket } from "./direct-socket.js";
import type { DirectPeer } from "./direct-stream.js";
import { tasksOf } from "./task-batch.js";
import type { QueuedTask } from "./task-queue.js";

/** Longest client identity a direct_request may name (hex of a ROUTER routing id: 5 bytes from libzmq, 255 at most). */
const MAX_CLIENT_ID_LENGTH = 512;
/** A client identity in hex (one RegExp, not one per request). */
const HEX = /^[0-9a-f]*$/;
/** A link token of direct_hello (see DirectLink). */
const LINK_TOKEN = /^[0-9a-f]{1,32}$/;

/** What serving the direct socket needs of the engine session. */
export interface DirectHost {
  readonly uuid: string;
  id(): number;
  /** The task queue runs or holds tasks: a task enqueued now waits. */
  busy(): boolean;
  stopping(): boolean;
  log(): Logger;
  /** Runs direct tasks (after the ones queued already). */
  run(tasks: QueuedTask[]): void;
  /** Aborts the queued tasks an abort_request names. */
  abort(msg: Message): void;
}

/** Serves the engine's direct port (its ROUTER, and its stream when it has one) until the session stops or the socket closes. */
export async function serveDirect(direct: DirectSocket, routes: DirectRoutes, host: DirectHost): Promise<void> {
  const serve = (peer: DirectPeer, msg: Message): void => {
    try {
      handle(direct, routes, host, peer, msg);
    } catch (err) {
      host.log().error(`failed to handle a direct ${msg.header.msg_type}: ${(err as Error).stack ?? String(err)}`);
    }
  };
  direct.stream?.serve((peer, msg) => {
    if (!host.stopping()) serve(peer, msg);
  });
  for await (const msg of direct.messages(host.log())) {
    if (host.stopping()) break;
    // A ROUTER message has the sender's routing identity first; anything else is not a client's.
    if (msg.identities.length !== 1) continue;
    serve(direct.peer(msg.identities[0]!), msg);
  }
}

/** A verified message from a client. Anything it should not send is dropped and counted. */
function handle(direct: DirectSocket, routes: DirectRoutes, host: DirectHost, peer: DirectPeer, msg: Message): void {
  const type = msg.header.msg_type;
  switch (type) {
    case "direct_hello": {
      const { link } = msg.content as Partial<MessageContents["direct_hello"]>;
      if (typeof link === "string" && LINK_TOKEN.test(link)) peer.linked(link);
      peer.send("direct_welcome", { id: host.id(), uuid: host.uuid, dropped: direct.dropped });
      break;
    }
    case "direct_request": {
      const { client } = msg.content as Partial<MessageContents["direct_request"]>;
      try {
        if (typeof client !== "string" || client.length > MAX_CLIENT_ID_LENGTH || !HEX.test(client)) throw new Error("client is not a routing identity");
        const tasks = tasksOf(msg.content as MessageContents["task_request"], msg.buffers);
        for (const task of tasks) task.direct = true;
        // Tasks that will wait in the queue are reported at once (abort and queue status by msg id need
        // the controller to know them, and a long task ahead may hold the loop); a lone task on an idle
        // engine runs now and is reported after its reply.
        routes.accepted(peer, client, tasks, host.busy() || tasks.length > 1);
        host.run(tasks);
      } catch (err) {
        direct.dropped++;
        host.log().warn(`dropped a malformed direct_request ${msg.header.msg_id}: ${(err as Error).message}`);
      }
      break;
    }
    case "abort_request":
      // By msg id only: a client on the direct socket never aborts every task queued here.
      if (Array.isArray((msg.content as MessageContents["abort_request"]).msgIds)) host.abort(msg);
      else direct.dropped++;
      break;
    default:
      direct.dropped++;
      host.log().debug(`ignored a direct ${type} message`);
  }
}
