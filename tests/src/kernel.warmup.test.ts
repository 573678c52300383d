/**
 * Issues 11 and 13, "the kernel answers at once": the TypeScript compiler is loaded through V8's
 * code cache, written by one kernel after its warm-up and used by the next; the program parses
 * without doc comments, and inspect still shows them. (How fast is `npm run bench`'s business.)
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import type { Message } from "@tsparallel/protocol";
import { KernelClient, plainOutputs } from "./support/kernel-client.js";
import { repoRoot } from "./support/paths.js";

const WRITTEN = /warm-up: wrote the code cache /;

async function waitFor(what: string, check: () => boolean, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("kernel: compiler warm-up", () => {
  const cacheHome = mkdtempSync(join(tmpdir(), "tsp-cache-home-"));
  const cacheDir = join(cacheHome, "tsparallel");
  const env = { XDG_CACHE_HOME: cacheHome, TSPARALLEL_LOG_LEVEL: "info" };
  const kernels: KernelClient[] = [];
  after(async () => {
    await Promise.all(kernels.map((k) => k.close()));
    rmSync(cacheHome, { recursive: true, force: true });
  });

  const start = async (): Promise<KernelClient> => {
    const kernel = await KernelClient.start({ env });
    kernels.push(kernel);
    return kernel;
  };
  const result = async (kernel: KernelClient, code: string): Promise<string | undefined> => {
    const { reply, outputs } = await kernel.execute(code);
    assert.equal(reply.content.status, "ok", JSON.stringify(reply.content));
    return plainOutputs(outputs).at(-1);
  };
  const cacheFiles = (): string[] => (existsSync(cacheDir) ? readdirSync(cacheDir).filter((f) => f.endsWith(".v8cache")) : []);

  test("a kernel writes the compiler's code cache after its warm-up; the next kernel loads TypeScript from it", async () => {
    const first = await start();
    assert.equal(await result(first, "1 + 1"), "2");
    await waitFor("the code cache to be written", () => WRITTEN.test(first.stderr));
    assert.match(first.stderr, /warm-up: TypeScript loaded compiled \(no code cache yet\)/);
    assert.equal(cacheFiles().length, 1, `one cache file for this TypeScript and Node: ${cacheFiles().join(", ")}`);
    assert.match(cacheFiles()[0]!, /^typescript-[\d.]+-node-v[\d.]+-\w+\.v8cache$/);

    const second = await start();
    assert.equal(await result(second, "const n: number = 20; n + 1"), "21");
    assert.match(second.stderr, /warm-up: TypeScript loaded from the code cache/);
    // A cache that was accepted is not written again.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.doesNotMatch(second.stderr, WRITTEN);
  });

  test("a damaged code cache is rejected by V8 and written again; the kernel works as usual", async () => {
    const file = join(cacheDir, cacheFiles()[0]!);
    writeFileSync(file, Buffer.from("not a V8 code cache at all, only some bytes".repeat(100)));
    const kernel = await start();
    assert.equal(await result(kernel, "[1, 2, 3].map((x) => x * 2)"), "[ 2, 4, 6 ]");
    assert.match(kernel.stderr, /warm-up: TypeScript loaded compiled \(code cache rejected\)/);
    await waitFor("the code cache to be written again", () => WRITTEN.test(kernel.stderr));
    const { reply } = await kernel.execute('const wrong: string = 5');
    assert.equal(reply.content.status, "error", "type errors are still reported");
  });

  test("inspect shows the documentation of library, Node and notebook declarations", async () => {
    const kernel = kernels.at(-1)!;
    const inspect = async (code: string): Promise<string> => {
      const reply = await kernel.request("shell", "inspect_request", { code, cursor_pos: code.length, detail_level: 0 });
      assert.equal(reply.content.found, true, code);
      return String((reply.content.data as Record<string, unknown>)["text/plain"]);
    };
    const max = await inspect("Math.max");
    assert.match(max, /Math\.max\(\.\.\.values: number\[\]\): number/);
    assert.match(max, /Returns the larger of a set of supplied numeric expressions\./);
    assert.match(max, /@param values Numeric expressions to be evaluated\./);
    assert.match(await inspect("process.cwd"), /returns the current working directory of the Node\.js/);
    await result(kernel, "/** Adds the notebook's offset.\n * @param x where to start */\nfunction shifted(x: number) { return x + 1 }");
    const shiftedDoc = await inspect("shifted");
    assert.match(shiftedDoc, /function shifted\(x: number\): number/);
    assert.match(shiftedDoc, /Adds the notebook's offset\./);
    assert.match(shiftedDoc, /@param x where to start/);
  });
});

/**
 * Issue 13: the first program leaves out the @types/node files no global declaration needs
 * (kernel/src/typescript/deferred-node-types.ts), so the first cell is checked sooner. Each test
 * sends its request first thing to a fresh kernel, while that part is still left out; what the
 * cell sees must be what the whole @types/node gives.
 */
