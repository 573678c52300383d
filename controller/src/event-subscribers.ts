import { EVENTS_EXPIRE_MS, type Logger } from "@tsparallel/protocol";

/** Subscribers the events socket serves at once, unless TSPARALLEL_MAX_EVENT_SUBSCRIBERS says otherwise. */
export const DEFAULT_MAX_EVENT_SUBSCRIBERS = 1024;
const WARN_EVERY_MS = 10_000;

export function maxEventSubscribers(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.TSPARALLEL_MAX_EVENT_SUBSCRIBERS;
  if (raw === undefined || raw === "") return DEFAULT_MAX_EVENT_SUBSCRIBERS;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`TSPARALLEL_MAX_EVENT_SUBSCRIBERS must be a positive integer, not ${JSON.stringify(raw)}`);
  return value;
}

interface Subscriber {
  identity: Buffer;
  lastSeen: number;
}

/**
 * Who receives events: the peers of the events ROUTER that sent a signed `events_subscribe` (so only
 * holders of the key), each one entry however often it asks, at most `max` at once, each forgotten
 * after EVENTS_EXPIRE_MS without a renewal. A PUB socket instead served anyone who connected and kept
 * every distinct prefix a peer subscribed to (20,000 of them: +475 MB, never given back).
 */
export class EventSubscribers {
  readonly #subscribers = new Map<string, Subscriber>();
  refused = 0;
  #unreported = 0;
  #lastWarn = 0;

  constructor(
    private readonly log: Logger,
    private readonly max = maxEventSubscribers(),
    private readonly expireMs = EVENTS_EXPIRE_MS,
  ) {}

  get size(): number {
    return this.#subscribers.size;
  }

  /** Adds or renews; false when the table is full of others. */
  subscribe(identity: Buffer, now = Date.now()): boolean {
    const key = identity.toString("latin1");
    const known = this.#subscribers.get(key);
    if (known) {
      known.lastSeen = now;
      return true;
    }
    if (this.#subscribers.size >= this.max) this.expire(now);
    if (this.#subscribers.size >= this.max) {
      this.#refuse(now);
      return false;
    }
    this.#subscribers.set(key, { identity: Buffer.from(identity), lastSeen: now });
    return true;
  }

  unsubscribe(identity: Buffer): void {
    this.#subscribers.delete(identity.toString("latin1"));
  }

  expire(now = Date.now()): void {
    for (const [key, subscriber] of this.#subscribers) {
      if (now - subscriber.lastSeen > this.expireMs) this.#subscribers.delete(key);
    }
  }

  identities(): IterableIterator<Buffer> {
    return (function* (map) {
      for (const subscriber of map.values()) yield subscriber.identity;
    })(this.#subscribers);
  }

  #refuse(now: number): void {
    this.refused++;
    this.#unreported++;
    if (now - this.#lastWarn < WARN_EVERY_MS) return;
    this.log.warn(`events: ${this.#unreported} subscription(s) refused, ${this.max} subscribers already (TSPARALLEL_MAX_EVENT_SUBSCRIBERS)`);
    this.#lastWarn = now;
    this.#unreported = 0;
  }
}
