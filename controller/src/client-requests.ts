import type { Message, MessageContents, MessageType, QueueStatus, TaskDbRecord, TaskKind } from "@tsparallel/protocol";
import type { ControllerContext } from "./context.js";
import { identityKey } from "./identity.js";
import { compactFrames } from "./records/compact-frames.js";
import { recordInfo } from "./records/record-info.js";
import { checkKeys, compileFilter, project, QueryError } from "./store/query.js";
import type { StoredResult } from "./store/task-store.js";
import { ClientRef } from "./records/task-record.js";
import { Slice } from "./slice.js";
import { SubmitError } from "./task-router.js";
import { isIdList, isStringList } from "./validate.js";

type Reply = <T extends MessageType>(type: T, content: MessageContents[T], options?: { buffers?: Buffer[]; metadata?: Record<string, unknown> }) => void;

class BadRequest extends Error {
  override name = "BadRequest";
  constructor(
    readonly ename: string,
    message: string,
  ) {
    super(message);
  }
}

/** `content` is typed by each handler; shapes it depends on are checked there. A big one works in slices (returns a promise). */
type Handler = (ctx: ControllerContext, content: never, msg: Message, reply: Reply) => void | Promise<void>;

/** Most ids one result_request may name: its reply must stay a message, not a stall. */
export const MAX_RESULT_IDS = 100_000;

/**
 * Records per db_query_reply and ids per history_reply: a reply of 100,000 records was one
 * JSON.stringify of ~30 MB that held the loop for hundreds of ms; a piece of 5,000 is a few ms.
 */
export const DB_QUERY_PIECE = 5_000;
export const HISTORY_PIECE = 50_000;

/** Sends `total` items as replies of at most `piece` each (at least one reply), the loop turning between them. */
async function inPieces(total: number, piece: number, send: (from: number, to: number, more: boolean) => void): Promise<void> {
  const slice = new Slice();
  for (let from = 0; ; from += piece) {
    const to = Math.min(total, from + piece);
    send(from, to, to < total);
    if (to >= total) return;
    if (slice.dueNow()) await slice.yield();
  }
}

/** Target ids from a request, or null for "all"; throws BadRequest for anything else. */
function targetsOf(value: unknown, field = "targets"): number[] | null {
  if (value === undefined || value === null) return null;
  if (!isIdList(value)) throw new BadRequest("BadRequest", `${field} must be an array of engine ids`);
  return value;
}

function aliveTargets(ctx: ControllerContext, value: unknown) {
  const { engines, invalid } = ctx.control.resolve(targetsOf(value));
  if (invalid.length) throw new BadRequest("InvalidTargetError", `no alive engine ${invalid.join(", ")}`);
  return engines;
}

/** The live record first; the store has what memory let go of, and everything after a restart. */
function findResult(ctx: ControllerContext, msgId: string): StoredResult | undefined {
  const record = ctx.records.get(msgId);
  if (record && !record.resultsEvicted) return { info: recordInfo(record), frames: record.resultFrames, evicted: false };
  return ctx.store.result(msgId) ?? (record && { info: recordInfo(record), frames: [], evicted: true });
}

/**
 * Records are kept in the order the controller heard of them; engines report direct tasks after the
 * fact, so the newest ones (the live records) are put in submission order, as ipyparallel's history is.
 */
function inSubmissionOrder(ctx: ControllerContext, msgIds: string[]): string[] {
  let live = msgIds.length;
  while (live > 0 && ctx.records.get(msgIds[live - 1]!)) live--;
  // Only the part out of order is sorted: in a big map the live records (tens of thousands) are nearly
  // all in order already, and sorting them all held the loop for every history request.
  const at = (k: number) => ctx.records.get(msgIds[k]!)!.submitted;
  let firstDrop = -1;
  let lowestAfter = Infinity;
  for (let k = live + 1, before = live < msgIds.length ? at(live) : 0; k < msgIds.length; k++) {
    const t = at(k);
    if (firstDrop < 0 && t < before) firstDrop = k;
    if (firstDrop >= 0 && t < lowestAfter) lowestAfter = t;
    before = t;
  }
  if (firstDrop < 0) return msgIds;
  let from = firstDrop - 1;
  while (from > live && at(from - 1) > lowestAfter) from--;
  const recent = msgIds.slice(from).map((id, i) => ({ id, i, at: ctx.records.get(id)!.submitted }));
  recent.sort((a, b) => a.at - b.at || a.i - b.i);
  for (let k = 0; k < recent.length; k++) msgIds[from + k] = recent[k]!.id;
  return msgIds;
}

