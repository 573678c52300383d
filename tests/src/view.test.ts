/**
 * DirectView against a real cluster: the TypeScript counterparts of ipyparallel's test_view.py
 * (the bracketed name in each title is the ipyparallel test; see tests/CONFORMANCE.md).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { AsyncMapResult, AsyncResult, CompositeError, EngineError, RemoteError, SerializationError, TaskAbortedError, ref } from "tsparallel";
import { packValue, unpackValue } from "@tsparallel/protocol";
import { eventually, sharedCluster } from "./support/cluster-fixture.js";
import { compositeOf, instanceOf, remoteError } from "./support/remote-errors.js";

// Names that live in the engine namespace: declared for tsc, resolved on the engines.
declare const freeA: number;
declare const pushedA: number;
declare const util: typeof import("node:util");
declare const decoders: typeof import("node:string_decoder");
declare const assertDefault: typeof import("node:assert");
declare const nodePath: typeof import("node:path");
declare const scaleBy: (x: number) => number;
declare const times: (x: number, y: number) => number;
declare const foo: () => string;

const nap = async (ms: number): Promise<number> => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
};

const shared = sharedCluster({ n: 2 });

describe("push, pull and references", () => {
  test("push and pull round-trip data on one and on all engines [test_push_pull]", async () => {
    const { client, ids } = shared();
    const one = client.directView(ids.at(-1)!);
    const all = client.directView();
    const data = { a: 10, b: 1.05, c: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], d: { e: [1, 2], f: "hi" } };

    assert.equal(await one.push({ data }), undefined);
    const pulled: typeof data = await one.pull<typeof data>("data");
    assert.deepEqual(pulled, data);

    assert.deepEqual(await all.push({ data }), [undefined, undefined]);
    const everywhere: (typeof data)[] = await all.pull<typeof data>("data");
    assert.deepEqual(everywhere, [data, data]);

    const pending = all.pull("data");
    assert.ok(pending instanceof AsyncResult);
    assert.deepEqual(await pending.get(20_000), [data, data]);

    await all.push({ a: 10, b: 20 });
    assert.deepEqual(await all.pull(["a", "b"]), [[10, 20], [10, 20]]);
  });

  test("functions are pushed and pulled as functions; one defined on the engine is also reached through ref [test_push_pull_function]", async () => {
    const { client, ids } = shared();
    const one = client.directView(ids.at(-1)!);
    const testf = (x: number) => 2.0 * x;
    await one.push({ testf });
    const pulled = await one.pull<(x: number) => number>("testf");
    assert.equal(typeof pulled, "function");
    assert.equal(pulled(1.0), testf(1.0));
    await one.execute("const r = testf(10)");
    assert.equal(await one.pull("r"), testf(10));
    await client.directView().push({ testf, plain: 3 });
    const everywhere = await client.directView().pull<(x: number) => number>("testf");
    assert.deepEqual(everywhere.map((f) => f(2)), ids.map(() => 4));
    assert.deepEqual(await client.directView().pull("plain"), ids.map(() => 3));
    // Inside data a function still cannot travel: refused before anything is sent.
    assert.throws(() => one.push({ nested: { f: testf } }), instanceOf(SerializationError, /function/));

    await one.execute("function squareIt(x: number): number { return x * x }");
    const viaRef: number = await one.apply((g: (x: number) => number, x: number) => g(x), ref<(x: number) => number>("squareIt"), 10);
    assert.equal(viaRef, 100);
    const [square, r] = await one.pull(["squareIt", "r"]);
    assert.equal((square as (x: number) => number)(7), 49);
    assert.equal(r, 20);
  });

  test("a pushed function's free names resolve in the engine namespace [test_push_function_globals]", async () => {
    const { client, ids } = shared();
    const v = client.directView(ids.at(-1)!);
    const geta = () => pushedA;
    await v.push({ f: geta });
    await assert.rejects(v.execute("const globalsB = f()").get(20_000), remoteError("ReferenceError", ids.at(-1)));
    await v.execute("var pushedA = 5");
    await v.execute("const globalsB2 = f()");
    assert.equal(await v.pull("globalsB2"), 5);
  });

  test("a pushed function keeps its default parameters [test_push_function_defaults]", async () => {
    const { client, ids } = shared();
    const v = client.directView(ids.at(-1)!);
    const echo = (a = 10) => a;
    await v.push({ echoDefaults: echo });
    await v.execute("const defaultsB = echoDefaults()");
    assert.equal(await v.pull("defaultsB"), 10);
  });

  test("free names in an applied function resolve in the engine namespace", async () => {
    const { client, ids } = shared();
    const one = client.directView(ids.at(-1)!);
    const getA = () => freeA;
    await assert.rejects(one.apply(getA).get(20_000), remoteError("ReferenceError", ids.at(-1)));
    await one.push({ freeA: 5 });
    assert.equal(await one.apply(getA), 5);
  });

  test("default parameters travel with an applied function", async () => {
    const { client, ids } = shared();
    const echo = (a = 10) => a;
    assert.equal(await client.directView(ids.at(-1)!).apply(echo), 10);
    assert.equal(await client.directView(ids.at(-1)!).apply(echo, 3), 3);
  });

  test("an object argument arrives as the same object [test_apply_f_kwarg]", async () => {
    const { client, ids } = shared();
    const kwargs: { f: number } = await client.directView(ids.at(-1)!).apply((kw: { f: number }) => kw, { f: 5 });
    assert.deepEqual(kwargs, { f: 5 });
  });

  test("ref() passes an engine-side value as an argument [test_remote_reference]", async () => {
    const { client, ids } = shared();
    const one = client.directView(ids.at(-1)!);
    await one.push({ refA: 123 });
    const b: number = await one.apply((x: number) => x, ref<number>("refA"));
    assert.equal(b, 123);
  });

  test("ref() takes a name only, not an expression [test_eval_reference]", () => {
    assert.throws(() => ref("g[0]"), instanceOf(TypeError, /not a valid name/));
  });

  test("a ref to a missing name fails with NameError on that engine [test_reference_nameerror]", async () => {
    const { client, ids } = shared();
    const echo = (x: unknown) => x;
    await assert.rejects(client.directView(ids[0]!).apply(echo, ref("elvis_has_left")).get(20_000), remoteError("NameError", ids[0]));
  });

  test("a ref inside a list argument is resolved on the engine [test_can_list_arg]", async () => {
    const { client, ids } = shared();
    const view = client.directView(ids.at(-1)!);
    await view.push({ nestedA: 128 });
    const rA = ref<number>("nestedA");
    assert.deepEqual(await view.apply((x: number[]) => x, [rA]), [128]);
    const list = [1, rA, 3];
    assert.deepEqual(await view.apply((x: number[]) => x, list), [1, 128, 3]);
    assert.equal(list[1], rA, "the caller's array is left as it was");
  });

  test("a ref inside an object argument, at any depth, is resolved on the engine [test_can_dict_arg]", async () => {
    const { client, ids } = shared();
    const view = client.directView(ids.at(-1)!);
    await view.push({ nestedA: 128, nestedB: "b" });
    const rA = ref<number>("nestedA");
    assert.deepEqual(await view.apply((x: { foo: number }) => x, { foo: rA }), { foo: 128 });
    const deep = { a: [{ b: ref<string>("nestedB") }, 2], c: new Float64Array([1.5]), d: rA };
    assert.deepEqual(await view.apply((x: unknown) => x, deep), { a: [{ b: "b" }, 2], c: new Float64Array([1.5]), d: 128 });
    await assert.rejects(view.apply((x: unknown) => x, { missing: ref("noSuchName") }).get(20_000), remoteError("NameError", ids.at(-1)));
    // Inside anything else (a Map, a class instance) a ref cannot travel: refused before sending.
    assert.throws(() => view.apply((x: unknown) => x, new Map([["k", rA]])), instanceOf(SerializationError, /ref\(\)/));
  });

  test("an engine-side object is read and changed through ref and execute [test_nested_getitem_setitem]", async () => {
    const { client, ids } = shared();
    const one = client.directView(ids.at(-1)!);
    await one.execute("class Holder { b = 128 }\nconst objA = new Holder()");
    const readB = (x: { b: number }) => x.b;
    assert.equal(await one.apply(readB, ref<{ b: number }>("objA")), 128);
    await one.execute("objA.b = 0");
    assert.equal(await one.apply(readB, ref<{ b: number }>("objA")), 0);
  });

  test("a class instance comes back as a plain object of its fields [test_return_namedtuple]", async () => {
    const { client, ids } = shared();
    const point = await client.directView(ids.at(-1)!).apply((x: number, y: number) => {
      class Point {
        constructor(
          readonly x: number,
          readonly y: number,
        ) {}
      }
      return new Point(x, y);
    }, 1, 2);
    assert.deepEqual(point, { x: 1, y: 2 });
  });

  test("a tuple argument keeps its order [test_apply_namedtuple]", async () => {
    const { client, ids } = shared();
    const swapped: [number, number] = await client.directView(ids.at(-1)!).apply(([x, y]: [number, number]): [number, number] => [y, x], [1, 2]);
    assert.deepEqual(swapped, [2, 1]);
  });

  test("a function's defaults that name another client function do not travel [test_func_default_func]", async () => {
    const { client, ids } = shared();
    const one = client.directView(ids.at(-1)!);
    const bar = (f = foo) => f();
    await assert.rejects(one.apply(bar).get(20_000), remoteError("ReferenceError"));
    await one.execute("function foo(): string { return 'foo on the engine' }");
    assert.equal(await one.apply(bar), "foo on the engine");
  });
});

describe("data types", () => {
  test("typed arrays of every width, small and large, come back with their type [test_apply_numpy]", async () => {
    const { client, ids } = shared();
    const one = client.directView(ids.at(-1)!);
    const echo = <T>(x: T) => x;
    const big = 100 * 100;
    const arrays = [
      Int32Array.from({ length: big }, (_, i) => i - 5000),
      Uint8Array.from({ length: big }, (_, i) => i % 256),
      Float32Array.from({ length: big }, (_, i) => i / 4),
      Float64Array.from({ length: big }, (_, i) => Math.sin(i)),
      BigInt64Array.from([1n, -2n, 2n ** 62n]),
      new Uint16Array([1, 2, 3]),
    ];
    for (const array of arrays) assert.deepEqual(await one.apply(echo, array), array, array.constructor.name);
  });

  test("structured values (Map, Set, Date, bigint, nested arrays, NaN, undefined) survive push and pull [test_push_pull_recarray, test_apply_numpy_object_dtype]", async () => {
    const { client, ids } = shared();
    const one = client.directView(ids.at(-1)!);
    const value = {
      map: new Map<string, number[]>([["a", [1, 2]], ["b", []]]),
      set: new Set(["x", "y"]),
      when: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
      big: 2n ** 70n,
      rows: [[1, "hi", 0.0], [2 ** 30, "there", 2.5], [-99999, "world", -12345.6789]],
      objects: [{ a: 5 }, { b: 10 }],
      nan: NaN,
      missing: undefined,
      bytes: Buffer.from("héllo"),
    };
    await one.push({ structured: value });
    const back = await one.pull<typeof value>("structured");
    assert.deepEqual({ ...back, bytes: Buffer.from(back.bytes) }, value);
    assert.equal(await one.apply((v: typeof value) => v.map.get("a")!.length + v.set.size, ref<typeof value>("structured")), 4);
  });

  test("unicode source, results and arguments [test_unicode_execute, test_unicode_apply_result, test_unicode_apply_arg]", async () => {
    const { client, ids } = shared();
    const one = client.directView(ids.at(-1)!);
    await one.execute("const unicodeA = 'é'");
    assert.equal(await one.pull("unicodeA"), "é");
    assert.equal(await one.apply(() => "é"), "é");
    for (const s of ["é", "ßø®∫", "asdf", "日本語 🎉"]) {
      const bytes: number[] = await one.apply((a: string) => Array.from(Buffer.from(a, "utf8")), s);
      assert.deepEqual(bytes, Array.from(Buffer.from(s, "utf8")), s);
    }
  });
});

describe("scatter, gather and map", () => {
  test("scatter then gather gives the sequence back; gathering a missing name fails on every engine [test_scatter_gather]", async () => {
    const { client } = shared();
    const view = client.directView();
    const seq = Array.from({ length: 16 }, (_, i) => i);
    assert.deepEqual(await view.scatter("sg", seq), []);
    const gathered: number[] = await view.gather<number>("sg");
    assert.deepEqual(gathered, seq);
    // Contiguous chunks, the first engine's first.
    assert.deepEqual(await view.pull("sg"), [seq.slice(0, 8), seq.slice(8)]);
    await assert.rejects(view.gather("asdf").get(20_000), compositeOf("NameError", 2));
  });

  test("scatter and gather on directView('all') [test_scatter_gather_lazy]", async () => {
    const { client } = shared();
    const view = client.directView("all");
    const x = Array.from({ length: 64 }, (_, i) => i);
    await view.scatter("lazyX", x);
    assert.deepEqual(await view.gather("lazyX"), x);
  });

  test("scatter of a typed array gives its numbers back [test_scatter_gather_numpy]", async () => {
    const { client } = shared();
    const view = client.directView();
    const a = Float64Array.from({ length: 64 }, (_, i) => i * 1.5);
    await view.scatter("typedA", a);
    assert.deepEqual(await view.gather<number>("typedA"), Array.from(a));
  });

  test("gather submitted right after an unawaited scatter sees the scattered data [test_scatter_gather_nonblocking]", async () => {
    const { client } = shared();
    const view = client.directView();
    const data = Array.from({ length: 16 }, (_, i) => i * 3);
    const scattered = view.scatter("nonblocking", data);
    const gathered = view.gather<number>("nonblocking");
    assert.ok(gathered instanceof AsyncResult);
    assert.deepEqual(await gathered.get(20_000), data);
    assert.ok(scattered.ready());
  });

  test("scatter with flatten sets a one-item chunk as the item itself", async () => {
    const { client, ids } = shared();
    const view = client.directView();
    await view.scatter("rank", ids, { flatten: true });
    assert.deepEqual(await view.pull("rank"), ids);
    await view.scatter("ranks", ids);
    assert.deepEqual(await view.pull("ranks"), ids.map((id) => [id]));
    // Chunks of several items stay lists, flatten or not.
    await view.scatter("pairs", [1, 2, 3, 4], { flatten: true });
    assert.deepEqual(await view.pull("pairs"), [[1, 2], [3, 4]]);
  });

  test("iterating a gather yields the items, awaiting it gives the flat list [test_scatter_gather_numpy_nonblocking]", async () => {
    const { client } = shared();
    const view = client.directView();
    const a = Float64Array.from({ length: 16 }, (_, i) => i * 0.5);
    const scattered = view.scatter("typedNonblocking", a);
    const gathered = view.gather<number>("typedNonblocking");
    assert.ok(gathered instanceof AsyncMapResult);
    const items: number[] = [];
    for await (const x of gathered) items.push(x);
    assert.deepEqual(items, Array.from(a));
    assert.deepEqual(await gathered, Array.from(a));
    assert.ok(scattered.ready());
  });

  test("a large typed array changed right after apply, push, scatter or map returns is sent as it was at the call [test_apply_tracked, test_push_tracked, test_scatter_tracked]", async () => {
    const { client, ids } = shared();
    const view = client.directView();
    const MiB8 = (8 * 1024 * 1024) / 8;
    const ends = (a: Float64Array) => [a[0], a[a.length - 1]];

    const applied = new Float64Array(MiB8).fill(1);
    const applyResult = view.apply(ends, applied);
    applied.fill(2);
    assert.deepEqual(await applyResult, ids.map(() => [1, 1]));

    const pushed = new Float64Array(MiB8).fill(1);
    const pushResult = view.push({ trackedPush: pushed });
    pushed.fill(2);
    await pushResult;
    assert.deepEqual(await view.apply(ends, ref<Float64Array>("trackedPush")), ids.map(() => [1, 1]));

    const parts = ids.map(() => new Float64Array(MiB8).fill(1));
    const scatterResult = view.scatter("trackedScatter", parts);
    for (const part of parts) part.fill(2);
    await scatterResult;
    assert.deepEqual(await view.apply((mine: Float64Array[]) => mine.map((a) => [a[0], a[a.length - 1]]), ref<Float64Array[]>("trackedScatter")), ids.map(() => [[1, 1]]));

    const mapped = new Float64Array(MiB8).fill(1);
    const mapResult = client.loadBalancedView().map(ends, [mapped]);
    mapped.fill(2);
    assert.deepEqual(await mapResult, [[1, 1]]);
  });

  test("map squares in order, typed end to end [test_map]", async () => {
    const { client } = shared();
    const data = Array.from({ length: 16 }, (_, i) => i);
    const squares: number[] = await client.directView().map((x: number) => x ** 2, data);
    assert.deepEqual(squares, data.map((x) => x ** 2));
  });

  test("a map over many numbers is exact both ways (-0, NaN, infinities, fractions, extremes), also when results mix numbers and strings", async () => {
    // Number arrays of a map travel as raw float64s: every value must come back as the same number.
    const { client } = shared();
    const specials = [-0, 0, NaN, Infinity, -Infinity, 0.1, -1.5e-300, Number.MAX_VALUE, Number.MIN_VALUE, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2];
    const data = Array.from({ length: 5000 }, (_, i) => (i < specials.length ? specials[i]! : i / 7));
    const same: number[] = await client.directView().map((x: number) => x, data);
    assert.equal(same.length, data.length);
    data.forEach((x, i) => assert.ok(Object.is(same[i], x), `item ${i}: sent ${x}, got ${same[i]}`));
    const mixed = await client.directView().map((x: number) => (x === 3 ? "three" : x * 2), Array.from({ length: 500 }, (_, i) => i));
    assert.equal(mixed[3], "three");
    assert.equal(mixed[499], 998);
    const strings = await client.directView().map((x: number) => (x === 0 ? -0 : String(x)), Array.from({ length: 300 }, (_, i) => i));
    assert.ok(Object.is(strings[0], -0));
    assert.equal(strings[299], "299");
  });

  test("a numbers-only map chunk travels as one frame of 8 bytes per item; other values keep the clone form", () => {
    const items = Array.from({ length: 1000 }, (_, i) => i * 1.5);
    const { frames } = packValue(items, "items", { ownArray: true });
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.length, 8 + items.length * 8);
    assert.deepEqual(unpackValue(frames), items);
    // Not marked as tsparallel's own array, or not numbers only: the structured clone, unchanged.
    const cloned = packValue(items, "items").frames;
    assert.notEqual(cloned[0]!.length, 8 + items.length * 8);
    assert.deepEqual(unpackValue(cloned), items);
    const mixed = [...items, "x"];
    assert.deepEqual(unpackValue(packValue(mixed, "items", { ownArray: true }).frames), mixed);
  });

  test("map of an empty sequence is empty [test_map_empty_sequence]", async () => {
    const { client } = shared();
    assert.deepEqual(await client.directView().map((x: number) => x, []), []);
  });

  test("map over a generator of 101 items (uneven split) [test_map_iterable]", async () => {
    const { client } = shared();
    function* upTo(n: number) {
      for (let i = 0; i < n; i++) yield i;
    }
    const amr = client.directView().map((x: number) => x, upTo(101));
    assert.ok(amr instanceof AsyncMapResult);
    assert.deepEqual(await amr, Array.from(upTo(101)));
  });

  test("map over a typed array [test_map_numpy]", async () => {
    const { client } = shared();
    const arr = Int32Array.from({ length: 101 }, (_, i) => i);
    assert.deepEqual(await client.directView().map((x: number) => x, arr), Array.from(arr));
  });

  test("map on a single-engine view [test_single_engine_map]", async () => {
    const { client, ids } = shared();
    const r = [0, 1, 2, 3, 4];
    const negate = (x: number) => -1 * x;
    assert.deepEqual(await client.directView(ids[0]!).map(negate, r), r.map(negate));
  });

  test("map items that are refs resolve on the engine that runs them [test_map_ref]", async () => {
    const { client, ids } = shared();
    const view = client.directView();
    await view.scatter("mapRank", [...ids].sort((a, b) => a - b), { flatten: true });
    const rrank = ref<number>("mapRank");
    const drank: number[] = await view.map((x: number) => x * 2, ids.map(() => rrank));
    assert.deepEqual(drank, [...ids].sort((a, b) => a - b).map((r) => r * 2));
    // Inside an item too, next to plain data, on a load-balanced view.
    const mixed = await client.loadBalancedView().map((item: { rank: number; k: number }) => item.k, [{ rank: rrank, k: 1 }, { rank: rrank, k: 2 }]);
    assert.deepEqual(mixed, [1, 2]);
    const ranks = await client.loadBalancedView().map((item: { rank: number }) => typeof item.rank, [{ rank: rrank }]);
    assert.deepEqual(ranks, ["number"]);
  });

  test("map calling an engine-defined function by its free name [test_map_reference]", async () => {
    const { client } = shared();
    const view = client.directView();
    await view.execute("const times = (x: number, y: number) => x * y");
    const n = Array.from({ length: 10 }, (_, i) => i);
    const m = [...n].reverse();
    const pairs = m.map((mi, i): [number, number] => [mi, n[i]!]);
    const products: number[] = await view.map(([x, y]: [number, number]) => times(x, y), pairs);
    assert.deepEqual(products, pairs.map(([x, y]) => x * y));
  });

  test("apply of a function built on each engine from scattered data [test_apply_reference]", async () => {
    const { client, ids } = shared();
    const view = client.directView();
    await view.scatter("rank", ids);
    await view.execute("const scaleBy = (x: number) => rank[0] * x");
    assert.deepEqual(await view.apply((x: number) => scaleBy(x), 5), ids.map((id) => 5 * id));
  });

  test("a view's targets: one id, several, and all engines alive now [test_len]", () => {
    const { client, ids } = shared();
    assert.deepEqual(client.directView(ids[0]!).targets, [ids[0]]);
    assert.equal(client.directView(ids[0]!).single, true);
    assert.deepEqual(client.directView([ids[1]!]).targets, [ids[1]]);
    assert.equal(client.directView([ids[1]!]).single, false);
    assert.deepEqual(client.directView().targets, ids);
    assert.deepEqual(client.directView("all").targets, ids);
  });
});

describe("execute", () => {
  test("execute runs on every engine and its declarations can be pulled [test_execute]", async () => {
    const { client } = shared();
    const view = client.directView();
    const first = view.execute("const c = 30");
    assert.ok(first instanceof AsyncResult);
    const second = view.execute("let d: number[] = [0, 1, 2]");
    assert.equal((await second.get(20_000)).length, 2);
    assert.deepEqual(await view.pull("c"), [30, 30]);
    assert.deepEqual(await view.pull("d"), [[0, 1, 2], [0, 1, 2]]);
    assert.ok(first.ready());
  });

  test("execute gives the last expression's value, its display form and a cell counter [test_execute_reply]", async () => {
    const { client, ids } = shared();
    const one = client.directView(ids[0]!);
    const ar = one.execute("2 + 3");
    assert.equal(await ar, 5);
    assert.equal(ar.metadata[0]!.repr, "5");
    const count = ar.metadata[0]!.executionCount;
    assert.equal(typeof count, "number");
    const next = one.execute("'again'");
    assert.equal(await next, "again");
    assert.equal(next.metadata[0]!.executionCount, count! + 1);
  });

  test("execute captures stdout and stderr per engine [test_execute_reply_stdout]", async () => {
    const { client, ids } = shared();
    const ar = client.directView(ids[0]!).execute("console.log(5); console.error('warned')");
    assert.equal(await ar, undefined);
    assert.deepEqual(ar.stdout, ["5\n"]);
    assert.deepEqual(ar.stderr, ["warned\n"]);
  });

  test("execute on all engines gives one value and one display form each [test_execute_result]", async () => {
    const { client } = shared();
    const ar = client.directView().execute("5");
    assert.deepEqual(await ar, [5, 5]);
    assert.deepEqual(ar.metadata.map((m) => m.repr), ["5", "5"]);
  });

  test("a silent execute gives no value [test_execute_silent]", async () => {
    const { client } = shared();
    const ar = client.directView().execute("5", { silent: true });
    assert.deepEqual(await ar, [undefined, undefined]);
  });

  test("import in an execute cell makes the module a name on the engine", async () => {
    const { client, ids } = shared();
    const one = client.directView(ids.at(-1)!);
    await one.execute('import * as nodePath from "node:path"');
    assert.equal(await one.apply((p: string) => nodePath.basename(p), "/tmp/some/file.txt"), "file.txt");
  });

  test("dv.import brings a module into every engine's namespace, by its name or another [test_importer, test_sync_imports]", async () => {
    const { client, ids } = shared();
    const dv = client.directView();
    await dv.clear();
    await assert.rejects(dv.apply(() => typeof util.format).get(20_000), compositeOf("ReferenceError", ids.length));
    assert.deepEqual(await dv.import("node:util"), ids.map(() => undefined));
    assert.deepEqual(await dv.apply((pat: string, s: string) => util.format(pat, s), "hello %s", "world"), ids.map(() => "hello world"));
    await client.directView(ids[0]!).import("node:string_decoder", { as: "decoders" });
    assert.equal(await client.directView(ids[0]!).apply(() => typeof decoders.StringDecoder), "function");
    await dv.import("node:assert", { default: true, as: "assertDefault" });
    assert.deepEqual(await dv.apply(() => typeof assertDefault.deepEqual), ids.map(() => "function"));
    await assert.rejects(dv.import("no-such-package-anywhere").get(20_000), compositeOf("Error", ids.length));
    assert.throws(() => dv.import("./x", { as: "not a name" }), TypeError);
  });

  test("view.run executes a file on the engines; its definitions stay [test_run_newline]", async () => {
    const { client, ids } = shared();
    const dir = mkdtempSync(join(tmpdir(), "tsp-run-"));
    try {
      const file = join(dir, "defs.ts");
      writeFileSync(file, "function runG(): number {\n  return 5\n}\nconst runH = (x: number) => x + 1\nrunH(runG())");
      const v = client.directView(ids.at(-1)!);
      assert.equal(await v.run(file), 6);
      assert.equal(await v.apply((f: () => number) => f(), ref<() => number>("runG")), 5);
      assert.throws(() => v.run(join(dir, "missing.ts")), /cannot run .*missing\.ts/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a throwing cell fails with the remote error, its name and engine [test_execute_raises]", async () => {
    const { client, ids } = shared();
    const last = ids.at(-1)!;
    const ar = client.directView(last).execute("throw new RangeError('bad range')");
    const err = await ar.get(20_000).catch((e: unknown) => e);
    remoteError("RangeError", last)(err);
    assert.equal((err as RemoteError).evalue, "bad range");
    assert.equal((err as RemoteError).msgId, ar.msgIds[0]);
  });

  test("a remote error renders its remote traceback [test_remoteerror_render_exception]", async () => {
    const { client, ids } = shared();
    const last = ids.at(-1)!;
    const err = (await client.directView(last).execute("function inner() { throw new RangeError('deep') }\ninner()").catch((e: unknown) => e)) as RemoteError;
    remoteError("RangeError", last)(err);
    assert.match(err.message, new RegExp(`^\\[engine ${last}\\] RangeError: deep`));
    const rendered = err.renderTraceback();
    assert.match(rendered, /RangeError: deep/);
    assert.match(rendered, /inner/);
  });

  test("failures on several engines make one CompositeError keeping each", async () => {
    const { client, ids } = shared();
    const err = await client.directView().execute("throw new RangeError('boom')").get(20_000).catch((e: unknown) => e);
    compositeOf("RangeError", 2)(err);
    const composite = err as CompositeError;
    assert.deepEqual(composite.errors.map((e) => (e as RemoteError).engineId), ids);
    assert.equal(composite.message.match(/boom/g)?.length, 2);
    assert.throws(() => composite.raiseException(), (e) => e === composite.errors[0]);
  });
});

describe("abort", () => {
  test("tasks queued behind a running one are aborted, by result or by msg ids [test_abort]", async () => {
    const { client, ids } = shared();
    const one = client.directView(ids.at(-1)!);
    const running = one.apply(nap, 1500);
    const second = one.apply(() => 2);
    await client.abort(second);
    const third = one.apply(() => 3);
    await client.abort([...third.msgIds]);
    await assert.rejects(second.get(20_000), instanceOf(TaskAbortedError));
    await assert.rejects(third.get(20_000), instanceOf(TaskAbortedError));
    assert.equal(await running.get(20_000), 1500);
    assert.deepEqual(second.metadata.map((m) => m.status), ["aborted"]);
  });

  test("client.abort() aborts every outstanding task of the client [test_abort_all]", async () => {
    const { client, ids } = shared();
    const one = client.directView(ids.at(-1)!);
    const ars = Array.from({ length: 10 }, () => one.apply(nap, 250));
    await client.abort();
    await Promise.all(ars.map((ar) => ar.wait(20_000)));
    for (const ar of ars.slice(5)) await assert.rejects(ar.get(0), instanceOf(TaskAbortedError));
    // Nothing is left half-done: each either ran or was aborted.
    for (const ar of ars) assert.ok(ar.metadata[0]!.status === "ok" || ar.metadata[0]!.status === "aborted", String(ar.metadata[0]!.status));
  });
});

describe("typed API", () => {
  test("wrongly typed arguments are compile errors", () => {
    const { client, ids } = shared();
    const one = client.directView(ids[0]!);
    const all = client.directView();
    // Each line below must fail to compile; none is run.
    const neverRun = () => {
      // @ts-expect-error a string is not a number
      void one.apply((x: number) => x, "five");
      // @ts-expect-error a ref to a string is not a number
      void one.apply((x: number) => x, ref<string>("s"));
      // @ts-expect-error too few arguments
      void one.apply((x: number, y: number) => x + y, 1);
      // @ts-expect-error a single-engine view gives a bare value, not an array
      const notArray: number[] = undefined as unknown as Awaited<ReturnType<typeof one.apply<[], number>>>;
      // @ts-expect-error a view on all engines gives an array
      const notBare: number = undefined as unknown as Awaited<ReturnType<typeof all.apply<[], number>>>;
      void notArray;
      void notBare;
    };
    assert.equal(typeof neverRun, "function");
  });
});

describe("engine death (direct)", () => {
  const crashing = sharedCluster({ n: 2 });

  test("an engine that dies mid-task fails that task with EngineError and leaves the view [test_z_crash_mux]", async () => {
    const { client, ids } = crashing();
    const view = client.directView(ids);
    const doomed = ids.at(-1)!;
    await view.scatter("shouldCrash", [false, true]);
    const ar = view.apply((flags: boolean[]) => {
      if (flags[0]) process.kill(process.pid, "SIGKILL");
      return "survived";
    }, ref<boolean[]>("shouldCrash"));
    const err = await ar.get(30_000).then(() => assert.fail("the crash should fail the result"), (e: unknown) => e);
    assert.ok(err instanceof CompositeError, String(err));
    assert.equal(err.errors.length, 1);
    assert.ok(err.errors[0] instanceof EngineError, String(err.errors[0]));
    assert.equal((err.errors[0] as EngineError).engineId, doomed);
    assert.deepEqual(ar.metadata.map((m) => m.status), ["ok", "error"]);
    await eventually("the dead engine to leave client.ids", () => !client.ids.includes(doomed));
    assert.deepEqual(await client.directView().apply(() => "still here"), ["still here"]);
  });
});

describe("remote and parallel functions (test_remotefunction.py)", () => {
  test("view.remote(fn) applies fn on the view, keeps its name, and is typed [test_remote]", async () => {
    const { client, ids } = shared();
    const v = client.directView(ids.at(-1)!);
    const foo = v.remote(function foo(x: number, y = 5) {
      return x * y;
    });
    assert.equal(foo.name, "foo");
    const z: number = await foo(5);
    assert.equal(z, 25);
    assert.equal(await foo(2, 3), 6);
    await v.push({ remoteX: 7 });
    assert.equal(await foo(ref<number>("remoteX"), 2), 14);
    const all: number[] = await client.directView().remote((x: number) => x + 1)(1);
    assert.deepEqual(all, ids.map(() => 2));
    const lv = client.loadBalancedView().remote((s: string) => s.toUpperCase());
    const upper: string = await lv("hi");
    assert.equal(upper, "HI");
    // @ts-expect-error: foo takes numbers
    assert.ok(foo("five") instanceof AsyncResult);
  });

  test("view.parallel(fn) calls fn on one chunk per engine and concatenates the results [test_parallel]", async () => {
    const { client } = shared();
    const foo = client.directView().parallel(function foo(chunk: number[]) {
      return [...chunk, ...chunk];
    });
    assert.equal(foo.name, "foo");
    const z: number[] = await foo([1, 2, 3, 4]);
    assert.deepEqual(z, [1, 2, 1, 2, 3, 4, 3, 4]);
    const lbFoo = client.loadBalancedView().parallel((chunk: number[]) => chunk.map((x) => x * 10), { chunkSize: 3 });
    assert.deepEqual(await lbFoo([1, 2, 3, 4, 5, 6, 7]), [10, 20, 30, 40, 50, 60, 70]);
  });

  test("parallel(fn).map maps fn over one or several sequences [test_parallel_map]", async () => {
    const { client } = shared();
    const foo = client.loadBalancedView().parallel((x: number, y = 5) => x * y);
    const z: number[] = await foo.map([1, 2, 3]);
    assert.deepEqual(z, [5, 10, 15]);
    assert.deepEqual(await foo.map([1, 2, 3], [1, 2, 3]), [1, 4, 9]);
    assert.deepEqual(await client.directView().parallel((x: number, y = 5) => x * y).map([1, 2, 3]), [5, 10, 15]);
  });
});
