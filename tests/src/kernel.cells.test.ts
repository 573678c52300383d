import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { join } from "node:path";
import { KernelClient, plainOutputs, streamText } from "./support/kernel-client.js";
import { repoRoot } from "./support/paths.js";

/** TypeScript cells: checked with what earlier cells declared, run over one notebook scope. */
describe("kernel: TypeScript cells", () => {
  let kernel: KernelClient;
  before(async () => (kernel = await KernelClient.start()));
  after(() => kernel.close());

  const value = async (code: string): Promise<string | undefined> => {
    const { reply, outputs } = await kernel.execute(code);
    assert.equal(reply.content.status, "ok", JSON.stringify(reply.content));
    return plainOutputs(outputs).at(-1);
  };
  const failure = async (code: string) => {
    const { reply, outputs } = await kernel.execute(code);
    assert.equal(reply.content.status, "error");
    const errors = outputs.filter((m) => m.header.msg_type === "error");
    assert.equal(errors.length, 1);
    return reply.content as { ename: string; evalue: string; traceback: string[] };
  };

  test("declarations carry from cell to cell with their types", async () => {
    await value("const a = 5; let b = a * 2");
    assert.equal(await value("b"), "10");
    assert.equal(await value("b = b + 1; b"), "11");
    const error = await failure("b.toUpperCase()");
    assert.equal(error.ename, "TSError");
    assert.match(error.evalue, /Property 'toUpperCase' does not exist on type 'number'/);
  });

  test("a const stays read-only in later cells", async () => {
    await value("const fixed = 1");
    const error = await failure("fixed = 2");
    assert.match(error.evalue, /Cannot assign to 'fixed' because it is a constant/);
  });

  test("a later cell may declare a name again, with another type", async () => {
    await value("let shadowed = 1");
    assert.equal(await value("const shadowed = 'text'; shadowed.toUpperCase()"), "'TEXT'");
    assert.equal(await value("shadowed.length"), "4");
  });

  test("functions read the notebook's current values, as in a Python notebook", async () => {
    await value("let rate = 2; function scale(x: number) { return x * rate }");
    assert.equal(await value("scale(10)"), "20");
    assert.equal(await value("rate = 3; scale(10)"), "30");
  });

  test("interfaces, classes, enums and destructuring survive across cells", async () => {
    await value("interface Point { x: number; y: number }\nclass Box { static made = 0; constructor(readonly p: Point) { Box.made++ } }\nenum Color { Red, Green }");
    await value("const { x, y: [first] } = { x: 1, y: [7] }; const box = new Box({ x, y: first })");
    assert.equal(await value("[box.p.x + box.p.y, Box.made, Color[1]]"), "[ 8, 1, 'Green' ]");
    const error = await failure("const bad: Point = { x: 1 }");
    assert.match(error.evalue, /Property 'y' is missing/);
  });

  test("top-level await, and using declarations disposed when the cell ends", async () => {
    assert.equal(await value("const fetched = await Promise.resolve(41); fetched + 1"), "42");
    const { outputs } = await kernel.execute("await using handle = { async [Symbol.asyncDispose]() { console.log('disposed') } }; console.log('body')");
    assert.equal(streamText(outputs, "stdout"), "body\ndisposed\n");
  });

  test("imports of Node modules, npm packages and tsparallel itself", async () => {
    assert.equal(await value("import { basename } from 'node:path'; basename('/a/b.txt')"), "'b.txt'");
    assert.equal(await value("import * as zmq from 'zeromq'; typeof zmq.Dealer"), "'function'");
    assert.equal(await value("import { Client, ref } from 'tsparallel'; [typeof Client.connect, ref<number[]>('xs').name]"), "[ 'function', 'xs' ]");
    assert.equal(await value("const os = await import('node:os'); typeof os.cpus"), "'function'");
  });

  test("a cell that fails at run time keeps what it assigned before failing", async () => {
    const error = await failure("let early = 1; early = 2; throw new RangeError('late'); let never = 3");
    assert.equal(error.ename, "RangeError");
    assert.equal(error.evalue, "late");
    assert.ok(error.traceback.some((line) => line.includes("cell[")), error.traceback.join("\n"));
    assert.equal(await value("early"), "2");
  });

  test("tracebacks name the cell's TypeScript line and column, show the line with a marker, and hide the kernel", async () => {
    // Lines holding only types vanish from the JavaScript: the positions must still be the TypeScript ones.
    await value("interface Holder { x: number }\ntype Unused = string\nfunction boom(h: Holder): number {\n  return h.x * (null as any).y\n}");
    const error = await failure("type Alias = number\nconst input: Alias = 1\nboom({ x: input })");
    const tb = error.traceback.map((line) => line.replace(/\u001b\[\d+m/g, ""));
    const at = tb.findIndex((line) => /at boom \(cell\[\d+\]:4:30\)/.test(line));
    assert.ok(at > 0, tb.join("\n"));
    assert.match(tb[at + 1]!, /4 \|\s+return h\.x \* \(null as any\)\.y$/);
    assert.equal(tb[at + 2]!.indexOf("^") - tb[at + 2]!.indexOf("|"), tb[at + 1]!.indexOf(".y") + 1 - tb[at + 1]!.indexOf("|"));
    // The calling cell's frame is its line 3; nothing of the kernel's wrapper past the cell's end, nor of Node or the kernel.
    const cellFrames = tb.filter((line) => /^\s+at /.test(line));
    assert.equal(cellFrames.length, 2, tb.join("\n"));
    assert.match(cellFrames[1]!, /cell\[\d+\]:3:\d+/);
    assert.ok(!tb.some((line) => /node:|kernel\/dist/.test(line)), tb.join("\n"));
  });

  test("a thrown non-Error shows the value, and display() ending a cell adds no Out", async () => {
    const thrown = await failure("throw { code: 42 }");
    assert.equal(thrown.evalue, "{ code: 42 }");
    assert.ok(!thrown.traceback.join("\n").includes("[object Object]"));
    const { reply, outputs } = await kernel.execute('display.html("<b>x</b>");');
    assert.equal(reply.content.status, "ok");
    assert.deepEqual(outputs.filter((m) => m.header.msg_type !== "execute_input").map((m) => m.header.msg_type), ["display_data"]);
  });

  test("display publishes rich outputs and updates them in place", async () => {
    const { outputs } = await kernel.execute("const shown = display.html('<b>one</b>', { displayId: 'd1' }); shown.update('two'); undefined");
    const display = outputs.find((m) => m.header.msg_type === "display_data")!;
    assert.equal((display.content.data as Record<string, unknown>)["text/html"], "<b>one</b>");
    assert.deepEqual(display.content.transient, { display_id: "d1" });
    const update = outputs.find((m) => m.header.msg_type === "update_display_data")!;
    assert.equal((update.content.data as Record<string, unknown>)["text/plain"], "'two'");
  });

  test("input() asks the frontend on the stdin channel", async () => {
    kernel.onInput = (prompt) => (prompt === "name? " ? "Ada" : "?");
    assert.equal(await value("const who = await input('name? '); who"), "'Ada'");
  });

  test("completion and inspection come from the language service, with earlier declarations", async () => {
    await value("const notebookCounter = { total: 1, label: 'x' }");
    const complete = await kernel.request("shell", "complete_request", { code: "notebookCounter.to", cursor_pos: 18 });
    assert.deepEqual(complete.content.matches, ["total"]);
    assert.equal(complete.content.cursor_start, 16);
    const magic = await kernel.request("shell", "complete_request", { code: "%pxc", cursor_pos: 4 });
    assert.deepEqual(magic.content.matches, ["%pxconfig"]);
    const inspect = await kernel.request("shell", "inspect_request", { code: "notebookCounter", cursor_pos: 15, detail_level: 0 });
    assert.equal(inspect.content.found, true);
    assert.match(String((inspect.content.data as Record<string, unknown>)["text/plain"]), /total: number/);
  });

  test("is_complete tells complete, incomplete and invalid code apart", async () => {
    const status = async (code: string) => (await kernel.request("shell", "is_complete_request", { code })).content.status;
    assert.equal(await status("const q = 1"), "complete");
    assert.equal(await status("function f() {"), "incomplete");
    assert.equal(await status("let r ="), "incomplete");
    assert.equal(await status("x = )"), "invalid");
  });

  test("%px --help is answered in the kernel; %lsmagic, %time, %timeit and %whos", async () => {
    const help = await kernel.execute("%px --help");
    assert.equal(help.reply.content.status, "ok", JSON.stringify(help.reply.content));
    assert.match(streamText(help.outputs, "stdout"), /--targets[\s\S]*--group-outputs/);
    const magics = streamText((await kernel.execute("%lsmagic")).outputs, "stdout");
    for (const name of ["%px", "%%px", "%time", "%%time", "%timeit", "%whos", "%tspcluster"]) assert.ok(magics.includes(name), magics);
    const timed = await kernel.execute("%time 6 * 7");
    assert.match(streamText(timed.outputs, "stdout"), /^CPU times: user .*, sys: .*, total: .*\nWall time: \d/);
    assert.deepEqual(plainOutputs(timed.outputs), ["42"]);
    const timeit = await kernel.execute("const timedArray = [3, 1, 2]; 0\n%timeit -n 20 -r 3 timedArray.slice().sort()");
    assert.equal(timeit.reply.content.status, "ok", JSON.stringify(timeit.reply.content));
    assert.match(streamText(timeit.outputs, "stdout"), /^[\d.]+ (ns|µs|ms|s) ± [\d.]+ (ns|µs|ms|s) per loop \(mean ± std\. dev\. of 3 runs, 20 loops each\)\n$/);
    await kernel.execute("const whosList = [1, 2, 3]; let whosText = 'hi'");
    const table = streamText((await kernel.execute("%whos")).outputs, "stdout");
    assert.match(table, /^Variable\s+Type\s+Data\/Info\n-+\n/);
    assert.match(table, /\nwhosList\s+Array\s+length 3\n/);
    assert.match(table, /\nwhosText\s+string\s+'hi'\n/);
  });

  test("is_complete and completion understand magic lines", async () => {
    const status = async (code: string) => (await kernel.request("shell", "is_complete_request", { code })).content.status;
    assert.equal(await status("%px 1+"), "incomplete");
    assert.equal(await status("%px 1 + 1"), "complete");
    assert.equal(await status("%timeit -n 3 Math.max("), "incomplete");
    const complete = async (code: string) => {
      const reply = await kernel.request("shell", "complete_request", { code, cursor_pos: code.length });
      return { matches: reply.content.matches as string[], start: reply.content.cursor_start as number };
    };
    assert.deepEqual(await complete("%%px --t"), { matches: ["--targets"], start: 5 });
    assert.deepEqual(await complete("%tspcluster --pro"), { matches: ["--profile"], start: 12 });
    assert.deepEqual((await complete("%lsm")).matches, ["%lsmagic"]);
    await kernel.execute("const magicTarget = { total: 1 }");
    assert.deepEqual(await complete("%px magicTarget.to"), { matches: ["total"], start: 16 });
    assert.deepEqual(await complete("%%px --block\nmagicTarget.to"), { matches: ["total"], start: 25 });
    const inspected = await kernel.request("shell", "inspect_request", { code: "%%px --targets 0", cursor_pos: 3, detail_level: 0 });
    assert.equal(inspected.content.found, true);
    assert.match(String((inspected.content.data as Record<string, unknown>)["text/plain"]), /--targets all \| 0,2 \| 1:3/);
  });

  test("many outputs from one cell all arrive, in order, before the idle status", async () => {
    const { reply, outputs } = await kernel.execute("for (let i = 0; i < 1000; i++) display.text(String(i)); undefined");
    assert.equal(reply.content.status, "ok");
    assert.deepEqual(plainOutputs(outputs), Array.from({ length: 1000 }, (_, i) => String(i)));
  });
});

/** Issue 11, gap 4: Node's ESM interop for CommonJS packages, and dynamic import(). */
describe("kernel: npm packages and dynamic import", () => {
  let kernel: KernelClient;
  // The tests' folder, where lodash (CommonJS, typed by @types/lodash) is a dev dependency.
  before(async () => (kernel = await KernelClient.start({ cwd: join(repoRoot, "tests") })));
  after(() => kernel.close());

  const value = async (code: string): Promise<string | undefined> => {
    const { reply, outputs } = await kernel.execute(code);
    assert.equal(reply.content.status, "ok", JSON.stringify(reply.content));
    return plainOutputs(outputs).at(-1);
  };

  test("default, namespace and named imports of a CommonJS package", async () => {
    assert.equal(await value('import * as L from "lodash"; L.sum([1, 2, 3])'), "6");
    assert.equal(await value('import { range } from "lodash"; range(3)'), "[ 0, 1, 2 ]");
    assert.equal(await value('import _ from "lodash"; [_.add(1, 2), L.max([4, 9]), range(1)]'), "[ 3, 9, [ 0 ] ]");
  });

  test("a dynamic import runs, and later cells know its type", async () => {
    assert.equal(await value('const fsm = await import("node:fs"); typeof fsm.readFileSync'), "'function'");
    assert.equal(await value('fsm.existsSync("/")'), "true");
    const { reply } = await kernel.execute("fsm.notAFunction");
    assert.equal(reply.content.ename, "TSError");
    assert.match(String(reply.content.evalue), /'notAFunction' does not exist on type 'typeof import\("node:fs"\)'/);
  });
});