const handlers: Partial<Record<MessageType, Handler>> = {
  // Counted as heard before dispatch, like every message of the client; it needs no reply.
  client_heartbeat() {},

  connect_request(ctx, _content, msg, reply) {
    // The client names itself with its identity in direct requests, so the records of its direct tasks point back at it.
    reply("connect_reply", { engines: [...ctx.registry.all()].map((e) => e.info()), snapshot: ctx.snapshot(), client: identityKey(msg.identities) });
  },

  async submit_request(ctx, content: MessageContents["submit_request"], msg) {
    const client = new ClientRef(identityKey(msg.identities), msg.identities);
    try {
      await ctx.router.submit(client, content.tasks, compactFrames(msg.buffers), content.fns);
    } catch (err) {
      if (err instanceof SubmitError) throw new BadRequest("SubmitError", err.message);
      throw err;
    }
  },

  async queue_status_request(ctx, content: MessageContents["queue_status_request"], _msg, reply) {
    const ids = targetsOf(content.targets);
    await ctx.directReported(undefined, ids);
    const engines = ids === null ? [...ctx.registry.alive()] : ids.map((id) => ctx.registry.byId(id));
    const status: Record<string, QueueStatus> = {};
    for (const [i, engine] of engines.entries()) {
      if (!engine) throw new BadRequest("InvalidTargetError", `there is no engine ${ids![i]}`);
      status[engine.id] = { queue: engine.outstanding, completed: engine.completed, failed: engine.failed };
      if (content.verbose) status[engine.id]!.tasks = engine.held().map((r) => r.msgId);
    }
    reply("queue_status_reply", { engines: status, unassigned: ctx.router.balancer.waiting });
  },

  async abort_request(ctx, content: MessageContents["abort_request"], msg, reply) {
    if (content.msgIds !== undefined && !isStringList(content.msgIds)) throw new BadRequest("BadRequest", "msgIds must be strings");
    const targets = targetsOf(content.targets) ?? undefined;
    const client = new ClientRef(identityKey(msg.identities), msg.identities);
    // Direct tasks of other clients are aborted by msg id only once their engine has reported them.
    await ctx.directReported(content.msgIds, targets);
    reply("abort_reply", { aborted: ctx.router.abort(client, content.msgIds, targets) });
  },

  async result_request(ctx, content: MessageContents["result_request"], msg, reply) {
    if (!Array.isArray(content.msgIds)) throw new BadRequest("BadRequest", "msgIds must be strings");
    if (content.msgIds.length > MAX_RESULT_IDS) {
      throw new BadRequest("BadRequest", `a result_request may name at most ${MAX_RESULT_IDS} msgIds, this one names ${content.msgIds.length}: ask in parts`);
    }
    if (!isStringList(content.msgIds)) throw new BadRequest("BadRequest", "msgIds must be strings");
    await ctx.directReported(content.msgIds);
    const records = [];
    const buffers: Buffer[] = [];
    const unknown: string[] = [];
    const evicted: string[] = [];
    const slice = new Slice();
    const asker = new ClientRef(identityKey(msg.identities), msg.identities);
    for (const msgId of content.msgIds) {
      if (slice.due()) await slice.yield();
      ctx.router.adopt(msgId, asker);
      const found = findResult(ctx, msgId);
      if (!found) {
        unknown.push(msgId);
        continue;
      }
      records.push(found.info);
      for (const frame of found.frames) buffers.push(frame);
      if (found.evicted) evicted.push(msgId);
    }
    // Which ids are forgotten, and which results were dropped to bound memory, go in metadata.
    reply("result_reply", { records }, { buffers, metadata: { unknown, evicted } });
  },

  async history_request(ctx, content: MessageContents["history_request"], _msg, reply) {
    const label = typeof content?.label === "string" ? content.label : undefined;
    await ctx.directReported();
    const msgIds = inSubmissionOrder(ctx, await ctx.store.history());
    const chosen = label === undefined ? msgIds : msgIds.filter((id) => ctx.records.get(id)?.label === label);
    await inPieces(chosen.length, HISTORY_PIECE, (from, to, more) => reply("history_reply", { msgIds: chosen.slice(from, to), ...(more ? { more } : {}) }));
  },

  async db_query_request(ctx, content: MessageContents["db_query_request"], _msg, reply) {
    try {
      const keys = checkKeys(content.keys);
      const matches = compileFilter(content.filter);
      await ctx.directReported();
      const found = await ctx.store.find(matches);
      await inPieces(found.length, DB_QUERY_PIECE, (from, to, more) => {
        const records: Partial<TaskDbRecord>[] = new Array(to - from);
        for (let i = from; i < to; i++) records[i - from] = project(found[i]!, keys);
        reply("db_query_reply", { records, ...(more ? { more } : {}) });
      });
    } catch (err) {
      if (err instanceof QueryError) throw new BadRequest("QueryError", err.message);
      throw err;
    }
  },

  async resubmit_request(ctx, content: MessageContents["resubmit_request"], msg, reply) {
    const client = new ClientRef(identityKey(msg.identities), msg.identities);
    if (isStringList(content.msgIds)) await ctx.directReported(content.msgIds);
    try {
      const resubmitted = ctx.router.resubmit(client, content.msgIds, content.newMsgIds);
      const kinds: Record<string, TaskKind> = {};
      for (const newId of Object.values(resubmitted)) {
        const record = ctx.records.get(newId);
        if (record) kinds[newId] = record.kind;
      }
      reply("resubmit_reply", { resubmitted, kinds });
    } catch (err) {
      if (err instanceof SubmitError) throw new BadRequest("ResubmitError", err.message);
      throw err;
    }
  },

  async purge_request(ctx, content: MessageContents["purge_request"], _msg, reply) {
    const { msgIds } = content;
    if (msgIds !== "all" && !isStringList(msgIds)) throw new BadRequest("BadRequest", 'msgIds must be strings or "all"');
    await ctx.directReported(msgIds === "all" ? undefined : msgIds);
    if (msgIds !== "all") {
      const pending = msgIds.filter((id) => ctx.records.get(id)?.pending);
      if (pending.length) throw new BadRequest("PendingTaskError", `task(s) ${pending.join(", ")} are pending: only finished tasks can be purged`);
    }
    const purged = await ctx.store.purge(msgIds);
    // The store's own copy is gone; the controller's live copy of the same records goes too.
    if (ctx.store.kind !== "memory") for (const id of msgIds === "all" ? ctx.records.history() : msgIds) ctx.records.purge(id);
    reply("purge_reply", { purged });
  },

  interrupt_request(ctx, content: MessageContents["interrupt_request"], _msg, reply) {
    reply("interrupt_reply", { engines: ctx.control.interrupt(aliveTargets(ctx, content.targets)) });
  },

  engine_stop_request(ctx, content: MessageContents["engine_stop_request"], _msg, reply) {
    reply("engine_stop_reply", { engines: ctx.control.stop(aliveTargets(ctx, content.targets)) });
  },

  shutdown_request(ctx, content: MessageContents["shutdown_request"], _msg, reply) {
    const targets = targetsOf(content.targets);
    if (content.hub) {
      void ctx.shutdownHub("shutdown requested by a client", targets, (engines) => reply("shutdown_reply", { engines }));
      return;
    }
    reply("shutdown_reply", { engines: ctx.control.stop(aliveTargets(ctx, targets)) });
  },

  async status_request(ctx, _content, _msg, reply) {
    await ctx.directReported();
    reply("status_reply", ctx.snapshot());
  },
};