describe("kernel: first cells while part of @types/node is deferred", () => {
  const kernels: KernelClient[] = [];
  after(async () => {
    await Promise.all(kernels.map((k) => k.close()));
  });
  const fresh = async (): Promise<KernelClient> => {
    const kernel = await KernelClient.start({ env: { TSPARALLEL_LOG_LEVEL: "info" } });
    kernels.push(kernel);
    return kernel;
  };
  const errorOf = (reply: Message<Record<string, unknown>>): string => `${String(reply.content.ename)}: ${String(reply.content.evalue)}`;

  test("a first cell importing a deferred module runs, with that module's types", async () => {
    const kernel = await fresh();
    const { reply, outputs } = await kernel.execute('import { strictEqual } from "node:assert";\nimport * as http2 from "node:http2";\nstrictEqual(1, 1);\nconst server: number = http2.constants.NGHTTP2_SESSION_SERVER;\nserver');
    assert.equal(reply.content.status, "ok", JSON.stringify(reply.content));
    assert.equal(plainOutputs(outputs).at(-1), "0");
  });

  test("a first cell's type error against a deferred module is the real one, not a missing module", async () => {
    const kernel = await fresh();
    const { reply } = await kernel.execute('import { constants } from "node:zlib";\nconst level: string = constants.Z_BEST_SPEED;');
    assert.equal(reply.content.status, "error");
    assert.match(errorOf(reply), /not assignable to type 'string'/);
    assert.doesNotMatch(errorOf(reply), /Cannot find module/);
  });

  test("process.getBuiltinModule in a first cell is typed by the deferred module (not any)", async () => {
    const kernel = await fresh();
    const { reply } = await kernel.execute('const zlib = process.getBuiltinModule("node:zlib");\nconst level: string = zlib.constants.Z_BEST_SPEED;');
    assert.equal(reply.content.status, "error", "a number is not a string, whichever way the module was reached");
    assert.match(errorOf(reply), /not assignable to type 'string'/);
  });

  test("a notebook file that reaches a deferred module types a first cell as the whole @types/node does", async () => {
    const folder = mkdtempSync(join(tmpdir(), "tsp-deferred-"));
    try {
      writeFileSync(join(folder, "helper.js"), 'import { constants } from "node:zlib";\nexport const level = constants.Z_BEST_SPEED;\n');
      writeFileSync(join(folder, "helper.d.ts"), 'import { constants } from "node:zlib";\nexport declare const level: typeof constants.Z_BEST_SPEED;\n');
      const kernel = await KernelClient.start({ cwd: folder, env: { TSPARALLEL_LOG_LEVEL: "info" } });
      kernels.push(kernel);
      const { reply } = await kernel.execute('import { level } from "./helper.js";\nconst name: string = level;');
      assert.equal(reply.content.status, "error", "the file's level is a number, not any");
      assert.match(errorOf(reply), /not assignable to type 'string'/);
      const { reply: ok, outputs } = await kernel.execute('import { level } from "./helper.js";\nconst n: number = level;\nn');
      assert.equal(ok.content.status, "ok", JSON.stringify(ok.content));
      assert.equal(plainOutputs(outputs).at(-1), "1");
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test("a first completion request lists the deferred modules' names", async () => {
    const kernel = await fresh();
    const code = 'import * as compression from "zl';
    const reply = await kernel.request("shell", "complete_request", { code, cursor_pos: code.length });
    assert.deepEqual(reply.content.matches, ["zlib"]);
  });

  test("the deferred files hold only modules no other declaration (but getBuiltinModule's table) imports", async () => {
    const kernelRequire = createRequire(join(repoRoot, "kernel", "package.json"));
    const ts = kernelRequire("typescript") as typeof import("typescript");
    const dir = dirname(kernelRequire.resolve("@types/node/package.json"));
    const files = [...readFileSync(join(dir, "index.d.ts"), "utf8").matchAll(/reference path="([^"]+)"/g)].map((m) => m[1]!);
    const strip = (name: string) => name.replace(/^node:/, "");
    const declared = new Map<string, string[]>();
    const importers = new Map<string, Set<string>>();
    const globalFiles = new Set<string>();
    for (const file of files) {
      const source = ts.createSourceFile(file, readFileSync(join(dir, file), "utf8"), ts.ScriptTarget.Latest, true);
      const names: string[] = [];
      for (const statement of source.statements) {
        if (ts.isModuleDeclaration(statement) && ts.isStringLiteral(statement.name)) names.push(strip(statement.name.text));
        else globalFiles.add(file);
      }
      declared.set(file, names);
      const visit = (node: import("typescript").Node): void => {
        let specifier: string | undefined;
        if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) specifier = node.moduleSpecifier.text;
        // getBuiltinModule's table (`typeof import("...")` in process.d.ts) is the one use left out: cells reaching it are compiled against the whole.
        else if (ts.isImportTypeNode(node) && file !== "process.d.ts" && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) specifier = node.argument.literal.text;
        if (ts.isModuleDeclaration(node) && ts.isIdentifier(node.name) && node.name.text === "global") globalFiles.add(file);
        if (specifier !== undefined) {
          const users = importers.get(strip(specifier)) ?? new Set<string>();
          users.add(file);
          importers.set(strip(specifier), users);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    const listFile = pathToFileURL(join(repoRoot, "kernel", "dist", "typescript", "deferred-node-types.js")).href;
    const { DEFERRED_NODE_TYPE_FILES } = (await import(listFile)) as { DEFERRED_NODE_TYPE_FILES: string[] };
    const deferred = new Set(DEFERRED_NODE_TYPE_FILES);
    for (const file of deferred) {
      assert.ok(files.includes(file), `${file} is one of @types/node's files`);
      assert.ok(!globalFiles.has(file), `${file} declares nothing global`);
      for (const name of declared.get(file)!) {
        const outside = [...(importers.get(name) ?? [])].filter((user) => !deferred.has(user));
        assert.deepEqual(outside, [], `module ${name} (${file}) is imported only by deferred files`);
        // Else that file's declaration would stand alone for the module while this one is left out.
        const alsoDeclaring = files.filter((other) => other !== file && declared.get(other)!.includes(name));
        assert.deepEqual(alsoDeclaring, [], `module ${name} is declared by ${file} alone`);
      }
    }
  });
});
