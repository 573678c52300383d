import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { FakeController } from "./support/fake-controller.js";

describe("engine execute: TypeScript cells in one persistent namespace", () => {
  const controller = new FakeController();
  const execute = (code: string) => controller.run({ kind: "execute", code });

  before(() => controller.startEngine(3));
  after(() => controller.close());

  test("a const defined in one cell is usable in the next", async () => {
    const first = await execute("const base = 40");
    assert.equal(first.status, "ok");
    assert.equal(first.bufferCount, 0, "a declaration has no value");
    const second = await execute("base + 2");
    assert.equal(second.status, "ok", JSON.stringify(second.error));
    assert.equal(second.value, 42);
    assert.equal(second.repr, "42");
  });

  test("redeclaring a name in a later cell works (let, const, var)", async () => {
    await execute("let counter = 1");
    assert.equal((await execute("let counter = 2; counter")).value, 2);
    assert.equal((await execute("const counter = 'three'; counter")).value, "three");
    assert.equal((await execute("var counter = 4; counter")).value, 4);
  });

  test("destructuring declarations land in the namespace", async () => {
    await execute("const { a, b: [c, d = 9], ...rest } = { a: 1, b: [2], e: 5 }");
    assert.deepEqual((await execute("[a, c, d, rest]")).value, [1, 2, 9, { e: 5 }]);
  });

  test("functions are hoisted and see later redefinitions of the names they use", async () => {
    const defined = await execute("const early = twice(4)\nfunction twice(x: number): number { return helper(x) * 2 }\nfunction helper(x: number) { return x }\nearly");
    assert.equal(defined.value, 8, JSON.stringify(defined.error));
    await execute("function helper(x: number) { return x + 1 }");
    assert.equal((await execute("twice(4)")).value, 10);
  });

  test("classes survive into later cells, with instanceof intact", async () => {
    await execute("class Point { constructor(public x: number, public y: number) {} norm() { return Math.hypot(this.x, this.y) } }");
    const result = await execute("const p = new Point(3, 4); [p.norm(), p instanceof Point]");
    assert.deepEqual(result.value, [5, true]);
  });

  test("top-level await works and the last expression is the value", async () => {
    const result = await execute("const waited = await new Promise<number>((r) => setTimeout(() => r(7), 20))\nwaited * 6");
    assert.equal(result.value, 42);
  });

  test("TypeScript types, interfaces and enums are stripped or compiled", async () => {
    const result = await execute(
      "interface Shape { sides: number }\ntype Id = string\nenum Color { Red, Green }\nconst tri: Shape = { sides: 3 };\nconst who: Id = 'x';\n[tri.sides, who, Color.Green] as const",
    );
    assert.equal(result.status, "ok", JSON.stringify(result.error));
    assert.deepEqual(result.value, [3, "x", 1]);
  });

  test("execution counts increase per execute and the value is shown by repr", async () => {
    const a = await execute("({ nested: { deep: [1, 2] } })");
    const b = await execute("1");
    assert.equal(typeof a.executionCount, "number");
    assert.equal(b.executionCount, a.executionCount! + 1);
    assert.equal(a.repr, "{ nested: { deep: [ 1, 2 ] } }");
  });

  test("a value that cannot travel still gets a repr, with no frames", async () => {
    const result = await execute("(() => 1)");
    assert.equal(result.status, "ok");
    assert.equal(result.bufferCount, 0);
    assert.match(result.repr!, /Function/);
  });

  test("imports from the engine's working directory and node builtins persist", async () => {
    const result = await execute('import { join } from "node:path"\nimport * as os from "node:os"\nimport acornDefault, { parse } from "acorn"\n[join("a", "b"), typeof os.cpus, typeof parse, typeof acornDefault]');
    assert.equal(result.status, "ok", JSON.stringify(result.error));
    assert.deepEqual(result.value, ["a/b", "function", "function", "object"]);
    assert.equal((await execute('join("c", "d")')).value, "c/d");
    assert.equal((await execute('(await import("node:path")).basename("/x/y")')).value, "y");
  });

  test("a runtime error reports the cell line", async () => {
    const result = await execute("const fine = 1\nthrow new RangeError('boom')");
    assert.equal(result.status, "error");
    assert.equal(result.error!.ename, "RangeError");
    assert.equal(result.error!.evalue, "boom");
    assert.equal(result.error!.engineId, 3);
    assert.match(result.error!.traceback.join("\n"), /<cell-\d+>:2:/);
  });

  test("a runtime error names the TypeScript line and column and shows the line with a marker", async () => {
    const line2 = "function fail(x: number, why: string): never { throw new RangeError(`bad ${x}: ${why}`) }";
    const line3 = "const n: number = 7; fail(n, 'typed')";
    const result = await execute(`type Unused = { a: string }\n${line2}\n${line3}`);
    assert.equal(result.status, "error");
    const traceback = result.error!.traceback;
    const shown = traceback.join("\n");
    const throwAt = line2.indexOf("new RangeError") + 1;
    const callAt = line3.indexOf("fail(n") + 1;
    const inFail = traceback.findIndex((l) => /^\s+at fail \(<cell-\d+>:2:\d+\)$/.test(l));
    assert.ok(inFail >= 0, shown);
    assert.match(traceback[inFail]!, new RegExp(`:2:${throwAt}\\)$`), shown);
    assert.equal(traceback[inFail + 1], `      2 | ${line2}`, shown);
    assert.equal(traceback[inFail + 2], `        | ${" ".repeat(throwAt - 1)}^`, shown);
    const atCall = traceback.findIndex((l) => /^\s+at <cell-\d+>:3:\d+$/.test(l));
    assert.ok(atCall > inFail, shown);
    assert.match(traceback[atCall]!, new RegExp(`:3:${callAt}$`), shown);
    assert.equal(traceback[atCall + 1], `      3 | ${line3}`, shown);
    assert.equal(traceback[atCall + 2], `        | ${" ".repeat(callAt - 1)}^`, shown);
  });

  test("a syntax error points at the cell line", async () => {
    const result = await execute("const ok = 1\nconst broken = ;\n");
    assert.equal(result.status, "error");
    assert.equal(result.error!.ename, "SyntaxError");
    const traceback = result.error!.traceback.join("\n");
    assert.match(traceback, /<cell-\d+>:2/);
    assert.match(traceback, /const broken = ;/);
  });

  test("a free name that is not defined gets a hint about the engine namespace", async () => {
    const result = await execute("notDefinedAnywhere + 1");
    assert.equal(result.error!.ename, "ReferenceError");
    assert.match(result.error!.evalue, /notDefinedAnywhere is not defined/);
    assert.match(result.error!.evalue, /names resolve in the engine namespace/);
  });

  test("the engine keeps serving after errors", async () => {
    assert.equal((await execute("base")).value, 40);
  });
});
