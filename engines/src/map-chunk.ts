import { NumberPayload, StringPayload, packedLength, type PackedArray } from "@tsparallel/protocol";

/** A chunk's results: the frame that carries them back, or (results of mixed kinds, promises among them) an array. */
export type ChunkResults = { frames: Buffer[] } | { values: unknown[] };

type MapFunction = (item: unknown) => unknown;

const UNDECIDED = 0;
const NUMBERS = 1;
const STRINGS = 2;
const VALUES = 3;

/**
 * Collects a chunk's results in the form the first one sets: numbers straight into the float64s of
 * the frame that goes back, strings joined into theirs, anything else into an array. A result of
 * another kind moves what came before into an array and goes on there.
 */
class ChunkOutput {
  #mode = UNDECIDED;
  #numbers: NumberPayload | undefined;
  #doubles: Float64Array | undefined;
  #strings: StringPayload | undefined;
  #values: unknown[] | undefined;

  constructor(private readonly count: number) {}

  add(i: number, result: unknown): void {
    switch (this.#mode) {
      case NUMBERS:
        if (typeof result === "number") {
          this.#doubles![i] = result;
          return;
        }
        break;
      case STRINGS:
        if (typeof result === "string") {
          this.#strings!.add(result);
          return;
        }
        break;
      case VALUES:
        this.#values![i] = result;
        return;
      default:
        this.#start(i, result);
        return;
    }
    this.#toValues(i);
    this.#values![i] = result;
  }

  #start(i: number, result: unknown): void {
    if (typeof result === "number") {
      this.#mode = NUMBERS;
      this.#numbers = new NumberPayload(this.count);
      this.#doubles = this.#numbers.values;
      this.#doubles[i] = result;
    } else if (typeof result === "string") {
      this.#mode = STRINGS;
      this.#strings = new StringPayload(this.count);
      this.#strings.add(result);
    } else {
      this.#toValues(i);
      this.#values![i] = result;
    }
  }

  /** The results before item i, moved into an array that takes every kind. */
  #toValues(i: number): void {
    const values = new Array<unknown>(this.count);
    if (this.#mode === NUMBERS) for (let j = 0; j < i; j++) values[j] = this.#doubles![j];
    else if (this.#mode === STRINGS) {
      const strings = this.#strings!.items();
      for (let j = 0; j < i; j++) values[j] = strings[j];
    }
    this.#mode = VALUES;
    this.#values = values;
    this.#numbers = this.#doubles = this.#strings = undefined;
  }

  finish(): ChunkResults {
    if (this.#mode === NUMBERS) return { frames: [this.#numbers!.finish()] };
    if (this.#mode === STRINGS) return { frames: [this.#strings!.finish()] };
    return { values: this.#values ?? [] };
  }
}

/**
 * Runs fn over a chunk that arrived in raw form (packed-arrays.ts), in order, one call per item with
 * the item as its only argument, reading the items from the received frame: no array of the items
 * and, for number or string results, none of the results. An exception from fn ends the chunk.
 */
export function runPackedChunk(fn: MapFunction, chunk: PackedArray): ChunkResults {
  const output = new ChunkOutput(packedLength(chunk));
  if (chunk.kind === "numbers") {
    const items = chunk.values;
    for (let i = 0; i < items.length; i++) output.add(i, fn(items[i]));
  } else {
    const { text, ends } = chunk;
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i]!;
      output.add(i, fn(text.slice(start, end)));
      start = end;
    }
  }
  return output.finish();
}
