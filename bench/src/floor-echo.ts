/**
 * The far side of the ZeroMQ floor measurement (floor.ts), forked as its own process: a ROUTER that
 * sends every message straight back, either as raw frames or, in "protocol" mode, decoded, verified,
 * re-encoded and signed as a controller hop would.
 */
import * as zmq from "zeromq";
import { MessageSender, Signer, createLogger, receiveMessages } from "@tsparallel/protocol";

const [mode, key] = process.argv.slice(2);
const router = new zmq.Router({ sendHighWaterMark: 0, receiveHighWaterMark: 0 });
await router.bind("tcp://127.0.0.1:*");
process.send!(router.lastEndpoint);
process.on("disconnect", () => {
  router.close();
  process.exit(0);
});

if (mode === "raw") {
  for await (const frames of router) await router.send(frames);
} else {
  const signer = new Signer(key!);
  const log = createLogger("floor-echo");
  const sender = new MessageSender(router, signer, "floor-echo", log, "compact");
  for await (const msg of receiveMessages(router, signer, log)) {
    sender.send(msg.header.msg_type as "status_request", msg.content as Record<string, never>, {
      identities: msg.identities, parent: msg.header, buffers: msg.buffers,
    });
  }
}
