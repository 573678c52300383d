/**
 * A map's chunks and results of numbers or strings travel in a raw form (protocol packed-arrays.ts:
 * int32s, float64s, or one text with each string's end) and the engine runs such a chunk reading the
 * items from the received frame; everything else keeps the structured clone. Here: the forms on the
 * wire, and DirectView / LoadBalancedView maps over a real 2-engine cluster that must give every value,
 * in order, whichever form each chunk and its results took.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CompositeError, RemoteError } from "tsparallel";
import { NumberPayload, SerializationError, StringPayload, copyPackedInto, packArrayRange, packValue, unpackArray, unpackValue } from "@tsparallel/protocol";
import { sharedCluster } from "./support/cluster-fixture.js";

const shared = sharedCluster({ n: 2 });

/** Every item the same value (Object.is: NaN and -0 count), in the same place. */
function assertSameItems(got: readonly unknown[], want: readonly unknown[]): void {
  assert.ok(Array.isArray(got), "the map's value is an array");
  assert.equal(got.length, want.length, "item count");
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) assert.fail(`item ${i}: expected ${String(want[i])}, got ${String(got[i])}`);
  }
}

const SPECIALS = [NaN, -0, 0, Infinity, -Infinity, 0.5, -1.5e-300, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 31, -(2 ** 31), 2 ** 53 + 2];
const withSpecials = (n: number): number[] => Array.from({ length: n }, (_, i) => (i % 1000 < SPECIALS.length ? SPECIALS[i % 1000]! : i - n / 2));

describe("the raw array forms on the wire", () => {
  test("int32-only numbers take 4 bytes an item, other numbers 8, and both come back as the same numbers", () => {
    const ints = Array.from({ length: 1000 }, (_, i) => i - 500);
    const asInts = packArrayRange(ints)!;
    assert.equal(asInts.length, 8 + 4 * ints.length);
    assertSameItems(unpackValue([asInts]), ints);
    // -0 is not an int32: it keeps the float64 form, and its sign.
    const floats = [...ints, -0];
    const asFloats = packArrayRange(floats)!;
    assert.equal(asFloats.length, 8 + 8 * floats.length);
    assertSameItems(unpackValue([asFloats]), floats);
    const specials = withSpecials(3000);
    assertSameItems(unpackValue([packArrayRange(specials)!]), specials);
  });

  test("a range of the caller's array is packed without the rest of it, and read back as a view over the frame", () => {
    const items = Array.from({ length: 500 }, (_, i) => i * 0.25);
    const frame = packArrayRange(items, 100, 300)!;
    const raw = unpackArray(frame);
    assert.ok(raw && raw.kind === "numbers");
    assert.equal(raw.values.buffer, frame.buffer, "the numbers are read where the frame holds them");
    assertSameItems(Array.from(raw.values), items.slice(100, 300));
    const into = new Array<unknown>(210).fill("x");
    copyPackedInto(raw, into, 5);
    assertSameItems(into.slice(5, 205), items.slice(100, 300));
    assert.equal(into[4], "x");
    assert.equal(into[205], "x");
    // A frame that starts at an odd address is read through one aligned copy, to the same items.
    for (const frame of [packArrayRange(items)!, packArrayRange(items.map((x) => x * 4))!, packArrayRange(items.map(String))!]) {
      const odd = Buffer.concat([Buffer.alloc(3), frame]).subarray(3);
      assert.deepEqual(unpackValue([odd]), unpackValue([frame]));
    }
  });

  test("strings (ASCII, accented, emoji, lone surrogates, empty) travel as one text and come back the same", () => {
    const kinds = [(i: number) => `item-${i}`, (i: number) => `é${i}`, (i: number) => `${i}😀`, (i: number) => (i % 2 ? "\ud800" : `${i}\udfff`), () => ""];
    for (const make of kinds) {
      const items = Array.from({ length: 300 }, (_, i) => make(i));
      const frame = packArrayRange(items)!;
      assert.ok(frame, `${items[1]} packs in the raw form`);
      assert.equal(unpackArray(frame)!.kind, "strings");
      assert.deepEqual(unpackValue([frame]), items);
    }
  });

  test("mixed arrays, holes, short arrays and objects are not in a raw form; ownArray picks it only for numbers-only or strings-only arrays", () => {
    const numbers = Array.from({ length: 100 }, (_, i) => i);
    assert.equal(packArrayRange([...numbers, "x"]), undefined);
    assert.equal(packArrayRange(["x", ...numbers]), undefined);
    const holey = [...numbers];
    delete holey[50];
    assert.equal(packArrayRange(holey), undefined);
    assert.equal(packArrayRange(numbers.slice(0, 10)), undefined);
    assert.equal(packArrayRange(numbers.map((x) => ({ x }))), undefined);
    const mixed = [...numbers, "x", null, { y: 1 }];
    const frames = packValue(mixed, "items", { ownArray: true }).frames;
    assert.equal(unpackArray(frames[0]!), undefined, "a mixed array takes the clone");
    assert.deepEqual(unpackValue(frames), mixed);
    assert.equal(unpackArray(packValue(numbers, "items").frames[0]!), undefined, "not tsparallel's own array: the clone");
  });

  test("results written in place: int32-only become the 4-byte form, others stay float64s; strings added one by one come back in order", () => {
    const ints = new NumberPayload(200);
    for (let i = 0; i < 200; i++) ints.values[i] = i * 3 - 100;
    const asInts = ints.finish();
    assert.equal(asInts.length, 8 + 4 * 200);
    assertSameItems(unpackValue([asInts]), Array.from({ length: 200 }, (_, i) => i * 3 - 100));
    const floats = new NumberPayload(200);
    for (let i = 0; i < 200; i++) floats.values[i] = i === 7 ? -0 : i / 3;
    assertSameItems(unpackValue([floats.finish()]), Array.from({ length: 200 }, (_, i) => (i === 7 ? -0 : i / 3)));
    const strings = new StringPayload(3000);
    const want = Array.from({ length: 3000 }, (_, i) => `s${i}${i % 3 ? "" : "ü"}`);
    for (const s of want) strings.add(s);
    assert.deepEqual(strings.items(), want);
    assert.deepEqual(unpackValue([strings.finish()]), want);
  });

  test("a malformed raw payload is a SerializationError, never a crash or wrong items", () => {
    const strings = packArrayRange(Array.from({ length: 100 }, (_, i) => `v${i}`))!;
    const bad = (mutate: (b: Buffer) => Buffer): void => {
      assert.throws(() => unpackValue([mutate(Buffer.from(strings))]), SerializationError);
    };
    bad((b) => b.subarray(0, b.length - 1)); // text shorter than the last end
    bad((b) => (b.writeUInt32LE(9, 12), b)); // unknown encoding
    bad((b) => (b.writeUInt32LE(1_000_000, 8), b)); // more ends than the frame holds
    bad((b) => (b.writeUInt32LE(1_000_000, 16), b)); // ends that go backwards
    const numbers = packArrayRange(Array.from({ length: 100 }, (_, i) => i / 2))!;
    assert.throws(() => unpackValue([numbers.subarray(0, numbers.length - 3)]), SerializationError);
    assert.throws(() => unpackValue([numbers, Buffer.alloc(4)]), SerializationError);
  });
});

