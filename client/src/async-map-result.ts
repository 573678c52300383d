import { AsyncResult, type TaskMetadata, type TaskOwner } from "./async-result.js";

/** One flat array of the chunks' items. A loop: spreading a million chunks into concat() overflows the stack. */
export function concatChunks<R>(chunks: R[][]): R[] {
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
  constructor(
    owner: TaskOwner,
    metadata: TaskMetadata[],
    readonly ordered: boolean,
  ) {
    super(owner, metadata, (chunks) => concatChunks(chunks as R[][]));
  }

  override async *[Symbol.asyncIterator](): AsyncIterator<R> {
    if (this.ordered) {
      for (let i = 0; i < this.length; i++) {
        while (!this.isSettled(i)) await this.nextArrival();
        if (this.errors[i]) throw this.errors[i];
        yield* this.values[i] as R[];
      }
      return;
    }
    for (let seen = 0; seen < this.length; seen++) {
      while (this.arrivals.length <= seen) await this.nextArrival();
      const index = this.arrivals[seen]!;
      if (this.errors[index]) throw this.errors[index];
      yield* this.values[index] as R[];
    }
  }
}
