/**
 * A client in its own process, for tests that kill a client: connects with the given client file,
 * starts a 20,000-task map of 10 ms naps (chunkSize 1), prints the map's first and last msg ids as
 * one JSON line, and waits (it is killed before the map can finish).
 */
import { Client } from "tsparallel";

const [connectionFile, engines] = process.argv.slice(2);
const client = await Client.connect({ connectionFile, timeout: 10_000 });
await client.waitForEngines(Number(engines), { timeout: 20_000 });
const nap = async (x: number): Promise<number> => {
  await new Promise((resolve) => setTimeout(resolve, 10));
  return x;
};
const items = Array.from({ length: 20_000 }, (_, i) => i);
const result = client.loadBalancedView().map(nap, items, { chunkSize: 1 });
process.stdout.write(JSON.stringify({ first: result.msgIds[0], last: result.msgIds.at(-1), count: result.msgIds.length }) + "\n");
await result;
