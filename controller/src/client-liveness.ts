/** One client process, known by the session of its messages, and the routing identities it used. */
interface ClientSession {
  lastHeard: number;
  readonly keys: Set<string>;
}

/** Longest session string kept: a session is a uuid; anything longer is not one of our clients. */
const MAX_SESSION_LENGTH = 128;
/** Identities remembered per session: the client's socket and its heartbeat thread's. */
const MAX_KEYS_PER_SESSION = 4;
/** Clients watched at once; beyond that a new client is not watched (its tasks are never orphaned). */
const MAX_SESSIONS = 65_536;

/**
 * Which clients are alive. A client is watched from its first `client_heartbeat` on (a client that
 * never beats is never judged); any message of its session counts as a beat. A watch that itself ran
 * late (the controller was stalled or stopped) judges nobody and starts every client's tolerance over,
 * so a paused controller never declares a beating client gone before it reads the queued beats.
 */
export class ClientLiveness {
  readonly #sessions = new Map<string, ClientSession>();
  #lastCheck = Date.now();

  constructor(
    private readonly toleranceMs: () => number,
    private readonly checkEveryMs: number,
  ) {}

  get size(): number {
    return this.#sessions.size;
  }

  heard(session: unknown, identityKey: string, isBeat: boolean, now = Date.now()): void {
    if (typeof session !== "string" || session.length === 0 || session.length > MAX_SESSION_LENGTH) return;
    let client = this.#sessions.get(session);
    if (!client) {
      if (!isBeat || this.#sessions.size >= MAX_SESSIONS) return;
      client = { lastHeard: now, keys: new Set() };
      this.#sessions.set(session, client);
    }
    client.lastHeard = Math.max(client.lastHeard, now);
    if (client.keys.size < MAX_KEYS_PER_SESSION) client.keys.add(identityKey);
  }

  /** The controller was not reading their beats (its store's writer was behind): every tolerance starts over. */
  excuse(now = Date.now()): void {
    this.#lastCheck = now;
    for (const client of this.#sessions.values()) client.lastHeard = Math.max(client.lastHeard, now);
  }

  /** Sessions silent past the tolerance, removed from the watch, with the identities they used. */
  gone(now = Date.now()): { session: string; silentMs: number; keys: string[] }[] {
    const late = now - this.#lastCheck > Math.max(2 * this.checkEveryMs, 1000);
    this.#lastCheck = now;
    if (late) {
      for (const client of this.#sessions.values()) client.lastHeard = Math.max(client.lastHeard, now);
      return [];
    }
    const tolerance = this.toleranceMs();
    const gone: { session: string; silentMs: number; keys: string[] }[] = [];
    for (const [session, client] of this.#sessions) {
      const silentMs = now - client.lastHeard;
      if (silentMs <= tolerance) continue;
      this.#sessions.delete(session);
      gone.push({ session, silentMs, keys: [...client.keys] });
    }
    return gone;
  }
}
