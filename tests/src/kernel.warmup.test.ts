/**
 * Issues 11 and 13, "the kernel answers at once": the TypeScript compiler is loaded through V8's
 * code cache, written by one kernel after its warm-up and used by the next; the program parses
 * without doc comments, and inspect still shows them. (How fast is `npm run bench`'s business.)
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { KernelClient, plainOutputs } from "./support/kernel-client.js";

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
