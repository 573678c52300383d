import { primitivesRangeSize, writePrimitivesRange, type FunctionRef, type TaskBody, type TaskRequest } from "@tsparallel/protocol";
import type { AsyncResult } from "../async-result.js";
import type { Outgoing, TaskSource } from "../submit-queue.js";

/** Bytes per block of packed items; a block is let go once every item in it has been sent. */
const BLOCK_BYTES = 1 << 20;

/**
 * Payloads of many small tasks packed end to end in a few large buffers, with three numbers per task
 * to find each one again: a million one-item chunks cost ~25 MB here, where a Buffer per task (an
 * object, an ArrayBuffer and its backing store) costs ~200 bytes each. Items are packed when the
 * call is made (so what is sent is what they held then, and a value that cannot travel throws at
 * once); a task's frame is a view into its block, made when it is sent.
 */
export class PackedItems {
  readonly #blocks: (Buffer | undefined)[] = [];
  readonly #block: Uint32Array;
  readonly #offset: Uint32Array;
  readonly #length: Uint32Array;
  #used = BLOCK_BYTES;
  #released = 0;

  constructor(count: number) {
    this.#block = new Uint32Array(count);
    this.#offset = new Uint32Array(count);
    this.#length = new Uint32Array(count);
  }

  set(j: number, payload: Buffer): void {
    const block = this.reserve(j, payload.length);
    payload.copy(block, this.#offset[j]!);
  }

  /** Room for task j's payload of `size` bytes: the block to write it into, at `offsetOf(j)`. */
  reserve(j: number, size: number): Buffer {
    if (this.#used + size > BLOCK_BYTES || this.#blocks.length === 0) {
      this.#blocks.push(Buffer.allocUnsafeSlow(Math.max(BLOCK_BYTES, size)));
      this.#used = 0;
    }
    const b = this.#blocks.length - 1;
    this.#block[j] = b;
    this.#offset[j] = this.#used;
    this.#length[j] = size;
    this.#used += size;
    return this.#blocks[b]!;
  }

  offsetOf(j: number): number {
    return this.#offset[j]!;
  }

  /** Task j's payload (a view into its block); asked for in task order, so earlier blocks are let go. */
  get(j: number): Buffer {
    const b = this.#block[j]!;
    while (this.#released < b) this.#blocks[this.#released++] = undefined;
    return this.#blocks[b]!.subarray(this.#offset[j]!, this.#offset[j]! + this.#length[j]!);
  }
}

/** One chunk of a map packed for sending: its payload frames and any Refs found among its items. */
export interface PackedChunk {
  frames: Buffer[];
  refs?: NonNullable<Extract<TaskBody, { kind: "map" }>["refs"]> | undefined;
}

/**
 * The tasks of a load-balanced map, one msg id each, built as they are sent. Chunks that are one
 * payload without Refs (nearly always) live in PackedItems; others keep their own frames.
 */
export class MapTasks implements TaskSource {
  readonly #packed: PackedItems;
  readonly #special = new Map<number, PackedChunk>();
  #result: AsyncResult<unknown> | undefined;
  #fn: FunctionRef | undefined;

  constructor(
    readonly count: number,
    private readonly chunkSize: number,
    private readonly common: { lb?: TaskRequest["lb"]; label?: string },
  ) {
    this.#packed = new PackedItems(count);
  }

  get result(): AsyncResult<unknown> {
    if (!this.#result) throw new Error("the map's result is not set yet");
    return this.#result;
  }

  /** The function as the client refers to it, with its source: SubmitQueue sends that once per message. */
  setFunction(ref: FunctionRef): void {
    this.#fn = ref;
  }

  /** @internal Set once, by the client, right after the result is made. */
  attach(result: AsyncResult<unknown>): void {
    this.#result = result;
  }

  add(j: number, chunk: PackedChunk): void {
    if (chunk.frames.length === 1 && !chunk.refs) this.#packed.set(j, chunk.frames[0]!);
    else this.#special.set(j, chunk);
  }

  /**
   * Task j's chunk, items[start..end) of a plain array, packed in place when its items take the
   * primitive form (a chunkSize-1 map of numbers: no slice, no Refs to look for, no Buffer per
   * item); false when they do not, and nothing is added.
   */
  addPrimitives(j: number, items: readonly unknown[], start: number, end: number): boolean {
    const size = primitivesRangeSize(items, start, end);
    if (size < 0) return false;
    writePrimitivesRange(items, start, end, this.#packed.reserve(j, size), this.#packed.offsetOf(j));
    return true;
  }

  first(j: number): number {
    return j;
  }

  ids(): number {
    return 1;
  }

  build(j: number): Outgoing {
    // Nearly every map has no special chunk: no Map lookup per task then.
    const special = this.#special.size === 0 ? undefined : this.#special.get(j);
    if (special) this.#special.delete(j);
    const frames = special?.frames ?? [this.#packed.get(j)];
    if (!this.#fn) throw new Error("the map's function is not set");
    // No spreads: this runs for every item of a chunkSize-1 map.
    const body: TaskBody = { kind: "map", fn: this.#fn, first: j * this.chunkSize };
    if (special?.refs) body.refs = special.refs;
    const request: TaskRequest = { msgIds: [this.result._tasks.msgId(j)], targets: null, body, bufferCount: frames.length };
    if (this.common.lb) request.lb = this.common.lb;
    if (this.common.label !== undefined) request.label = this.common.label;
    return { request, frames };
  }
}
