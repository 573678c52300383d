import { ByteLru, functionHash, functionWeight, type FunctionRef, type TaskBody } from "@tsparallel/protocol";
import type { EngineRecord } from "./engine-record.js";

/** Why a submitted function was refused: the task fails with this name and message. */
export interface FunctionRefusal {
  ename: "FunctionHashMismatch" | "FunctionNotFound";
  evalue: string;
}

/** Function sources refused because their hash was not theirs (a poisoning attempt or a broken client). */
export const functionCounters = { hashMismatches: 0, evicted: 0 };

/**
 * Function sources by hash, bounded in bytes (least recently used out). A source is taken only when
 * its hash is recomputed from it and matches: the first sender of a hash cannot make another client's
 * function run someone else's code. Clients send a function's source in every submission that uses it
 * (once per message), so an evicted source comes back with its next use; a task keeps the one source
 * string until it is sent, so eviction never breaks a task already accepted. Engines get a source once
 * each, while the controller's model of their cache (same class, same capacity, same order of
 * operations) says they still hold it.
 */
export class FunctionCache {
  readonly #sources: ByteLru<string>;
  /** Accepted functions by hash, and the plain bodies that use them (see #shared). */
  readonly #interned = new Map<string, { fn: FunctionRef; apply?: TaskBody; map?: TaskBody }>();

  /**
   * `learned` hears each new source (the task store keeps them, so stored tasks can run again);
   * `recall` looks one up there when a stored task is resubmitted after its source left the cache.
   */
  constructor(
    capacity: number,
    private readonly learned: (hash: string, source: string) => void = () => undefined,
    private readonly recall: (hash: string) => string | undefined = () => undefined,
  ) {
    this.#sources = new ByteLru(capacity);
  }

  get bytes(): number {
    return this.#sources.bytes;
  }

  get capacity(): number {
    return this.#sources.capacity;
  }

  get size(): number {
    return this.#sources.size;
  }

  /** Sources known before this run (restored from the task store); any whose hash does not match is left out. */
  preload(sources: Iterable<[string, string]>): void {
    for (const [hash, source] of sources) if (functionHash(source) === hash) this.#sources.set(hash, source, functionWeight(source));
  }

  /**
   * Checks and learns the source a submission carries. Returns the body holding the cached source
   * string (records share that one string), or a refusal: a source whose hash is not its own, or a
   * hash unknown here that came without its source. `carried` holds the sources checked so far in
   * the same message: a later task of that message names them by hash, even if the cache let them go.
   */
  accept(body: TaskBody, carried: Map<string, string> = new Map()): TaskBody | FunctionRefusal {
    if (body.kind !== "apply" && body.kind !== "map") return body;
    const { hash, name, source } = body.fn;
    const label = () => `function ${name || "(anonymous)"} (${String(hash).slice(0, 16)})`;
    let known = carried.get(hash) ?? this.#sources.get(hash);
    if (typeof source === "string" && source !== known) {
      if (functionHash(source) !== hash) {
        functionCounters.hashMismatches++;
        return { ename: "FunctionHashMismatch", evalue: `${label()}: the hash sent is not the SHA-256 of the source sent; refused` };
      }
      known = source;
      this.#remember(hash, source);
    }
    if (known !== undefined) carried.set(hash, known);
    if (known === undefined) {
      const stored = this.recall(hash);
      if (stored !== undefined && functionHash(stored) === hash) {
        known = stored;
        carried.set(hash, stored);
        this.#sources.set(hash, stored, functionWeight(stored));
      }
    }
    if (known === undefined) return { ename: "FunctionNotFound", evalue: `${label()} is unknown to the controller and its source was not sent` };
    return this.#shared(body, hash, name, known);
  }

  /**
   * The accepted body, shared by every task of the same function that carries nothing else (a map's
   * tasks: their items are frames): one body, one FunctionRef and one hash string for all of them
   * instead of three objects per task, which a million-item map kept alive for seconds each.
   */
  #shared(body: Extract<TaskBody, { fn: FunctionRef }>, hash: string, name: string, source: string): TaskBody {
    let entry = this.#interned.get(hash);
    if (!entry || entry.fn.name !== name || entry.fn.source !== source) {
      if (this.#interned.size >= MAX_INTERNED) this.#interned.clear();
      entry = { fn: { hash, name, source } };
      this.#interned.set(hash, entry);
    }
    if (!onlyKindAndFn(body)) return { ...body, fn: entry.fn };
    return (entry[body.kind] ??= { kind: body.kind, fn: entry.fn } as TaskBody);
  }

  /** The body as one engine should get it: with the source only while the engine may not hold it. */
  bodyFor(engine: EngineRecord, body: TaskBody): TaskBody {
    if (body.kind !== "apply" && body.kind !== "map") return body;
    const { hash, name, source } = body.fn;
    if (engine.knownFunctions.get(hash) !== undefined) return withoutSource(body);
    engine.knownFunctions.set(hash, true, functionWeight(source!));
    const fn: FunctionRef = { hash, name, source: source! };
    return { ...body, fn };
  }

  #remember(hash: string, source: string): void {
    const before = this.#sources.size;
    const isNew = !this.#sources.has(hash);
    this.#sources.set(hash, source, functionWeight(source));
    if (isNew) {
      functionCounters.evicted += before + 1 - this.#sources.size;
      this.learned(hash, source);
    }
  }
}

/** Functions accepted lately whose bodies are shared; more distinct ones than this start it over. */
const MAX_INTERNED = 1024;

/** Whether a body is one of the shared ones (nothing but its kind and function), so worth remembering things about. */
export function isShared(body: TaskBody): boolean {
  return onlyKindAndFn(body);
}

function onlyKindAndFn(body: object): boolean {
  let keys = 0;
  for (const key in body) if (++keys > 2 || (key !== "kind" && key !== "fn")) return false;
  return keys === 2;
}

/** Each shared body's form without its source, made once. */
const sourceless = new WeakMap<TaskBody, TaskBody>();

/** The body without its source, for what is stored per task (the store keeps sources once, by hash) and engines that hold it. */
export function withoutSource(body: TaskBody): TaskBody {
  if (body.kind !== "apply" && body.kind !== "map") return body;
  // Only shared bodies are remembered: an entry per task would cost the GC more than it saves.
  if (!onlyKindAndFn(body)) return { ...body, fn: { hash: body.fn.hash, name: body.fn.name } };
  let bare = sourceless.get(body);
  if (!bare) {
    bare = { ...body, fn: { hash: body.fn.hash, name: body.fn.name } };
    sourceless.set(body, bare);
  }
  return bare;
}
