/**
 * A client in its own process, for tests that kill a client: connects with the given client file,
 * starts a map of 10 ms naps (chunkSize 1; 20,000 unless told), prints the map's first and last msg
 * ids as one JSON line, and waits (it is killed before the map can finish). With `busy <ms>` it then
 * holds its main thread in a synchronous loop that long, and prints how the map ended.
 */
import { Client } from "tsparallel";

const [connectionFile, engines, mode, busyMs, items = "20000"] = process.argv.slice(2);
const client = await Client.connect({ connectionFile, timeout: 10_000 });
await client.waitForEngines(Number(engines), { timeout: 20_000 });
const nap = async (x: number): Promise<number> => {
  await new Promise((resolve) => setTimeout(resolve, 10));
  return x;
};
const result = client.loadBalancedView().map(nap, Array.from({ length: Number(items) }, (_, i) => i), { chunkSize: 1 });
process.stdout.write(JSON.stringify({ first: result.msgIds[0], last: result.msgIds.at(-1), count: result.msgIds.length }) + "\n");
if (mode === "busy") {
  // The submission leaves on a later tick: spin only once tasks are running.
  while (result.progress === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const until = Date.now() + Number(busyMs);
  while (Date.now() < until) {
    // The main thread sends nothing now: only the heartbeat thread says this client is alive.
  }
  const values = await result.then((v) => v, (err: unknown) => err as Error);
  process.stdout.write(JSON.stringify(values instanceof Error ? { error: `${values.name}: ${values.message}` } : { ok: values.length }) + "\n");
  client.close();
} else {
  await result;
}
