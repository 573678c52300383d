import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { describeFunction } from "@tsparallel/protocol";
import { FakeController, pack } from "./support/fake-controller.js";

describe("engine apply, map, push, pull and clear", () => {
  const controller = new FakeController();

  before(() => controller.startEngine(5));
  after(() => controller.close());

  test("apply runs a function sent as source, then by hash alone", async () => {
    const shipped = describeFunction((a: number, b: number) => a * b + 1);
    const first = await controller.run({ kind: "apply", fn: shipped }, pack([6, 7]));
    assert.equal(first.status, "ok", JSON.stringify(first.error));
    assert.equal(first.value, 43);
    const byHash = await controller.run({ kind: "apply", fn: { hash: shipped.hash, name: shipped.name } }, pack([2, 3]));
    assert.equal(byHash.status, "ok");
    assert.equal(byHash.value, 7);
  });

  test("a source sent under a hash that is not its own is refused (FunctionHashMismatch), and the right one still runs", async () => {
    const shipped = describeFunction((x: number) => x - 1);
    const forged = await controller.run({ kind: "apply", fn: { hash: shipped.hash, name: shipped.name, source: "() => 666" } }, pack([5]));
    assert.equal(forged.status, "error", `the forged source ran: ${JSON.stringify(forged.value)}`);
    assert.equal(forged.error!.ename, "FunctionHashMismatch");
    const right = await controller.run({ kind: "apply", fn: shipped }, pack([5]));
    assert.equal(right.value, 4);
  });

  test("an unknown hash without source is a FunctionNotFound error", async () => {
    const result = await controller.run({ kind: "apply", fn: { hash: "0".repeat(40), name: "ghost" } }, pack([]));
    assert.equal(result.status, "error");
    assert.equal(result.error!.ename, "FunctionNotFound");
  });

  test("async functions are awaited", async () => {
    const shipped = describeFunction(async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return "slept";
    });
    assert.equal((await controller.run({ kind: "apply", fn: shipped }, pack([10]))).value, "slept");
  });

  test("refs replace arguments with engine names; a missing name is a NameError", async () => {
    await controller.run({ kind: "push" }, pack({ offset: 100 }));
    const shipped = describeFunction((x: number, y: number) => x + y);
    const result = await controller.run({ kind: "apply", fn: shipped, refs: [[1, "offset"]] }, pack([5, null]));
    assert.equal(result.value, 105);
    const missing = await controller.run({ kind: "apply", fn: shipped, refs: [[0, "nowhere"]] }, pack([0, 0]));
    assert.equal(missing.status, "error");
    assert.equal(missing.error!.ename, "NameError");
    assert.equal(missing.error!.evalue, "name 'nowhere' is not defined on engine 5");
  });

  test("free names in a function resolve in the engine namespace", async () => {
    await controller.run({ kind: "execute", code: "const scale = 3" });
    // `scale` exists only on the engine: the function reads it from the namespace.
    const shipped = describeFunction(new Function("x", "return x * scale") as (x: number) => number);
    assert.equal((await controller.run({ kind: "apply", fn: shipped }, pack([5]))).value, 15);
  });

  test("a free name missing on the engine is a ReferenceError with a hint", async () => {
    const shipped = describeFunction(new Function("return absentEverywhere") as () => unknown);
    const result = await controller.run({ kind: "apply", fn: shipped }, pack([]));
    assert.equal(result.error!.ename, "ReferenceError");
    assert.match(result.error!.evalue, /names resolve in the engine namespace/);
  });

  test("map applies the function to each item, awaiting promises in order", async () => {
    const square = describeFunction((x: number) => x * x);
    assert.deepEqual((await controller.run({ kind: "map", fn: square }, pack([1, 2, 3, 4]))).value, [1, 4, 9, 16]);
    const slowFirst = describeFunction(async (x: number) => {
      await new Promise((r) => setTimeout(r, x === 0 ? 30 : 1));
      return x;
    });
    assert.deepEqual((await controller.run({ kind: "map", fn: slowFirst }, pack([0, 1, 2]))).value, [0, 1, 2]);
  });

  test("an exception inside the function is an error result", async () => {
    const failing = describeFunction((x: number) => {
      if (x > 1) throw new TypeError(`too big: ${x}`);
      return x;
    });
    const result = await controller.run({ kind: "map", fn: failing }, pack([1, 2]));
    assert.equal(result.status, "error");
    assert.equal(result.error!.ename, "TypeError");
    assert.equal(result.error!.evalue, "too big: 2");
  });

  test("a 10 MB Float64Array pushed and pulled back arrives intact, as a real Float64Array", async () => {
    const data = new Float64Array((10 * 1024 * 1024) / 8);
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i) * i;
    const pushed = await controller.run({ kind: "push" }, pack({ big: data }));
    assert.equal(pushed.status, "ok", JSON.stringify(pushed.error));
    const check = await controller.run({ kind: "execute", code: "[big instanceof Float64Array, big.length]" });
    assert.deepEqual(check.value, [true, data.length]);
    const pulled = await controller.run({ kind: "pull", names: "big" });
    assert.ok(pulled.value instanceof Float64Array);
    assert.equal((pulled.value as Float64Array).length, data.length);
    assert.ok(Buffer.from(data.buffer).equals(Buffer.from((pulled.value as Float64Array).buffer)), "the bytes differ");
  });

  test("pull of several names gives an array; a missing one is a NameError", async () => {
    await controller.run({ kind: "push" }, pack({ p: 1, q: "two" }));
    assert.deepEqual((await controller.run({ kind: "pull", names: ["p", "q"] })).value, [1, "two"]);
    const missing = await controller.run({ kind: "pull", names: ["p", "absent"] });
    assert.equal(missing.error!.ename, "NameError");
  });

  test("a result that cannot be packed is a SerializationError", async () => {
    const makesFunction = describeFunction(() => ({ callback: () => 1 }));
    const result = await controller.run({ kind: "apply", fn: makesFunction }, pack([]));
    assert.equal(result.status, "error");
    assert.equal(result.error!.ename, "SerializationError");
  });

  test("clear removes user names and restores overwritten builtins", async () => {
    await controller.run({ kind: "push" }, pack({ toClear: 1 }));
    await controller.run({ kind: "execute", code: "var parseInt = () => 'mine'; const clearedToo = 2" });
    assert.equal((await controller.run({ kind: "clear" })).status, "ok");
    assert.equal((await controller.run({ kind: "pull", names: "toClear" })).error!.ename, "NameError");
    assert.equal((await controller.run({ kind: "pull", names: "clearedToo" })).error!.ename, "NameError");
    assert.equal((await controller.run({ kind: "execute", code: "parseInt('12')" })).value, 12);
  });

  test("an unknown task kind is an error result, not a crash", async () => {
    const result = await controller.run({ kind: "teleport" } as never);
    assert.equal(result.status, "error");
    assert.equal((await controller.run({ kind: "execute", code: "1 + 1" })).value, 2);
  });
});
