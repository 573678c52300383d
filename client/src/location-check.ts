import { lookup } from "node:dns/promises";
import { hostname, networkInterfaces } from "node:os";
import { isIP } from "node:net";
import type { ClientConnectionInfo } from "@tsparallel/protocol";

/** `process.on("warning")` sees this code on the warning below. */
export const CONTROLLER_ELSEWHERE = "TSPARALLEL_CONTROLLER_ELSEWHERE";
/** A host name that does not resolve by then is taken as not this machine (as ipyparallel takes an unresolved one). */
const LOOKUP_MS = 2_000;

function isLoopback(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, "");
  return bare === "localhost" || bare === "::1" || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

/** Whether an address is one of this machine's own (loopback or an interface's). */
function isLocalAddress(address: string): boolean {
  if (isLoopback(address)) return true;
  return Object.values(networkInterfaces()).some((list) => list?.some((iface) => iface.address === address));
}

async function resolvesHere(host: string): Promise<boolean> {
  if (isIP(host)) return isLocalAddress(host);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<[]>((resolve) => (timer = setTimeout(() => resolve([]), LOOKUP_MS)));
  try {
    const addresses = await Promise.race([lookup(host, { all: true }), late]);
    return addresses.some(({ address }) => isLocalAddress(address));
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * ipyparallel's check when a client loads a connection file: a controller that listens only on a
 * loopback address but whose file says it runs on another host (by name, and by the addresses that
 * name resolves to) cannot be reached from here, so say so, as a RuntimeWarning, before the connect
 * times out. A controller host that is this machine's name or one of its addresses is fine.
 */
export async function warnIfControllerElsewhere(info: ClientConnectionInfo, file: string): Promise<void> {
  const host = info.controller?.hostname;
  if (typeof host !== "string" || host === "" || !isLoopback(info.location)) return;
  const here = hostname();
  if (host === here || (await resolvesHere(host))) return;
  process.emitWarning(
    `the controller in ${file} listens on ${info.location}, a loopback address, but runs on ${host}, not on this machine (${here}): ` +
      "start it with --ip on an address this machine can reach, or connect from its host (ports forwarded here, by ssh -L or kubectl port-forward, are fine: then ignore this)",
    { type: "RuntimeWarning", code: CONTROLLER_ELSEWHERE },
  );
}
