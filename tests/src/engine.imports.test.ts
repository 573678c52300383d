import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FakeController } from "./support/fake-controller.js";

describe("engine imports resolve from the engine's working directory", () => {
  const controller = new FakeController();
  const workdir = join(controller.profile.dir, "work");
  const execute = (code: string) => controller.run({ kind: "execute", code });

  before(async () => {
    const esmOnly = join(workdir, "node_modules", "esm-only");
    mkdirSync(join(esmOnly, "lib"), { recursive: true });
    writeFileSync(join(esmOnly, "package.json"), JSON.stringify({ name: "esm-only", type: "module", exports: { ".": { import: "./lib/main.js" }, "./extra": { import: "./lib/extra.js" } } }));
    writeFileSync(join(esmOnly, "lib", "main.js"), "export const kind = 'esm-only'; export default function triple(x) { return 3 * x }\n");
    writeFileSync(join(esmOnly, "lib", "extra.js"), "export const extra = true;\n");
    const cjs = join(workdir, "node_modules", "plain-cjs");
    mkdirSync(cjs, { recursive: true });
    writeFileSync(join(cjs, "package.json"), JSON.stringify({ name: "plain-cjs", main: "index.js" }));
    writeFileSync(join(cjs, "index.js"), "exports.greet = (n) => 'hello ' + n;\n");
    writeFileSync(join(workdir, "local.mjs"), "export const local = 'from cwd';\n");
    await controller.startEngine(0, 100, { cwd: workdir });
  });
  after(() => controller.close());

  test("an ESM-only package (import condition only), default and named", async () => {
    const result = await execute('import triple, { kind } from "esm-only"\nimport { extra } from "esm-only/extra"\n[triple(2), kind, extra]');
    assert.equal(result.status, "ok", JSON.stringify(result.error));
    assert.deepEqual(result.value, [6, "esm-only", true]);
  });

  test("a CommonJS package and a relative file", async () => {
    const result = await execute('import { greet } from "plain-cjs"\nimport * as mod from "./local.mjs"\n[greet("engine"), mod.local]');
    assert.equal(result.status, "ok", JSON.stringify(result.error));
    assert.deepEqual(result.value, ["hello engine", "from cwd"]);
  });

  test("a dynamic import inside a hoisted function", async () => {
    await execute('async function load(name: string) { return (await import(name)).greet("again") }');
    assert.equal((await execute('await load("plain-cjs")')).value, "hello again");
  });

  test("a missing package is an error result", async () => {
    const result = await execute('import nothing from "no-such-package"');
    assert.equal(result.status, "error");
    assert.match(result.error!.evalue, /no-such-package/);
  });
});