describe("maps over raw chunks on a real cluster", () => {
  test("200,000 numbers doubled on a DirectView: every value in order, both with int32 and with float64 items and results", async () => {
    const { client } = shared();
    const dv = client.directView();
    const ints = Array.from({ length: 200_000 }, (_, i) => i);
    assertSameItems(await dv.map((x: number) => x * 2, ints), ints.map((x) => x * 2));
    assertSameItems(await dv.map((x: number) => x * x, ints), ints.map((x) => x * x));
    const specials = withSpecials(200_000);
    assertSameItems(await dv.map((x: number) => x * 2, specials), specials.map((x) => x * 2));
    assertSameItems(await dv.map((x: number) => -x, ints), ints.map((x) => -x));
  });

  test("200,000 short strings on a DirectView, and strings to numbers and back", async () => {
    const { client } = shared();
    const dv = client.directView();
    const strings = Array.from({ length: 200_000 }, (_, i) => `item-${i}`);
    assertSameItems(await dv.map((s: string) => s + "!", strings), strings.map((s) => s + "!"));
    assertSameItems(await dv.map((s: string) => s.length, strings), strings.map((s) => s.length));
    const numbers = Array.from({ length: 5000 }, (_, i) => i);
    assertSameItems(await dv.map((x: number) => `n${x}ü`, numbers), numbers.map((x) => `n${x}ü`));
    const unusual = Array.from({ length: 2000 }, (_, i) => (i % 5 === 0 ? "" : i % 5 === 1 ? "\ud83d" : `${i}😀é`));
    assertSameItems(await dv.map((s: string) => s, unusual), unusual);
  });

  test("results that change kind within a chunk keep every value: number then string, string then number, then objects, and mixed items", async () => {
    const { client } = shared();
    const dv = client.directView();
    const numbers = Array.from({ length: 3000 }, (_, i) => i);
    const flip = (x: number): unknown => (x % 1500 === 700 ? String(x) : x * 2);
    assert.deepEqual(await dv.map(flip, numbers), numbers.map(flip));
    const strings = numbers.map((x) => `s${x}`);
    const toNumber = (s: string): unknown => (s === "s2222" ? 2222 : s);
    assert.deepEqual(await dv.map(toNumber, strings), strings.map(toNumber));
    const toObject = (x: number): unknown => (x > 2500 ? { x, at: [x] } : x > 2000 ? null : x / 4);
    assert.deepEqual(await dv.map(toObject, numbers), numbers.map(toObject));
    const mixed: unknown[] = numbers.map((x) => (x % 3 === 0 ? `m${x}` : x % 3 === 1 ? x : [x]));
    const describeItem = (item: unknown): string => `${typeof item}:${JSON.stringify(item)}`;
    assert.deepEqual(await dv.map(describeItem, mixed), mixed.map(describeItem));
  });

  test("maps of objects, Dates and typed arrays still go through the structured clone both ways", async () => {
    const { client } = shared();
    const dv = client.directView();
    const objects = Array.from({ length: 500 }, (_, i) => ({ i, when: new Date(i * 1000), tags: new Set([i % 3]), data: new Float64Array([i, -0]) }));
    const echoed = await dv.map((o: (typeof objects)[number]) => o, objects);
    assert.deepEqual(echoed, objects);
    assert.ok(echoed[499]!.when instanceof Date);
    assert.ok(echoed[499]!.data instanceof Float64Array);
    assert.ok(Object.is(echoed[3]!.data[1], -0));
    const dates = await dv.map((x: number) => new Date(x), Array.from({ length: 200 }, (_, i) => i * 86_400_000));
    assert.ok(dates.every((d, i) => d instanceof Date && d.getTime() === i * 86_400_000));
  });

  test("empty, one item over two engines, one engine, and async functions", async () => {
    const { client, ids } = shared();
    const dv = client.directView();
    assert.deepEqual(await dv.map((x: number) => x * 2, []), []);
    assert.deepEqual(await dv.map((x: number) => x * 2, [21]), [42]);
    assert.deepEqual(await dv.map((s: string) => s + "!", ["only"]), ["only!"]);
    const numbers = Array.from({ length: 10_000 }, (_, i) => i - 5000);
    const one = client.directView(ids[0]!);
    const single = one.map((x: number) => x * 2, numbers);
    assertSameItems(await single, numbers.map((x) => x * 2));
    assert.equal(single.msgIds.length, 1);
    const both = dv.map(async (x: number) => x + 0.5, numbers);
    assertSameItems(await both, numbers.map((x) => x + 0.5));
    assert.equal(both.msgIds.length, 2, "one chunk task per engine");
  });

  test("a function that throws on one item fails that item's chunk with that item's error; the other chunk's items stay", async () => {
    const { client } = shared();
    const dv = client.directView();
    const numbers = Array.from({ length: 10_000 }, (_, i) => i);
    const picky = (x: number): number => {
      if (x === 7777) throw new RangeError(`item ${x} is not wanted`);
      return x * 2;
    };
    const err = await dv.map(picky, numbers).then(() => assert.fail("the map should fail"), (e: unknown) => e);
    const only = err instanceof CompositeError ? err.errors : [err];
    assert.equal(only.length, 1, `one failed chunk: ${String(err)}`);
    assert.ok(only[0] instanceof RemoteError, String(only[0]));
    assert.equal(only[0].ename, "RangeError");
    assert.match(only[0].message, /item 7777 is not wanted/);
    const kept = await dv.map(picky, numbers, { returnExceptions: true });
    assert.equal(kept[0], 0);
    assert.equal(kept[4999], 9998);
    assert.ok(kept[7777] instanceof RemoteError);
    assert.match((kept[7777] as RemoteError).message, /item 7777/);
    const strings = numbers.map((x) => `s${x}`);
    await assert.rejects(async () => await dv.map((s: string) => (s === "s3" ? JSON.parse(s) : s), strings), (e: unknown) => {
      const inner = e instanceof CompositeError ? e.errors[0] : e;
      assert.ok(inner instanceof RemoteError && inner.ename === "SyntaxError", String(e));
      return true;
    });
  });

  test("a DirectView map over typed arrays gives the numbers Array.from would (floats, uint32 above int32, float32, bytes), also in short chunks", async () => {
    const { client } = shared();
    const dv = client.directView();
    const f64 = Float64Array.from(withSpecials(20_000));
    const u32 = Uint32Array.from({ length: 5000 }, (_, i) => 2 ** 32 - 1 - i * 7);
    const f32 = Float32Array.from({ length: 5000 }, (_, i) => i / 10);
    const u8 = Uint8Array.from({ length: 300 }, (_, i) => i);
    const short = Int16Array.from([-3, 0, 7]);
    for (const arr of [f64, u32, f32, u8, short]) {
      const plain = Array.from(arr as ArrayLike<number>);
      const mapped: unknown[] = await dv.map((x: number) => [typeof x, x], arr as unknown as number[]);
      assert.deepEqual(mapped, plain.map((x) => ["number", x]), arr.constructor.name);
      assertSameItems(await dv.map((x: number) => x, arr as unknown as number[]), plain);
    }
  });

  test("iterating a raw map yields every item in order; a load-balanced map with large chunks takes the raw form too", async () => {
    const { client } = shared();
    const numbers = Array.from({ length: 4000 }, (_, i) => i * 1.5);
    const seen: number[] = [];
    for await (const x of client.directView().map((v: number) => v * 2, numbers)) seen.push(x);
    assertSameItems(seen, numbers.map((v) => v * 2));
    const lb = client.loadBalancedView().map((v: number) => `#${v}`, numbers, { chunkSize: 500 });
    assertSameItems(await lb, numbers.map((v) => `#${v}`));
    assert.equal(lb.msgIds.length, 8);
  });
});
