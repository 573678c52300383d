import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import * as zmq from "zeromq";
import { MessageSender, Signer, createLogger, receiveMessages } from "@tsparallel/protocol";
import { median, seconds } from "./timing.js";

/**
 * What the machine allows, measured in the same run as the workloads: a raw ZeroMQ DEALER↔ROUTER
 * round trip between two node processes, the same with our signed envelope (the compact one-frame form
 * the cluster speaks) on both ends,
 * and 100 MiB there and back. An apply round trip crosses two such hops each way (client ->
 * controller -> engine and back), so 2x the protocol round trip is its floor.
 */
export interface Floors {
  rawRoundTripSeconds: number;
  protocolRoundTripSeconds: number;
  bigThereAndBackSeconds: number;
}

const ECHO = fileURLToPath(new URL("./floor-echo.js", import.meta.url));

async function withEcho<T>(mode: "raw" | "protocol", key: string, use: (endpoint: string) => Promise<T>): Promise<T> {
  // No NODE_OPTIONS: a --profile preload must not slow the floor down.
  const child = fork(ECHO, [mode, key], { env: { ...process.env, NODE_OPTIONS: "" }, stdio: ["ignore", "ignore", "inherit", "ipc"] });
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      child.once("message", (m) => resolve(String(m)));
      child.once("error", reject);
      child.once("exit", (code) => reject(new Error(`floor echo exited (code ${code})`)));
    });
    return await use(endpoint);
  } finally {
    child.removeAllListeners("exit");
    child.disconnect();
  }
}

async function rawFloor(roundTrips: number, bigBytes: number): Promise<{ rtt: number; big: number }> {
  return withEcho("raw", "", async (endpoint) => {
    const dealer = new zmq.Dealer({ sendHighWaterMark: 0, receiveHighWaterMark: 0, linger: 0 });
    dealer.connect(endpoint);
    const replies = dealer[Symbol.asyncIterator]();
    const echo = async (frames: Buffer[]) => {
      await dealer.send(frames);
      await replies.next();
    };
    const small = [Buffer.alloc(300, 1)];
    const samples: number[] = [];
    for (let i = 0; i < roundTrips + 50; i++) {
      const start = performance.now();
      await echo(small);
      if (i >= 50) samples.push(seconds(start));
    }
    const big = Buffer.alloc(bigBytes, 1);
    const bigSamples: number[] = [];
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      await echo([big]);
      bigSamples.push(seconds(start));
    }
    dealer.close();
    return { rtt: median(samples), big: median(bigSamples) };
  });
}

async function protocolFloor(roundTrips: number): Promise<number> {
  const key = randomBytes(32).toString("hex");
  return withEcho("protocol", key, async (endpoint) => {
    const dealer = new zmq.Dealer({ sendHighWaterMark: 0, receiveHighWaterMark: 0, linger: 0 });
    dealer.connect(endpoint);
    const signer = new Signer(key);
    const log = createLogger("floor");
    const sender = new MessageSender(dealer, signer, "floor", log, "compact");
    const replies = receiveMessages(dealer, signer, log);
    // About the size of one apply task's content.
    const content = { targets: [0], body: { kind: "apply", fn: { hash: "0".repeat(40), name: "nothing" } }, bufferCount: 1 };
    const samples: number[] = [];
    for (let i = 0; i < roundTrips + 50; i++) {
      const start = performance.now();
      sender.send("status_request", content as unknown as Record<string, never>, { buffers: [Buffer.alloc(16)] });
      await replies.next();
      if (i >= 50) samples.push(seconds(start));
    }
    sender.close();
    dealer.close();
    return median(samples);
  });
}

export async function measureFloors(roundTrips: number, bigBytes: number): Promise<Floors> {
  const raw = await rawFloor(roundTrips, bigBytes);
  const protocolRoundTripSeconds = await protocolFloor(roundTrips);
  return { rawRoundTripSeconds: raw.rtt, protocolRoundTripSeconds, bigThereAndBackSeconds: raw.big };
}
