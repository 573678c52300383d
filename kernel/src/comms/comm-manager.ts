import type { Header, Message } from "@tsparallel/protocol";
import type { JupyterContents } from "../jupyter/messages.js";
import type { IOPub } from "../output/iopub.js";

type Data = Record<string, unknown>;

/** One end of a comm; the kernel side. */
export class Comm {
  #onMessage: ((data: Data, msg: Message) => void) | null = null;
  #onClose: ((data: Data) => void) | null = null;
  #closed = false;

  constructor(
    readonly id: string,
    readonly targetName: string,
    private readonly iopub: IOPub,
    private readonly parent: Partial<Header>,
    private readonly forget: (id: string) => void,
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  send(data: Data): void {
    if (this.#closed) return;
    this.iopub.publish("comm_msg", { comm_id: this.id, data }, this.parent);
  }

  close(data: Data = {}): void {
    if (this.#closed) return;
    this.iopub.publish("comm_close", { comm_id: this.id, data }, this.parent);
    this.closedByFrontend(data);
  }

  onMessage(handler: (data: Data, msg: Message) => void): void {
    this.#onMessage = handler;
  }

  onClose(handler: (data: Data) => void): void {
    this.#onClose = handler;
  }

  /** @internal */
  received(data: Data, msg: Message): void {
    this.#onMessage?.(data, msg);
  }

  /** @internal */
  closedByFrontend(data: Data): void {
    if (this.#closed) return;
    this.#closed = true;
    this.forget(this.id);
    this.#onClose?.(data);
  }
}

/** Opens a comm the frontend asked for; the handler wires its messages. */
export type CommTarget = (comm: Comm, data: Data, msg: Message) => void;

/** Comms by id, and the targets the frontend may open comms to. */
export class CommManager {
  readonly #targets = new Map<string, CommTarget>();
  readonly #comms = new Map<string, Comm>();

  constructor(private readonly iopub: IOPub) {}

  registerTarget(name: string, target: CommTarget): void {
    this.#targets.set(name, target);
  }

  open(msg: Message<JupyterContents["comm_open"]>): void {
    const { comm_id, target_name, data } = msg.content;
    const target = this.#targets.get(target_name);
    if (!target || typeof comm_id !== "string") {
      // An unknown target: the spec says to answer with comm_close.
      this.iopub.publish("comm_close", { comm_id, data: {} }, msg.header);
      return;
    }
    const comm = new Comm(comm_id, target_name, this.iopub, msg.header, (id) => this.#comms.delete(id));
    this.#comms.set(comm_id, comm);
    try {
      target(comm, data ?? {}, msg);
    } catch (err) {
      comm.close({ error: (err as Error).message });
    }
  }

  message(msg: Message<JupyterContents["comm_msg"]>): void {
    this.#comms.get(msg.content.comm_id)?.received(msg.content.data ?? {}, msg);
  }

  close(msg: Message<JupyterContents["comm_close"]>): void {
    this.#comms.get(msg.content.comm_id)?.closedByFrontend(msg.content.data ?? {});
  }

  info(targetName?: string): Record<string, { target_name: string }> {
    const comms: Record<string, { target_name: string }> = {};
    for (const [id, comm] of this.#comms) if (!targetName || comm.targetName === targetName) comms[id] = { target_name: comm.targetName };
    return comms;
  }

  closeAll(): void {
    for (const comm of [...this.#comms.values()]) comm.close();
  }
}
