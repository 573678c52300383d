/**
 * Fuzzing a live cluster (issue 8) with fast-check: random frames, unsigned and wrongly signed tasks,
 * rightly signed messages with arbitrary, deeply nested or oversized content, and replays (in Jupyter's
 * form and in the compact one-frame form), thrown at the controller's client, engine, heartbeat and
 * events ports. After every batch: every process is alive, no code ran without the key, the
 * controller's memory is back within a bound and the cluster answers; no peer on the events port hears
 * an event without a signed events_subscribe, and the real client still does.
 * Bounded in runs and time so that it stays well under a minute.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import fc from "fast-check";
import * as zmq from "zeromq";
import { DELIMITER, Signer, newHeader, readConnectionFile, url, type MessageType } from "@tsparallel/protocol";
import { eventually, isRunning, sharedCluster } from "./support/cluster-fixture.js";
import { executeTask, rawCompactFrames, rawSignedFrames } from "./support/raw-peer.js";
import { compositeOf } from "./support/remote-errors.js";

// Small limits for this file's cluster, so that "oversized" is cheap to send.
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
const MAX_JSON_BYTES = 1024 * 1024;
process.env.TSPARALLEL_MAX_MESSAGE_BYTES = String(MAX_MESSAGE_BYTES);
process.env.TSPARALLEL_MAX_JSON_BYTES = String(MAX_JSON_BYTES);

/** How far the controller's resident memory may stay above its level before the fuzzing. */
const RSS_SLACK_BYTES = 256 * 1024 * 1024;
const FORGED_MARKER = "fuzzPwned";
const DEEP_MARKER = "fuzzDeepRan";

function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
}

const MSG_TYPES: MessageType[] = [
  "submit_request", "queue_status_request", "result_request", "history_request", "db_query_request", "resubmit_request",
  // engine_stop_request is left out: a key holder may stop engines, and that is not a fault.
  "purge_request", "interrupt_request", "status_request", "registration_request", "heartbeat",
  "task_reply", "client_heartbeat", "unregistration_request", "events_subscribe", "events_unsubscribe",
];

type Port = "client" | "engine" | "heartbeat" | "events";
/** Each signed shot goes in Jupyter's form or in the compact one-frame form the cluster speaks (issue 13). */
type Shot =
  | { kind: "frames"; port: Port; frames: Uint8Array[] }
  | { kind: "forged"; port: Port; key: "none" | "wrong"; compact: boolean }
  | { kind: "signed"; port: Port; msgType: string; content: unknown; compact: boolean }
  | { kind: "deep"; port: Port; depth: number; compact: boolean }
  | { kind: "oversized-frame"; port: Port }
  | { kind: "oversized-json"; port: Port; compact: boolean }
  | { kind: "replay"; port: Port; compact: boolean }
  | { kind: "subscribe"; port: Port; key: "right" | "wrong" | "none"; compact: boolean };

const port = fc.constantFrom<Port>("client", "engine", "heartbeat", "events");
const compact = fc.boolean();
const shot: fc.Arbitrary<Shot> = fc.oneof(
  fc.record({ kind: fc.constant("frames" as const), port, frames: fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant("forged" as const), port, key: fc.constantFrom("none" as const, "wrong" as const), compact }),
  fc.record({ kind: fc.constant("signed" as const), port, msgType: fc.oneof(fc.constantFrom(...MSG_TYPES), fc.string({ maxLength: 20 })), content: fc.jsonValue({ maxDepth: 6 }), compact }),
  fc.record({ kind: fc.constant("deep" as const), port, depth: fc.integer({ min: 300, max: 20_000 }), compact }),
  fc.record({ kind: fc.constant("oversized-frame" as const), port }),
  fc.record({ kind: fc.constant("oversized-json" as const), port, compact }),
  fc.record({ kind: fc.constant("replay" as const), port, compact }),
  fc.record({ kind: fc.constant("subscribe" as const), port, key: fc.constantFrom("right" as const, "wrong" as const, "none" as const), compact }),
);

