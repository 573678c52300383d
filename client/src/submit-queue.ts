import type { TaskRequest } from "@tsparallel/protocol";

interface Unsent {
  request: TaskRequest;
  frames: Buffer[];
}

/**
 * A function's source travels once per message, in the first task that uses it; the others name it by
 * hash. The controller's function cache is bounded, so a source sent in an earlier message may be gone
 * there: sending it with each message is what keeps every task runnable.
 */
function onceper(request: TaskRequest, sources: Set<string>): TaskRequest {
  const body = request.body;
  if ((body.kind !== "apply" && body.kind !== "map") || body.fn.source === undefined) return request;
  if (!sources.has(body.fn.hash)) {
    sources.add(body.fn.hash);
    return request;
  }
  return { ...request, body: { ...body, fn: { hash: body.fn.hash, name: body.fn.name } } };
}

/**
 * Tasks submitted but not yet sent to the controller, oldest first. The client sends from here only
 * while fewer than its window of tasks are in flight, so a map of a million items never puts a
 * million records (and their arguments) in the controller at once.
 */
export class SubmitQueue {
  #items: (Unsent | undefined)[] = [];
  #head = 0;
  #msgIds = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Message ids of the tasks held here. */
  get msgIds(): number {
    return this.#msgIds;
  }

  push(request: TaskRequest, frames: Buffer[]): void {
    this.#items.push({ request, frames });
    this.#msgIds += request.msgIds.length;
  }

  /** The oldest tasks, up to `maxMsgIds` message ids (always at least one task), and their frames in order. */
  take(maxMsgIds: number): { tasks: TaskRequest[]; frames: Buffer[] } {
    const tasks: TaskRequest[] = [];
    const frames: Buffer[] = [];
    const sources = new Set<string>();
    let ids = 0;
    while (this.#head < this.#items.length) {
      const next = this.#items[this.#head]!;
      if (tasks.length > 0 && ids + next.request.msgIds.length > maxMsgIds) break;
      this.#items[this.#head++] = undefined;
      tasks.push(onceper(next.request, sources));
      for (const frame of next.frames) frames.push(frame);
      ids += next.request.msgIds.length;
    }
    this.#msgIds -= ids;
    this.#compact();
    return { tasks, frames };
  }

  /** Drops the tasks with any of these msgIds (all tasks when undefined); returns the msgIds dropped. */
  remove(which?: ReadonlySet<string>): string[] {
    const removed: string[] = [];
    const kept: (Unsent | undefined)[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i]!;
      if (!which || item.request.msgIds.some((id) => which.has(id))) for (const id of item.request.msgIds) removed.push(id);
      else kept.push(item);
    }
    this.#items = kept;
    this.#head = 0;
    this.#msgIds -= removed.length;
    return removed;
  }

  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
