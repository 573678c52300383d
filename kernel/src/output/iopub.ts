import type { Header } from "@tsparallel/protocol";
import type { JupyterChannel } from "../jupyter/channel.js";
import type { JupyterContents, JupyterMessageType } from "../jupyter/messages.js";

type StreamName = "stdout" | "stderr";

/**
 * Everything the kernel publishes on IOPub, addressed to the request being served (its "parent").
 * Stream text is gathered for one event-loop turn and sent as one message, and always flushed
 * before any other output, so outputs arrive in the order the cell produced them.
 */
export class IOPub {
  #parent: Partial<Header> = {};
  #pending: { name: StreamName; text: string; parent: Partial<Header> } | null = null;
  #scheduled = false;

  constructor(private readonly channel: JupyterChannel) {}

  /** The request outputs belong to. Output produced later (timers, callbacks) goes to the last one, as in IPython. */
  get parent(): Partial<Header> {
    return this.#parent;
  }

  set parent(header: Partial<Header>) {
    this.flush();
    this.#parent = header;
  }

  publish<T extends JupyterMessageType>(type: T, content: JupyterContents[T], parent: Partial<Header> = this.#parent, metadata?: Record<string, unknown>): void {
    this.flush();
    this.channel.send(type, content, { parent, metadata });
  }

  status(state: "busy" | "idle" | "starting", parent: Partial<Header> = this.#parent): void {
    this.publish("status", { execution_state: state }, parent);
  }

  stream(name: StreamName, text: string): void {
    if (!text) return;
    const pending = this.#pending;
    if (pending && pending.name === name && pending.parent === this.#parent) {
      pending.text += text;
    } else {
      this.flush();
      this.#pending = { name, text, parent: this.#parent };
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  /** Resolves once everything published so far was handed to ZeroMQ. */
  async flushed(): Promise<void> {
    this.flush();
    await this.channel.flushed();
  }

  flush(): void {
    const pending = this.#pending;
    if (!pending) return;
    this.#pending = null;
    this.channel.send("stream", { name: pending.name, text: pending.text }, { parent: pending.parent });
  }
}
