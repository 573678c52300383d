import type { FunctionRef, TaskBody } from "@tsparallel/protocol";
import type { EngineRecord } from "./engine-record.js";

/**
 * Function sources by hash. Clients send a source once per connection; engines get it once each: a
 * task for an engine that already met the hash travels without it.
 */
export class FunctionCache {
  readonly #sources = new Map<string, string>();

  /** `learned` hears each new source (the task store keeps them, so stored tasks can run again). */
  constructor(private readonly learned: (hash: string, source: string) => void = () => undefined) {}

  /** Sources known before this run (restored from the task store). */
  preload(sources: Iterable<[string, string]>): void {
    for (const [hash, source] of sources) this.#sources.set(hash, source);
  }

  /**
   * Learns the source a submission carries and returns the body without it (records then hold no
   * copies), or undefined when the hash is unknown here and no source came with it.
   */
  accept(body: TaskBody): TaskBody | undefined {
    if (body.kind !== "apply" && body.kind !== "map") return body;
    const { hash, name, source } = body.fn;
    if (typeof source === "string" && !this.#sources.has(hash)) {
      this.#sources.set(hash, source);
      this.learned(hash, source);
    }
    if (!this.#sources.has(hash)) return undefined;
    return source === undefined ? body : { ...body, fn: { hash, name } };
  }

  /** The body as one engine should get it. */
  bodyFor(engine: EngineRecord, body: TaskBody): TaskBody {
    if (body.kind !== "apply" && body.kind !== "map") return body;
    if (engine.knownHashes.has(body.fn.hash)) return body;
    engine.knownHashes.add(body.fn.hash);
    const fn: FunctionRef = { ...body.fn, source: this.#sources.get(body.fn.hash)! };
    return { ...body, fn };
  }
}