describe("fuzzing a live cluster", () => {
  const shared = sharedCluster();

  test("random, forged, malformed, oversized, deep and replayed messages: no crash, no forged code, bounded memory", { timeout: 120_000 }, async (t) => {
    const { client, ids } = shared();
    const clientInfo = readConnectionFile(client.connectionFile, "client");
    const engineInfo = readConnectionFile(client.connectionFile.replace(/client\.json$/, "engine.json"), "engine");
    const controllerPid = clientInfo.controller.pid;
    const enginePids = (await client.status()).engines.map((e) => e.pid);
    const signer = new Signer(clientInfo.key);
    const endpoints: Record<Port, string> = {
      client: url(clientInfo, clientInfo.ports.client),
      engine: url(engineInfo, engineInfo.ports.engine),
      heartbeat: url(engineInfo, engineInfo.ports.heartbeat),
      events: url(clientInfo, clientInfo.ports.events),
    };
    // Events port peers that heard something without having subscribed with a signed events_subscribe.
    const unauthorisedReaders: string[] = [];
    const listen = (dealer: zmq.Dealer, s: Shot) => {
      const subscribed = (s.kind === "signed" && s.msgType === "events_subscribe") || (s.kind === "subscribe" && s.key === "right");
      void (async () => {
        try {
          for await (const frames of dealer) if (!subscribed) unauthorisedReaders.push(`${s.kind} shot heard ${frames.length} frame(s)`);
        } catch {
          // The peer was closed.
        }
      })();
    };
    const all = client.directView();
    const formOf = (compactForm: boolean) => (compactForm ? rawCompactFrames : rawSignedFrames);
    const forgedTask = (s: Signer, compactForm: boolean) => formOf(compactForm)(s, newHeader("submit_request", "fuzz"), JSON.stringify({ tasks: [executeTask(ids, `var ${FORGED_MARKER} = true`)] }));
    // One rightly signed task per form, captured once and replayed by every "replay" shot: each must run once.
    const captured = rawSignedFrames(signer, newHeader("submit_request", "fuzz"), JSON.stringify({ tasks: [executeTask(ids, "globalThis.fuzzReplays = (globalThis.fuzzReplays ?? 0) + 1")] }));
    const capturedCompact = rawCompactFrames(signer, newHeader("submit_request", "fuzz"), JSON.stringify({ tasks: [executeTask(ids, "globalThis.fuzzReplaysCompact = (globalThis.fuzzReplaysCompact ?? 0) + 1")] }));
    const peers: zmq.Dealer[] = [];
    // Events port peers stay until the end, so that a subscription that wrongly took would hear the last events.
    const listeners: zmq.Dealer[] = [];
    const peer = (p: Port) => {
      const dealer = new zmq.Dealer({ linger: 0, sendTimeout: 2000 });
      dealer.connect(endpoints[p]);
      (p === "events" ? listeners : peers).push(dealer);
      return dealer;
    };

    const framesOf = (s: Shot): Buffer[] => {
      switch (s.kind) {
        case "frames": return s.frames.map((f) => Buffer.from(f));
        case "forged": return forgedTask(new Signer(s.key === "none" ? "" : `${clientInfo.key}x`), s.compact);
        case "signed": {
          const content = JSON.stringify(s.content) ?? "null";
          return formOf(s.compact)(signer, { ...newHeader("status_request", "fuzz"), msg_type: s.msgType }, content);
        }
        case "deep": {
          // A rightly signed task carrying a field nested past the limit: dropped whole, never run.
          const task = JSON.stringify(executeTask(ids, `var ${DEEP_MARKER} = true`)).slice(0, -1);
          return formOf(s.compact)(signer, newHeader("submit_request", "fuzz"), `{"tasks":[${task},"extra":${"[".repeat(s.depth)}${"]".repeat(s.depth)}}]}`);
        }
        case "oversized-frame": return [DELIMITER, Buffer.alloc(MAX_MESSAGE_BYTES + 1024, 0x20)];
        case "oversized-json": return formOf(s.compact)(signer, newHeader("submit_request", "fuzz"), `{"pad":"${"x".repeat(MAX_JSON_BYTES + 16)}"}`);
        case "replay": return s.compact ? capturedCompact : captured;
        case "subscribe": {
          const key = s.key === "right" ? signer : new Signer(s.key === "none" ? "" : `${clientInfo.key}x`);
          return formOf(s.compact)(key, newHeader("events_subscribe", "fuzz"), "{}");
        }
      }
    };

    try {
      await peer("client").send(captured);
      await peer("client").send(capturedCompact);
      await eventually("the captured task to run once", () => all.pull("fuzzReplays").get(20_000).then(() => true, () => false));
      await eventually("the captured compact task to run once", () => all.pull("fuzzReplaysCompact").get(20_000).then(() => true, () => false));
      const rssBefore = rssOf(controllerPid);
      let batches = 0;
      let eventsShots = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(shot, { minLength: 1, maxLength: 12 }), async (batch) => {
          batches++;
          for (const s of batch) {
            // A fresh peer per shot: ZeroMQ drops a peer that sent an oversized message.
            const dealer = peer(s.port);
            if (s.port === "events") {
              eventsShots++;
              listen(dealer, s);
            }
            await dealer.send(framesOf(s)).catch(() => undefined);
          }
          assert.deepEqual(await all.apply(() => 1).get(30_000), ids.map(() => 1), "the cluster answers");
          assert.ok(isRunning(controllerPid), "the controller is alive");
          for (const pid of enginePids) assert.ok(isRunning(pid), `engine ${pid} is alive`);
          for (const d of peers.splice(0)) d.close();
        }),
        { numRuns: 60, interruptAfterTimeLimit: 40_000, markInterruptAsFailure: false, endOnFailure: true, ...(process.env.FUZZ_SEED && { seed: Number(process.env.FUZZ_SEED) }) },
      ).catch((err: Error) => {
        // fast-check keeps the failed assertion in `cause`: put it in the message the test runner prints.
        const logFile = shared().cluster.controller.logFile;
        const logTail = logFile ? readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n") : "";
        throw new Error(`${err.message}\ncaused by: ${(err.cause as Error | undefined)?.stack ?? "?"}\ncontroller log:\n${logTail}`);
      });
      assert.ok(batches > 0);
      t.diagnostic(`${batches} batches, ${eventsShots} shots at the events port`);
      // The real client is still subscribed: a task makes the snapshot change, and it hears the new one (twice,
      // so that the first one has reached every events port peer too).
      for (let i = 0; i < 2; i++) {
        const snapshot = once(client.events, "cluster_snapshot");
        await all.apply(() => 1).get(30_000);
        await Promise.race([snapshot, sleep(30_000, undefined, { ref: false }).then(() => Promise.reject(new Error("the real client heard no cluster_snapshot after the fuzzing")))]);
      }
      assert.deepEqual(unauthorisedReaders, [], "no events without a signed subscription");
      await assert.rejects(all.pull(FORGED_MARKER).get(20_000), compositeOf("NameError", ids.length), "no forged task ran");
      await assert.rejects(all.pull(DEEP_MARKER).get(20_000), compositeOf("NameError", ids.length), "no over-deep task ran");
      assert.deepEqual(await all.pull("fuzzReplays").get(20_000), ids.map(() => 1), "a replayed task ran again");
      assert.deepEqual(await all.pull("fuzzReplaysCompact").get(20_000), ids.map(() => 1), "a replayed compact task ran again");
      const grown = rssOf(controllerPid) - rssBefore;
      assert.ok(grown < RSS_SLACK_BYTES, `the controller grew by ${Math.round(grown / 1048576)} MiB`);
    } finally {
      for (const d of [...peers, ...listeners]) d.close();
    }
  });
});
