import type * as zmq from "zeromq";
import type { Logger, MessageType } from "@tsparallel/protocol";

/** The topics published on the events socket (the topic frame is the msg_type). */
export const EVENT_TOPICS: readonly MessageType[] = [
  "engine_registered", "engine_dead", "engine_unregistered", "cluster_snapshot", "task_stream", "controller_heartbeat", "controller_shutdown",
];

const SUBSCRIBE = 1;
const UNSUBSCRIBE = 0;
/** ZMQ_SUBSCRIBE / ZMQ_UNSUBSCRIBE: on an XPUB in manual mode they apply to the peer last read from. */
const OPTION = { [SUBSCRIBE]: 6, [UNSUBSCRIBE]: 7 } as const;

/**
 * Subscriptions on the events socket, handled by hand (XPUB manual mode): a subscription is applied
 * only when its topic is "" or one of EVENT_TOPICS, so a peer holds at most that many entries in
 * ZeroMQ's subscription trie, however many distinct prefixes it sends; anything else is dropped and
 * counted. (An automatic PUB keeps every distinct prefix: 20,000 of them cost the controller 475 MB.)
 */
export class EventSubscriptions {
  readonly #allowed = new Set<string>(["", ...EVENT_TOPICS]);
  ignored = 0;

  constructor(
    private readonly socket: zmq.XPublisher,
    private readonly log: Logger,
  ) {}

  async serve(): Promise<void> {
    const setOption = (this.socket as unknown as { setStringOption(option: number, value: string | null): void }).setStringOption.bind(this.socket);
    try {
      for await (const [frame] of this.socket) {
        const kind = frame?.[0];
        if (!frame || (kind !== SUBSCRIBE && kind !== UNSUBSCRIBE)) continue;
        const topic = frame.subarray(1).toString("latin1");
        if (!this.#allowed.has(topic)) {
          this.ignored++;
          continue;
        }
        setOption(OPTION[kind], topic === "" ? null : topic);
      }
    } catch (err) {
      if (!this.socket.closed) this.log.error(`events subscriptions: ${(err as Error).message}`);
    }
  }
}
