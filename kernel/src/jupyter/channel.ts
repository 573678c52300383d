import { encodeMessage, MessageSender, newHeader, type Header, type Logger, type Message, type Signer } from "@tsparallel/protocol";
import type { JupyterContents, JupyterMessageType } from "./messages.js";

interface WritableSocket {
  send(frames: Buffer[]): Promise<void>;
}

export interface ReplyTarget {
  identities: Buffer[];
  header: Header;
}

/**
 * Signed, typed sends on one kernel socket. All go through the protocol's MessageSender, which
 * writes one message at a time: overlapping sends on a ZeroMQ socket lose messages.
 */
export class JupyterChannel {
  readonly #sender: MessageSender;

  constructor(
    socket: WritableSocket,
    private readonly signer: Signer,
    readonly session: string,
    log: Logger,
    /** PUB sockets lead each message with a topic frame; it is derived from the message type. */
    private readonly topic?: string,
  ) {
    this.#sender = new MessageSender(socket, signer, session, log);
  }

  send<T extends JupyterMessageType>(
    type: T,
    content: JupyterContents[T],
    options: { parent?: Partial<Header>; identities?: Buffer[]; metadata?: Record<string, unknown>; buffers?: Buffer[] } = {},
  ): Header {
    const header = newHeader(type, this.session, "kernel");
    const identities = this.topic !== undefined ? [Buffer.from(`${this.topic}.${type}`)] : options.identities;
    this.#sender.sendFrames(
      encodeMessage(this.signer, { identities, header, parent_header: options.parent ?? {}, metadata: options.metadata, content, buffers: options.buffers }),
    );
    return header;
  }

  /** A reply to `request`, on this channel, routed back to its sender. */
  reply<T extends JupyterMessageType>(request: Message | ReplyTarget, type: T, content: JupyterContents[T], metadata?: Record<string, unknown>): Header {
    return this.send(type, content, { parent: request.header, identities: request.identities, metadata });
  }

  flushed(): Promise<void> {
    return this.#sender.flushed();
  }

  close(): void {
    this.#sender.close();
  }
}
