// tsparallel in two minutes. Start a cluster first (a controller and 2 engines):
//
//   npx tspcluster start -n 2 --daemonize
//   node examples/quickstart.mjs
//   npx tspcluster stop
//
// (`npm run quickstart` does all three.)
import { Client, ref } from "tsparallel";

// Connect to the cluster of the default profile; its connection file says where the controller is.
const rc = await Client.connect();
const ids = await rc.waitForEngines(2);
console.log(`connected to ${rc.url}, engines ${ids.join(", ")}`);

// A DirectView sends every call to every engine; results come back as one value per engine.
const dv = rc.directView();

// execute: TypeScript source runs in each engine's persistent namespace, like a notebook cell.
const answers = await dv.execute("const answer: number = 6 * 7; answer");
console.log("execute:", answers);

// push and pull: set and read names in the engine namespaces.
await dv.push({ greeting: "hello" });
console.log("pull:", await dv.pull("greeting"));

// apply: the function travels as source text. Free names inside it resolve on the engine,
// so pass data as arguments (or push it first), not through closures.
console.log("apply (engine pids):", await dv.apply(() => process.pid));

// ref: an argument that is a name on the engine, resolved there when the task runs.
console.log("apply with ref:", await dv.apply((word, times) => word.repeat(times), ref("greeting"), 2));

// scatter splits a list across the engines; gather concatenates the pieces back, in engine order.
await dv.scatter("part", [1, 2, 3, 4, 5, 6, 7, 8]);
console.log("scattered parts:", JSON.stringify(await dv.pull("part")));
await dv.execute("const doubled = part.map((x: number) => x * 2)");
console.log("gather:", JSON.stringify(await dv.gather("doubled")));

// Errors raised on an engine come back as RemoteError, with the engine id and the remote stack.
try {
  await rc.directView(ids[0]).execute("throw new RangeError('out of range')");
} catch (err) {
  console.log("remote error:", err.message);
}

// A LoadBalancedView hands each task to whichever engine is free.
const lv = rc.loadBalancedView();
const slowSquare = async (x) => {
  console.log(`squaring ${x}`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  return x * x;
};
const squares = lv.map(slowSquare, [1, 2, 3, 4, 5, 6, 7, 8]);

// The result is live: iterate it for each value as it arrives (in input order)...
for await (const square of squares) console.log(`progress ${squares.progress}/${squares.length}: got ${square}`);
// ...or just await it for the whole array.
console.log("lb map:", JSON.stringify(await squares));

// Each task keeps what it printed and where and when it ran.
console.log("stdout of the first task:", JSON.stringify(squares.stdout[0]));
const perEngine = {};
for (const id of squares.engineIds) perEngine[id] = (perEngine[id] ?? 0) + 1;
console.log("tasks per engine:", perEngine);
console.log(`metadata of the first task: engine ${squares.metadata[0].engineId}, status ${squares.metadata[0].status}`);
console.log(`wall time ${squares.wallTime} ms, engine time ${squares.serialTime.toFixed(1)} ms`);

rc.close();
console.log("done");
