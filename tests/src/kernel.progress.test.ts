import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Message } from "@tsparallel/protocol";
import { sharedCluster } from "./support/cluster-fixture.js";
import { KernelClient, PROGRESS_MIME, plainOutputs, type Executed } from "./support/kernel-client.js";

interface Progress {
  done: number;
  failed: number;
  total: number;
  rate: number;
  etaMs?: number;
  ready: boolean;
}

type Output = Message<Record<string, unknown>>;

/** The progress displays of one cell: each display_id with its bundles in the order sent. */
function progressDisplays(outputs: Output[]): Map<string, { type: string; text: string; info: Progress }[]> {
  const displays = new Map<string, { type: string; text: string; info: Progress }[]>();
  for (const m of outputs) {
    if (m.header.msg_type !== "display_data" && m.header.msg_type !== "update_display_data") continue;
    const data = m.content.data as Record<string, unknown>;
    if (data[PROGRESS_MIME] === undefined) continue;
    const id = (m.content.transient as { display_id: string }).display_id;
    const list = displays.get(id) ?? [];
    list.push({ type: m.header.msg_type, text: String(data["text/plain"]), info: data[PROGRESS_MIME] as Progress });
    displays.set(id, list);
  }
  return displays;
}

/** Progress in the cell (issue 10): ipyparallel's wait_interactive, shown by itself for long awaits. */
describe("kernel: progress of awaited results", () => {
  const cluster = sharedCluster({ n: 2 });
  let kernel: KernelClient;
  const ok = async (code: string): Promise<Executed> => {
    const executed = await kernel.execute(code);
    assert.equal(executed.reply.content.status, "ok", JSON.stringify(executed.reply.content));
    return executed;
  };

  before(async () => {
    kernel = await KernelClient.start();
    await ok(
      `import { Client } from "tsparallel";\nconst rc = await Client.connect({ connectionFile: ${JSON.stringify(cluster().cluster.clientFile)} });\nawait rc.waitForEngines(2);\nconst lv = rc.loadBalancedView();\n` +
        // 12 tasks of 400 ms on 2 engines: well over a second, results coming in pairs; every 4th one throws.
        "async function slow(x: number) { await new Promise((r) => setTimeout(r, 400)); if (x % 4 === 3) throw new RangeError(`bad ${x}`); return x; }",
    );
  });
  after(() => kernel.close());

  test("a long `await lv.map(...)` shows a progress display updated in place, ended by a 'done' line with the counts", async () => {
    const { outputs } = await ok("let caught = '';\ntry { await lv.map(slow, Array.from({ length: 12 }, (_, i) => i)) } catch (err) { caught = (err as Error).name }\ncaught");
    assert.deepEqual(plainOutputs(outputs), ["'CompositeError'"]);
    const displays = progressDisplays(outputs);
    assert.equal(displays.size, 1, "one progress display");
    const [shown] = displays.values();
    assert.equal(shown![0]!.type, "display_data");
    assert.ok(shown!.slice(1).every((d) => d.type === "update_display_data"));
    const running = shown!.filter((d) => !d.info.ready);
    assert.ok(running.length >= 2, `the display was updated while the map ran: ${shown!.map((d) => d.text).join(" | ")}`);
    assert.ok(running.every((d) => d.info.total === 12 && d.info.done < 12 && /^\d+\/12 tasks finished/.test(d.text)));
    assert.ok(new Set(running.map((d) => d.info.done)).size >= 2, "the count moved between updates");
    const last = shown!.at(-1)!;
    assert.deepEqual([last.info.done, last.info.failed, last.info.total, last.info.ready], [12, 3, 12, true]);
    assert.match(last.text, /^12\/12 tasks done \(3 failed\) in [\d.]+ s, [\d.]+ tasks\/s$/);
    assert.equal(shown!.filter((d) => d.info.ready).length, 1, "one final line");
    // The final line goes out before the cell replies, not after.
    const lastIndex = outputs.findLastIndex((m) => (m.content.data as Record<string, unknown> | undefined)?.[PROGRESS_MIME] !== undefined);
    const resultIndex = outputs.findIndex((m) => m.header.msg_type === "execute_result");
    assert.ok(lastIndex < resultIndex);
  });

  test("a fast `await lv.map(...)` shows no progress display", async () => {
    const { outputs } = await ok("await lv.map((x: number) => x * 2, [1, 2, 3])");
    assert.deepEqual(plainOutputs(outputs), ["[ 2, 4, 6 ]"]);
    assert.equal(progressDisplays(outputs).size, 0);
  });

  test("ar.display() shows the progress at once, also for a result already done", async () => {
    const { outputs } = await ok("const ar = lv.map(slow, [0, 1, 2]);\nawait ar.display();\nawait ar");
    assert.deepEqual(plainOutputs(outputs), ["[ 0, 1, 2 ]"]);
    const [shown] = progressDisplays(outputs).values();
    assert.ok(shown, "a progress display");
    assert.equal(shown[0]!.type, "display_data");
    assert.equal(shown[0]!.info.ready, false);
    assert.match(shown.at(-1)!.text, /^3\/3 tasks done in /);
    const again = progressDisplays((await ok("await ar.display()")).outputs);
    assert.deepEqual([...again.values()].map((list) => list.map((d) => [d.type, d.info.done, d.info.ready])), [[["display_data", 3, true]]]);
  });
});
