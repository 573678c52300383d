import { copyPackedInto, packedLength, packedToArray, unpackArray, unpackValue, type PackedArray } from "@tsparallel/protocol";
import { AsyncResult, type TaskOwner } from "./async-result.js";
import type { TaskTable } from "./task-table.js";

/** Up to this many chunks are joined by one native concat (a memory copy per chunk); more would overflow the stack as arguments. */
const CONCAT_ARGUMENTS = 4096;

/** One flat array of the chunks' items. */
export function concatChunks<R>(chunks: R[][]): R[] {
  if (chunks.length === 1) return chunks[0]!.slice();
  // Each chunk is an array of its own (never spread inside, as concat spreads only its arguments).
  if (chunks.length <= CONCAT_ARGUMENTS && chunks.every((c) => Array.isArray(c) && !(Symbol.isConcatSpreadable in c))) return ([] as R[]).concat(...chunks);
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  const flat = new Array<R>(total);
  let at = 0;
  for (const chunk of chunks) for (let i = 0; i < chunk.length; i++) flat[at++] = chunk[i]!;
  return flat;
}

/** A chunk's results as received in raw form (packed-arrays.ts), read into the flat result in place. */
class ReceivedChunk {
  constructor(readonly packed: PackedArray) {}
}

/** Where each chunk's items go in the flat result: chunks of one size (the last one shorter), or listed sizes. */
export type ChunkLayout = { items: number; chunkSize: number } | { chunkSizes: readonly number[] };

/**
 * A map split into chunk tasks. Awaiting it gives the flat array of results in input order; iterating it
 * yields single items, in input order, or as chunks arrive when the map was made with `ordered: false`.
 * Each chunk's values are copied into the flat result as they arrive, so a map of a million one-item
 * chunks holds one array of a million values, not a million arrays.
 */
export class AsyncMapResult<R> extends AsyncResult<R[]> {
  readonly #starts: (index: number) => number;
  readonly #total: number;
  #flat: R[] | undefined;

  /** `layout` says how many items each task has (default one chunk per task of unknown size: values are concatenated). */
  constructor(
    owner: TaskOwner,
    tasks: TaskTable,
    readonly ordered: boolean,
    { returnExceptions = false, layout }: { returnExceptions?: boolean; layout?: ChunkLayout } = {},
  ) {
    super(owner, tasks, (chunks) => concatChunks(chunks as R[][]), { returnExceptions });
    if (!ordered) this.arrivals = [];
    if (layout && "chunkSize" in layout) {
      const size = layout.chunkSize;
      this.#total = layout.items;
      this.#starts = (i) => Math.min(i * size, layout.items);
    } else if (layout) {
      const starts = new Array<number>(layout.chunkSizes.length + 1);
      starts[0] = 0;
      layout.chunkSizes.forEach((n, i) => (starts[i + 1] = starts[i]! + n));
      this.#total = starts[layout.chunkSizes.length]!;
      this.#starts = (i) => starts[i]!;
    } else {
      this.#total = -1;
      this.#starts = () => 0;
    }
  }

  /** Without a layout, chunks are kept apart and concatenated at the end. */
  get #folds(): boolean {
    return this.#total >= 0;
  }

  #size(index: number): number {
    return this.#starts(index + 1) - this.#starts(index);
  }

  /** @internal A chunk of numbers or strings stays a view over its frame until its items are copied into place. */
  override _unpack(frames: Buffer[]): unknown {
    const raw = frames.length === 1 ? unpackArray(frames[0]!) : undefined;
    return raw ? new ReceivedChunk(raw) : unpackValue(frames);
  }

  protected override store(index: number, value: unknown): void {
    if (value instanceof ReceivedChunk) {
      if (this.#folds && packedLength(value.packed) === this.#size(index)) {
        copyPackedInto(value.packed, (this.#flat ??= new Array<R>(this.#total)), this.#starts(index));
        return;
      }
      value = packedToArray(value.packed);
    }
    if (!this.#folds || !Array.isArray(value) || value.length !== this.#size(index)) {
      super.store(index, value);
      return;
    }
    const flat = (this.#flat ??= new Array<R>(this.#total));
    const start = this.#starts(index);
    for (let i = 0; i < value.length; i++) flat[start + i] = value[i] as R;
  }

  protected override finalValue(): R[] {
    if (!this.#folds) return super.finalValue();
    const flat = this.#flat ?? new Array<R>(this.#total).fill(undefined as R);
    // A chunk whose value did not fit its slot (not an array of its length) was kept apart.
    if (this.values) for (let i = 0; i < this.length; i++) if (this.values[i] !== undefined) this.#place(flat, i, this.values[i]);
    return flat;
  }

  override async *[Symbol.asyncIterator](): AsyncIterator<R> {
    for (let seen = 0; seen < this.length; seen++) {
      let index = seen;
      if (this.ordered) while (!this.isSettled(index)) await this.nextArrival();
      else {
        while (this.arrivals!.length <= seen) await this.nextArrival();
        index = this.arrivals![seen]!;
      }
      yield* this.#chunk(index, this.returnExceptions);
    }
  }

  protected override withErrors(): unknown[] {
    if (!this.#folds) {
      const out = new Array<unknown>(this.length);
      for (let i = 0; i < this.length; i++) out[i] = this.#chunk(i, true);
      return out;
    }
    // finish() concatenates: one chunk holding the whole flat array, errors in their items' places.
    const flat: unknown[] = this.finalValue().slice();
    for (let i = 0; i < this.length; i++) {
      const error = this.errorAt(i);
      if (error) flat.fill(error, this.#starts(i), this.#starts(i + 1));
    }
    return [flat];
  }

  #place(flat: unknown[], index: number, value: unknown): void {
    const start = this.#starts(index);
    if (Array.isArray(value)) for (let i = 0; i < value.length && start + i < this.#starts(index + 1); i++) flat[start + i] = value[i];
    else flat[start] = value;
  }

  /** A chunk's items; a failed one throws, or with returnExceptions stands as its error once per item. */
  #chunk(index: number, returnExceptions: boolean): R[] {
    const error = this.errorAt(index);
    if (error) {
      if (!returnExceptions) throw error;
      return new Array(this.#folds ? this.#size(index) : 1).fill(error) as R[];
    }
    if (this.#folds && this.values?.[index] === undefined) return (this.#flat ?? []).slice(this.#starts(index), this.#starts(index + 1));
    return this.values?.[index] as R[];
  }
}
