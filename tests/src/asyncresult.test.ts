/**
 * AsyncResult and AsyncMapResult against a real cluster: the TypeScript counterparts of
 * ipyparallel's test_asyncresult.py (the bracketed name in each title is the ipyparallel test).
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { AsyncResult, Client, CompositeError, RemoteError, TaskAbortedError, TimeoutError, ref, type OutputEvent } from "tsparallel";
import { privateRoot, sharedCluster } from "./support/cluster-fixture.js";
import { compositeOf, instanceOf, remoteError } from "./support/remote-errors.js";

const nap = async (ms: number): Promise<number> => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
};
const echo = <T>(x: T): T => x;

const shared = sharedCluster({ n: 2 });

describe("values", () => {
  test("a single-engine view gives the bare value, a list view a list [test_single_result_view, test_not_single_result]", async () => {
    const { client, ids } = shared();
    const eid = ids.at(-1)!;
    const bare: number = await client.directView(eid).apply(() => 42);
    assert.equal(bare, 42);
    const listed: number[] = await client.directView([eid]).apply(() => 42);
    assert.deepEqual(listed, [42]);
  });

  test("get after the result is in gives the same value every time [test_get_after_done]", async () => {
    const { client, ids } = shared();
    const ar = client.directView(ids.at(-1)!).apply(() => 42);
    assert.equal(await ar.wait(), true);
    assert.equal(ar.ready(), true);
    assert.equal(ar.progress, 1);
    assert.equal(ar.successful(), true);
    assert.equal(await ar.get(), 42);
    assert.equal(await ar.get(0), 42);
    assert.equal(await ar, 42);
  });

  test("get before the result is in times out without losing it [test_get_before_done]", async () => {
    const { client, ids } = shared();
    const ar = client.directView(ids.at(-1)!).apply(nap, 800);
    await assert.rejects(ar.get(0), instanceOf(TimeoutError, /1 of 1 tasks not done/));
    assert.equal(await ar.wait(0), false);
    assert.equal(ar.ready(), false);
    assert.throws(() => ar.successful(), /not ready/);
    assert.equal(await ar.get(20_000), 800);
  });

  test("get after an error rejects with the same remote error every time [test_get_after_error]", async () => {
    const { client, ids } = shared();
    const ar = client.directView(ids.at(-1)!).apply(() => {
      throw new RangeError("one over zero");
    });
    assert.equal(await ar.wait(20_000), true);
    assert.equal(ar.successful(), false);
    const first = await ar.get().catch((e: unknown) => e);
    const second = await ar.get().catch((e: unknown) => e);
    remoteError("RangeError", ids.at(-1))(first);
    assert.equal(second, first);
    assert.equal((first as RemoteError).evalue, "one over zero");
    assert.equal(ar.metadata[0]!.error, first);
  });

  test("values and engine ids line up, one per engine [test_get_dict]", async () => {
    const { client, ids } = shared();
    const ar = client.directView().apply(() => 5);
    assert.deepEqual(await ar, [5, 5]);
    assert.deepEqual(ar.engineIds, ids);
    const d = await ar.getDict<number>();
    assert.deepEqual(Object.keys(d).map(Number).sort((a, b) => a - b), ids);
    for (const id of ids) assert.equal(d[id], 5);
  });

  test("getDict refuses when several tasks ran on one engine [test_get_dict_bad]", async () => {
    const { client, ids } = shared();
    const amr = client.loadBalancedView().map((x: number) => x, Array.from({ length: ids.length * 2 }, (_, i) => i));
    await assert.rejects(amr.getDict(), instanceOf(RangeError, /cannot build a dict: \d tasks ran on engine/));
  });

  test("a single-engine result echoes values of any shape and names its engine [test_get_dict_single]", async () => {
    const { client, ids } = shared();
    const eid = ids.at(-1)!;
    const view = client.directView(eid);
    for (const v of [[0, 1, 2, 3, 4], 5, ["abc", "def"], "string", { nested: { deep: [null] } }, null]) {
      const ar = view.apply(echo, v);
      assert.deepEqual(await ar, v);
      assert.deepEqual(ar.engineIds, [eid]);
      assert.deepEqual(await ar.getDict(), { [eid]: v });
    }
  });

  test("a load-balanced result knows its engine only once it ran [test_single_result, test_getattr, test_getitem]", async () => {
    const { client, ids } = shared();
    const ar = client.loadBalancedView().apply(nap, 300);
    assert.deepEqual(ar.engineIds, [null]);
    await ar;
    assert.ok(ids.includes(ar.engineIds[0]!), `engine ${ar.engineIds[0]}`);
    assert.equal(ar.metadata[0]!.status, "ok");
  });

  test("length counts tasks: map chunks, one apply, one per engine [test_len]", async () => {
    const { client } = shared();
    const lv = client.loadBalancedView();
    const items = Array.from({ length: 10 }, (_, i) => i);
    const mapped = lv.map((x: number) => x, items);
    assert.equal(mapped.length, 10);
    assert.equal(lv.map((x: number) => x, items, { chunkSize: 4 }).length, 3);
    assert.equal(lv.apply((x: number[]) => x, items).length, 1);
    assert.equal(client.directView().apply((x: number[]) => x, items).length, 2);
    assert.equal(client.directView().map((x: number) => x, items).length, 2);
    await mapped;
  });

  test("results are thenables: Promise.all, then and catch work [test_await_future]", async () => {
    const { client, ids } = shared();
    const view = client.directView(ids[0]!);
    const [a, b] = await Promise.all([view.apply(() => 1), view.apply(() => "two")]);
    assert.equal(a, 1);
    assert.equal(b, "two");
    assert.equal(await view.apply(() => 20).then((x) => x + 1), 21);
    const caught = await view.apply(() => {
      throw new Error("nope");
    }).catch((e: unknown) => (e as RemoteError).evalue);
    assert.equal(caught, "nope");
  });
});

describe("iteration", () => {
  test("iterating a map result yields each item's value [test_iter_amr]", async () => {
    const { client } = shared();
    const seen: number[] = [];
    for await (const r of client.loadBalancedView().map(nap, [125, 125, 125, 125, 125])) seen.push(r);
    assert.deepEqual(seen, [125, 125, 125, 125, 125]);
  });

  test("iterating a multi-engine result yields each engine's value [test_iter_multi_result_ar]", async () => {
    const { client } = shared();
    const seen: unknown[] = [];
    for await (const r of client.directView().apply(nap, 125)) seen.push(r);
    assert.deepEqual(seen, [125, 125]);
  });

  test("iterating a failed map throws the remote error, before and after it is all in [test_iter_error]", async () => {
    const { client } = shared();
    const amr = client.directView().map((x: number) => {
      if (x === 2) throw new RangeError("x is 2");
      return 1 / (x - 2);
    }, [0, 1, 2, 3, 4]);
    const before: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const r of amr) before.push(r);
      })(),
      remoteError("RangeError"),
    );
    // The first engine's chunk [0, 1] came through before the failing one.
    assert.deepEqual(before, [-0.5, -1]);
    await assert.rejects(amr.get(20_000), compositeOf("RangeError", 1));
    assert.equal(await amr.wait(20_000), true);
    await assert.rejects(
      (async () => {
        for await (const r of amr) void r;
      })(),
      remoteError("RangeError"),
    );
  });

  test("a map made with returnExceptions gives each error in its place [test_return_exceptions]", async () => {
    const { client } = shared();
    const failOn2 = (n: number) => {
      if (n === 2) throw new RangeError("two!");
      return n;
    };
    const amr = client.loadBalancedView().map(failOn2, [0, 1, 2, 3], { returnExceptions: true });
    assert.equal(amr.returnExceptions, true);
    const iterated: (number | Error)[] = [];
    for await (const r of amr) iterated.push(r);
    const error = iterated[2];
    remoteError("RangeError")(error);
    assert.deepEqual(iterated, [0, 1, error, 3]);
    const awaited: (number | Error)[] = await amr;
    assert.deepEqual(awaited, [0, 1, error, 3]);
    // A failed chunk stands once per item, so the result still lines up with the input.
    const chunked = await client.loadBalancedView().map(failOn2, [0, 1, 2, 3, 4], { chunkSize: 2, returnExceptions: true });
    assert.equal(chunked.length, 5);
    assert.deepEqual([chunked[0], chunked[1], chunked[4]], [0, 1, 4]);
    remoteError("RangeError")(chunked[2]);
    assert.equal(chunked[2], chunked[3]);
    // DirectView maps take the option too.
    const direct = await client.directView().map(failOn2, [1, 2], { returnExceptions: true });
    assert.equal(direct[0], 1);
    remoteError("RangeError")(direct[1]);
  });

  test("get(timeout, { returnExceptions: true }) after a failure gives the other engines' values [test_return_exceptions_postmortem]", async () => {
    const { client, ids } = shared();
    const dv = client.directView();
    const bad = ids[1]!;
    await dv.scatter("flatRank", ids, { flatten: true });
    const failOnBad = (rank: number, badId: number) => {
      if (rank === badId) throw new RangeError(`${rank} is bad!`);
      return rank;
    };
    const ar = dv.apply(failOnBad, ref<number>("flatRank"), bad);
    await assert.rejects(ar.get(20_000), instanceOf(CompositeError));
    const result = await ar.get(20_000, { returnExceptions: true });
    assert.equal(result[0], ids[0]);
    remoteError("RangeError", bad)(result[1]);
  });

  test("after a partial failure each task's status, error and engine are kept", async () => {
    const { client, ids } = shared();
    const dv = client.directView();
    const bad = ids[1]!;
    await dv.scatter("rankOf", ids);
    const failOnBad = (rank: number[], badId: number) => {
      if (rank[0] === badId) throw new RangeError(`${rank[0]} is bad!`);
      return rank[0]!;
    };
    const ar = dv.apply(failOnBad, ref<number[]>("rankOf"), bad);
    const err = await ar.get(20_000).catch((e: unknown) => e);
    assert.ok(err instanceof CompositeError, String(err));
    assert.deepEqual(ar.metadata.map((m) => m.status), ["ok", "error"]);
    assert.equal(ar.metadata[0]!.error, undefined);
    remoteError("RangeError", bad)(ar.metadata[1]!.error);
    assert.equal((ar.metadata[1]!.error as RemoteError).evalue, `${bad} is bad!`);
    assert.equal(err.errors[0], ar.metadata[1]!.error);
    // The good engine's value is still reachable by iterating up to the failure.
    const iterator = ar[Symbol.asyncIterator]();
    assert.deepEqual(await iterator.next(), { value: ids[0], done: false });
    await assert.rejects(iterator.next(), remoteError("RangeError", bad));
  });
});

describe("abort", () => {
  test("ar.abort() aborts a task queued behind a running one [test_abort]", async () => {
    const { client, ids } = shared();
    const e = client.directView(ids.at(-1)!);
    const running = e.apply(nap, 1000);
    const queued = e.apply(() => 2);
    await queued.abort();
    await assert.rejects(queued.get(20_000), instanceOf(TaskAbortedError));
    assert.equal(await running.get(20_000), 1000);
  });

  test("aborting a finished result does nothing", async () => {
    const { client, ids } = shared();
    const ar = client.directView(ids[0]!).apply(() => "done");
    assert.equal(await ar, "done");
    await ar.abort();
    assert.equal(await ar.get(0), "done");
  });
});

describe("metadata and output", () => {
  test("timestamps are consistent and the time totals derive from them [test_wall_time_*, test_serial_time_*, test_elapsed_*]", async () => {
    const { client } = shared();
    const ar = client.directView().apply(nap, 250);
    assert.equal(typeof ar.wallTime, "number");
    await ar;
    for (const m of ar.metadata) {
      assert.ok(m.started !== undefined && m.completed !== undefined && m.received !== undefined, JSON.stringify(m));
      assert.ok(m.started <= m.completed, "started <= completed");
      assert.ok(m.submitted <= m.received, "submitted <= received");
    }
    const serial = ar.metadata.reduce((sum, m) => sum + (m.completed! - m.started!), 0);
    assert.equal(ar.serialTime, serial);
    const wall = Math.max(...ar.metadata.map((m) => m.received!)) - Math.min(...ar.metadata.map((m) => m.submitted));
    assert.equal(ar.wallTime, wall);
    // Durations cover the work: each engine slept 250 ms, so neither total can be shorter (lower
    // bounds only, with 10 ms for clock granularity: upper bounds would be speed checks).
    assert.ok(ar.wallTime >= 240, `wallTime ${ar.wallTime}`);
    assert.ok(ar.serialTime >= 240 * ar.length, `serialTime ${ar.serialTime} over ${ar.length} tasks`);
    const lb = client.loadBalancedView().apply(nap, 250);
    await lb;
    assert.ok(lb.wallTime >= 240 && lb.serialTime >= 240 && lb.serialTime <= lb.wallTime + 50, `wall ${lb.wallTime}, serial ${lb.serialTime}`);
  });

  test("another client reads the same record: value, engine and timestamps [test_hubresult_timestamps, test_get_result]", async () => {
    const { client, cluster } = shared();
    const ar = client.directView().apply(nap, 100);
    await ar;
    const other = await cluster.connect({ activate: false });
    try {
      for (const [i, msgId] of ar.msgIds.entries()) {
        const record = await other.getResult(msgId);
        const mine = ar.metadata[i]!;
        assert.equal(record.pending, false);
        assert.equal(record.status, "ok");
        assert.equal(record.engineId, mine.engineId);
        assert.equal(record.started, mine.started);
        assert.equal(record.completed, mine.completed);
        assert.equal(record.value, 100);
      }
    } finally {
      other.close();
    }
  });

  test("stdout and stderr are kept per task, and empty when nothing was printed", async () => {
    const { client } = shared();
    const view = client.directView();
    const printed = view.execute("console.log(5555)");
    await printed;
    assert.deepEqual(printed.stdout, ["5555\n", "5555\n"]);
    assert.deepEqual(printed.stderr, ["", ""]);
    const quiet = view.execute("const quietA = 5");
    await quiet;
    assert.deepEqual(quiet.stdout, ["", ""]);
    assert.deepEqual(quiet.stderr, ["", ""]);
    const applied = client.directView(client.ids[0]!).apply(() => {
      console.log("out");
      console.error("err");
      process.stdout.write("raw");
      return 1;
    });
    await applied;
    assert.deepEqual(applied.stdout, ["out\nraw"]);
    assert.deepEqual(applied.stderr, ["err\n"]);
  });

  test("displayOutputs prints each engine's streams with their prefix, by type or by engine [test_display_empty_streams_single, test_display_empty_streams_type, test_display_empty_streams_engine]", async () => {
    const { client, ids } = shared();
    const sink = () => {
      const lines: string[] = [];
      return { lines, write: (text: string) => lines.push(text) };
    };
    const both = client.directView().apply(() => {
      console.log("5555");
      console.error("e");
    });
    await both;
    const [a, b] = ids;
    const out = sink();
    both.displayOutputs({ stdout: out, stderr: out });
    assert.deepEqual(out.lines, [`[stdout:${a}] 5555\n`, `[stdout:${b}] 5555\n`, `[stderr:${a}] e\n`, `[stderr:${b}] e\n`]);
    const byEngine = sink();
    both.displayOutputs({ groupby: "engine", stdout: byEngine, stderr: byEngine });
    assert.deepEqual(byEngine.lines, [`[stdout:${a}] 5555\n`, `[stderr:${a}] e\n`, `[stdout:${b}] 5555\n`, `[stderr:${b}] e\n`]);
    // Empty streams print nothing, on one engine and on several.
    const quiet = client.directView().execute("const displayQuiet = 5");
    await quiet;
    const empty = sink();
    quiet.displayOutputs({ stdout: empty, stderr: empty });
    const single = client.directView(a!).execute("const displayQuietOne = 5");
    await single;
    single.displayOutputs({ stdout: empty, stderr: empty });
    assert.deepEqual(empty.lines, []);
  });

  test("output streams to onOutput listeners while the task still runs [test_await_data]", async () => {
    const { client, ids } = shared();
    const eid = ids[0]!;
    const ar = client.directView(eid).apply(async () => {
      console.log("first");
      await new Promise((resolve) => setTimeout(resolve, 1500));
      console.log("second");
      return "done";
    });
    const events: OutputEvent[] = [];
    let readyAtFirstEvent: boolean | undefined;
    const unsubscribe = ar.onOutput((event) => {
      readyAtFirstEvent ??= ar.ready();
      events.push(event);
    });
    const ignored: OutputEvent[] = [];
    ar.onOutput((event) => ignored.push(event))();
    assert.equal(await ar.get(20_000), "done");
    unsubscribe();
    assert.equal(readyAtFirstEvent, false, "the first output arrived before the result");
    assert.equal(events[0]!.text.startsWith("first"), true, JSON.stringify(events));
    assert.deepEqual(
      events.map(({ msgId, index, engineId, name }) => ({ msgId, index, engineId, name })),
      events.map(() => ({ msgId: ar.msgIds[0], index: 0, engineId: eid, name: "stdout" })),
    );
    // What streamed is a prefix of the task's stdout; any rest came with the result.
    const streamed = events.map((e) => e.text).join("");
    assert.equal(ar.stdout[0], "first\nsecond\n");
    assert.ok(ar.stdout[0]!.startsWith(streamed), JSON.stringify(streamed));
    assert.deepEqual(ignored, []);
  });

  test("output of a task stuck in a synchronous loop streams while the loop runs (%%px --stream, ipyparallel's IOPub thread)", async () => {
    const { client, ids } = shared();
    const eid = ids[0]!;
    const ar = client.directView(eid).apply(() => {
      for (let i = 0; i < 3; i++) {
        console.log(i);
        const t = Date.now();
        while (Date.now() - t < 1000) {}
      }
      return "done";
    });
    const events: OutputEvent[] = [];
    let readyAtFirstEvent: boolean | undefined;
    ar.onOutput((event) => {
      readyAtFirstEvent ??= ar.ready();
      events.push(event);
    });
    assert.equal(await ar.get(30_000), "done");
    assert.equal(readyAtFirstEvent, false, `the first line arrived before the result: ${JSON.stringify(events)}`);
    assert.equal(events[0]!.text, "0\n", JSON.stringify(events));
    assert.equal(ar.stdout[0], "0\n1\n2\n");
    assert.ok(ar.stdout[0]!.startsWith(events.map((e) => e.text).join("")), JSON.stringify(events));
  });

  test("streamed output never arrives after its task's result: nothing lost, nothing twice, in order", async () => {
    const { client } = shared();
    const lv = client.loadBalancedView();
    const chatty = (n: number): number => {
      // Writes closer together than the stream interval: some lines stream, the last ones travel with the result.
      for (let k = 0; k < 5; k++) {
        console.log(`${n}:${k}`);
        const t = Date.now();
        while (Date.now() - t < 30) {}
      }
      console.log(`${n}:end`);
      return n;
    };
    const runs = Array.from({ length: 12 }, (_, n) => {
      const ar = lv.apply(chatty, n);
      const streamed: string[] = [];
      let afterResult = 0;
      ar.onOutput((event) => {
        if (ar.metadata[event.index]!.status !== undefined) afterResult++;
        streamed.push(event.text);
      });
      return { n, ar, streamed, afterResult: () => afterResult };
    });
    for (const { n, ar, streamed, afterResult } of runs) {
      assert.equal(await ar.get(60_000), n);
      const expected = [0, 1, 2, 3, 4, "end"].map((k) => `${n}:${k}\n`).join("");
      assert.equal(ar.stdout[0], expected, `task ${n}: the streamed part and the part in the result make the output once`);
      assert.ok(streamed.length > 0, `task ${n} streamed nothing while it ran`);
      assert.ok(expected.startsWith(streamed.join("")), `task ${n}: streamed ${JSON.stringify(streamed)}`);
      assert.equal(afterResult(), 0);
    }
  });

  test("an empty result is ready at once and gives its empty value", async () => {
    const { client } = shared();
    const amr = client.loadBalancedView().map((x: number) => x, []);
    assert.equal(amr.length, 0);
    assert.equal(amr.ready(), true);
    assert.deepEqual(await amr, []);
  });
});

describe("lifetime", () => {
  test("closing the client fails its outstanding tasks instead of leaving them pending", async () => {
    const { cluster } = shared();
    const own = await cluster.connect({ activate: false });
    const ar = own.directView(own.ids[0]!).apply(nap, 2000);
    own.close();
    await assert.rejects(ar.get(20_000), /closed/);
    assert.ok(ar instanceof AsyncResult);
    assert.notEqual(Client.active, own);
  });
});

describe("display data from engines", () => {
  test("display.* in executed code and in an applied function reaches each task's metadata, per engine [test_execute_displaypub, test_apply_displaypub, test_execute_reply_rich]", async () => {
    const { client, ids } = shared();
    const dv = client.directView(ids);
    const executed = dv.execute('display.html("<b>x</b>"); display.png(new Uint8Array([137, 80, 78, 71]))');
    await executed;
    const applied = dv.apply((n: number) => {
      (globalThis as unknown as { display: { html(html: string): void } }).display.html(`<i>${n}</i>`);
      return n;
    }, 7);
    assert.deepEqual(await applied, ids.map(() => 7));
    for (const [i, meta] of executed.metadata.entries()) {
      assert.deepEqual(meta.displays?.map((d) => d["text/html"] ?? d["image/png"]), ["<b>x</b>", "iVBORw=="], `engine ${ids[i]}`);
    }
    for (const meta of applied.metadata) assert.deepEqual(meta.displays?.map((d) => d["text/html"]), ["<i>7</i>"]);
  });
});

describe("published data from engines", () => {
  const publishFive = "for (let i = 0; i < 5; i++) publishData({ i })";

  test("one engine's published data is merged into ar.data, live while the task runs [test_data_pub_single]", { timeout: 60_000 }, async () => {
    const { client, ids } = shared();
    const view = client.directView(ids.at(-1)!);
    const ar = view.execute(publishFive);
    assert.deepEqual(ar.data, [{}], "an object per task before anything is published");
    await ar;
    assert.deepEqual(ar.data, [{ i: 4 }]);
    assert.deepEqual(ar.metadata[0]!.data, { i: 4 });

    // Live: the task publishes, then waits for a file that the test writes only once it saw the data.
    const gate = join(privateRoot(), `datapub-gate-${process.pid}`);
    const live = view.execute(
      `import { existsSync } from "node:fs";\n` +
        `publishData({ phase: "started", size: 2n, keep: new Map([["k", 1]]) });\n` +
        `while (!existsSync(${JSON.stringify(gate)})) await new Promise((r) => setTimeout(r, 10));\n` +
        `publishData({ phase: "done" })`,
    );
    while (live.data[0]!.phase !== "started") await nap(10);
    assert.equal(live.ready(), false, "the data arrived while the task was still waiting for the gate");
    writeFileSync(gate, "");
    await live;
    assert.deepEqual(live.data, [{ phase: "done", size: 2n, keep: new Map([["k", 1]]) }], "later names replace earlier ones, the rest stay (a dict update)");
  });

  test("each engine's data is kept per task [test_data_pub]", async () => {
    const { client, ids } = shared();
    const ar = client.directView(ids).execute(publishFive);
    assert.deepEqual(ar.data, ids.map(() => ({})));
    await ar;
    assert.deepEqual(ar.data, ids.map(() => ({ i: 4 })));
    const applied = client.loadBalancedView().apply((n: number) => {
      (globalThis as unknown as { publishData(data: object): void }).publishData({ n, square: n * n });
      return n;
    }, 3);
    assert.equal(await applied, 3);
    assert.deepEqual(applied.data, [{ n: 3, square: 9 }]);
  });

  test("publishing something that is not an object of values fails the task with a clear error", async () => {
    const { client, ids } = shared();
    const view = client.directView(ids.at(-1)!);
    const refused = await view.execute("publishData(42)").catch((e: unknown) => e);
    remoteError("TypeError", ids.at(-1))(refused);
    assert.match((refused as Error).message, /publishData takes an object of names to values/);
    await assert.rejects(view.execute("publishData({ f: () => 1 })").get(), remoteError("SerializationError", ids.at(-1)));
    assert.equal(await view.apply(() => 5), 5, "the engine goes on");
  });
});
