import { ByteLru, functionHash, functionWeight, type FunctionRef, type TaskBody } from "@tsparallel/protocol";
import type { EngineRecord } from "./engine-record.js";

/** Source bytes of the accepted FunctionRefs kept for the next messages (see #canonical). */
const CANONICAL_REF_BYTES = 4 * 1024 * 1024;

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
  accept(body: TaskBody, carried: Map<string, string> = new Map(), accepted?: Map<string, FunctionRef>): TaskBody | FunctionRefusal {
    if (body.kind !== "apply" && body.kind !== "map") return body;
    // A function is checked once per message (by hash): its tasks then share the one accepted
    // FunctionRef, which functionFor, the outbox and the store memoise on. A task that brings a source
    // of its own other than the one accepted is checked on its own (a mismatch is refused).
    // What the task keeps is shareOrTake's: the shared plain body, or its own body with the FunctionRef.
    const { hash, name, source } = body.fn;
    const known = accepted?.get(hash);
    if (known && known.name === name && (source === undefined || source === known.source)) return shareOrTake(body, known);
    const fn = this.#accept(body.fn, carried);
    if ("ename" in fn) return fn;
    accepted?.set(hash, fn);
    return shareOrTake(body, fn);
  }

  #accept(ref: FunctionRef, carried: Map<string, string>): FunctionRef | FunctionRefusal {
    const { hash, name, source } = ref;
    const label = `function ${name || "(anonymous)"} (${String(hash).slice(0, 16)})`;
    let known = carried.get(hash) ?? this.#sources.get(hash);
    if (typeof source === "string" && source !== known) {
      if (functionHash(source) !== hash) {
        functionCounters.hashMismatches++;
        return { ename: "FunctionHashMismatch", evalue: `${label}: the hash sent is not the SHA-256 of the source sent; refused` };
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
    if (known === undefined) return { ename: "FunctionNotFound", evalue: `${label} is unknown to the controller and its source was not sent` };
    return this.#canonical(hash, name, known);
  }

  /**
   * One FunctionRef object per function across messages (while it is among the last ones made, at
   * most CANONICAL_REF_BYTES of source): what is memoised on it (its source-less twin, its JSON, its
   * duration key, its stream label) is then made once, not once per message.
   */
  #canonical(hash: string, name: string, source: string): FunctionRef {
    const ref = this.#refs.get(hash);
    if (ref && ref.name === name && ref.source === source) return ref;
    const made: FunctionRef = { hash, name, source };
    if (ref) {
      this.#refs.delete(hash);
      this.#refBytes -= functionWeight(ref.source!);
    }
    this.#refs.set(hash, made);
    this.#refBytes += functionWeight(source);
    for (const [old, oldRef] of this.#refs) {
      if (this.#refBytes <= CANONICAL_REF_BYTES || old === hash) break;
      this.#refs.delete(old);
      this.#refBytes -= functionWeight(oldRef.source!);
    }
    return made;
  }

  readonly #refs = new Map<string, FunctionRef>();
  #refBytes = 0;

  /**
   * The function of an accepted body as one engine should get it: with the source only while the
   * engine may not hold it (undefined for bodies without a function).
   */
  functionFor(engine: EngineRecord, body: TaskBody): FunctionRef | undefined {
    if (body.kind !== "apply" && body.kind !== "map") return undefined;
    const { hash, source } = body.fn;
    if (engine.knownFunctions.get(hash) !== undefined) return bareFunction(body.fn);
    engine.knownFunctions.set(hash, true, functionWeight(source!));
    // An accepted body's FunctionRef carries its source: it goes as it is.
    return body.fn;
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

/**
 * The body a task keeps: one body per function shared by every task that carries nothing else (a map's
 * tasks: their items are frames), instead of an object per task that a million-item map kept alive for
 * seconds each; any other body (the controller's own, just parsed) takes the accepted FunctionRef in place.
 */
function shareOrTake(body: Extract<TaskBody, { fn: FunctionRef }>, fn: FunctionRef): TaskBody {
  if (!onlyKindAndFn(body)) {
    body.fn = fn;
    return body;
  }
  let plain = plainBodies.get(fn);
  if (!plain) plainBodies.set(fn, (plain = {}));
  return (plain[body.kind] ??= { kind: body.kind, fn } as TaskBody);
}

/** The shared plain bodies of each accepted FunctionRef (they go when it does). */
const plainBodies = new WeakMap<FunctionRef, { apply?: TaskBody; map?: TaskBody }>();

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

/** The body without its source, for what is stored per task (the store keeps sources once, by hash). */
export function withoutSource(body: TaskBody): TaskBody {
  if (body.kind !== "apply" && body.kind !== "map") return body;
  // Only shared bodies are remembered: an entry per task would cost the GC more than it saves.
  if (!onlyKindAndFn(body)) return { ...body, fn: bareFunction(body.fn) };
  let bare = sourceless.get(body);
  if (!bare) sourceless.set(body, (bare = { ...body, fn: bareFunction(body.fn) }));
  return bare;
}

/** One source-less FunctionRef per accepted one, shared by all the bodies that name it. */
const bareFunctions = new WeakMap<FunctionRef, FunctionRef>();

function bareFunction(fn: FunctionRef): FunctionRef {
  if (fn.source === undefined) return fn;
  let bare = bareFunctions.get(fn);
  if (!bare) bareFunctions.set(fn, (bare = { hash: fn.hash, name: fn.name }));
  return bare;
}

const functionJson = new WeakMap<FunctionRef, string>();

/**
 * JSON.stringify(withoutSource(body)), with each FunctionRef's source-less JSON written once and reused
 * (the store keeps every task's body). It takes the accepted body itself: no source-less copy per task.
 */
export function bodyJson(body: TaskBody): string {
  if (body.kind !== "apply" && body.kind !== "map") return JSON.stringify(body);
  let fn = functionJson.get(body.fn);
  if (fn === undefined) functionJson.set(body.fn, (fn = JSON.stringify(bareFunction(body.fn))));
  // Member by member, as JSON.stringify would write them: a map task's body is its own (its `first`),
  // and a rest copy of it plus one stringify per task cost the store's handover twice this.
  let json = `{"fn":${fn}`;
  for (const key in body) {
    if (key === "fn" || !Object.hasOwn(body, key)) continue;
    const value = (body as Record<string, unknown>)[key];
    const text = typeof value === "number" ? (Number.isFinite(value) ? String(value) : "null") : JSON.stringify(value);
    if (text === undefined) continue;
    json += `,${PLAIN_KEYS.has(key) ? `"${key}"` : JSON.stringify(key)}:${text}`;
  }
  return `${json}}`;
}

/** Body members whose names need no escaping in JSON. */
const PLAIN_KEYS: ReadonlySet<string> = new Set(["kind", "first", "refs", "require", "inputs", "futures", "code", "silent", "names", "block"]);
