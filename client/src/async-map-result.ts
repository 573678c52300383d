import { AsyncResult, type TaskMetadata, type TaskOwner } from "./async-result.js";

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

/**
 * A map split into chunk tasks. Awaiting it gives the flat array of results in input order; iterating it
 * yields single items, in input order, or as chunks arrive when the map was made with `ordered: false`.
 */
export class AsyncMapResult<R> extends AsyncResult<R[]> {
  readonly #chunkSizes: readonly number[] | undefined;

  /** `chunkSizes` (items per task) lets a failed chunk stand as one error per item with `returnExceptions`. */
  constructor(
    owner: TaskOwner,
    metadata: TaskMetadata[],
    readonly ordered: boolean,
    { returnExceptions = false, chunkSizes }: { returnExceptions?: boolean; chunkSizes?: readonly number[] } = {},
  ) {
    super(owner, metadata, (chunks) => concatChunks(chunks as R[][]), { returnExceptions });
    this.#chunkSizes = chunkSizes;
  }

  override async *[Symbol.asyncIterator](): AsyncIterator<R> {
    for (let seen = 0; seen < this.length; seen++) {
      let index = seen;
      if (this.ordered) while (!this.isSettled(index)) await this.nextArrival();
      else {
        while (this.arrivals.length <= seen) await this.nextArrival();
        index = this.arrivals[seen]!;
      }
      yield* this.#chunk(index, this.returnExceptions);
    }
  }

  protected override withErrors(): unknown[] {
    return this.values.map((_, i) => this.#chunk(i, true));
  }

  /** A chunk's items; a failed one throws, or with returnExceptions stands as its error once per item. */
  #chunk(index: number, returnExceptions: boolean): R[] {
    const error = this.errors[index];
    if (!error) return this.values[index] as R[];
    if (!returnExceptions) throw error;
    return new Array(this.#chunkSizes?.[index] ?? 1).fill(error) as R[];
  }
}