/** Handles one message from the client ROUTER; replies go to the sender with parent = its header. */
export function handleClientMessage(ctx: ControllerContext, msg: Message): void | Promise<void> {
  const reply: Reply = (type, content, options = {}) =>
    ctx.clientSender.send(type, content, { identities: msg.identities, parent: msg.header, ...options });
  const type = msg.header.msg_type as MessageType;
  ctx.clients.heard(msg.header.session, identityKey(msg.identities), type === "client_heartbeat");
  const handler = Object.hasOwn(handlers, type) ? handlers[type] : undefined;
  if (!handler) {
    ctx.log.warn(`unknown request type ${JSON.stringify(type)} from a client`);
    reply("error_reply", { ename: "UnknownMessageType", evalue: `the controller does not handle ${type}` });
    return;
  }
  const failed = (err: unknown): void => {
    if (err instanceof BadRequest) {
      ctx.log.warn(`${type} refused: ${err.message}`);
      reply("error_reply", { ename: err.ename, evalue: err.message });
    } else {
      // A bug here must not leave the client waiting forever for its reply.
      ctx.log.error(`${type} failed: ${(err as Error).stack ?? String(err)}`);
      reply("error_reply", { ename: "ControllerError", evalue: (err as Error).message ?? String(err) });
    }
  };
  let working: void | Promise<void>;
  try {
    working = handler(ctx, msg.content as never, msg, reply);
  } catch (err) {
    failed(err);
    return;
  }
  if (working) return working.catch(failed);
}
