import { Command, InvalidArgumentError, Option } from "commander";
import { CONNECTION_INFO_ENV, createLogger, engineConnectionFile, parseConnectionInfo, type EngineConnectionInfo } from "@tsparallel/protocol";
import { startEngine } from "./engine.js";
import { LOST_CONTROLLER_MS } from "./heartbeat.js";
import { launchMetadata } from "./launch-metadata.js";

function positiveMs(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive integer (milliseconds)");
  return n;
}

const program = new Command("tspengine")
  .description("A tsparallel engine: registers with a controller and runs the tasks it is sent")
  .option("--file <path>", "engine connection file written by the controller")
  .option("--profile <name>", "use this profile's engine connection file (when --file is not given)", "default")
  .option("--lost-controller-ms <ms>", "exit after this long without any controller (meanwhile: register again, with backoff)", positiveMs, LOST_CONTROLLER_MS)
  .addOption(
    new Option("--connection-info <source>", `read the connection info as JSON from standard input ("-") or from $${CONNECTION_INFO_ENV} ("env"); ` +
      `without --file, a set $${CONNECTION_INFO_ENV} is used`).choices(["-", "env"]),
  )
  .option("--tag <key=value>", "launch metadata told to the controller (repeatable)", (value: string, all: string[]) => [...all, value], [] as string[])
  .addOption(new Option("--log-level <level>", "log verbosity").choices(["debug", "info", "warn", "error", "silent"]))
  .parse();

const options = program.opts<{ file?: string; profile: string; connectionInfo?: "-" | "env"; tag: string[]; lostControllerMs: number; logLevel?: string }>();
// The protocol's loggers read the level from the environment; the heartbeat thread inherits it too.
if (options.logLevel) process.env.TSPARALLEL_LOG_LEVEL = options.logLevel;
const log = createLogger("engine");

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    // A connection info is well under 1 KiB; anything near this is not one.
    if (size > 64 * 1024) throw new Error("standard input holds more than 64 KiB: not a connection info");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Connection info handed over without a shared file system (by the ssh, MPI and batch launchers). */
async function givenConnection(): Promise<EngineConnectionInfo | undefined> {
  if (options.file) return undefined;
  if (options.connectionInfo === "-") return parseConnectionInfo(await readStdin(), "the connection info on standard input", "engine");
  const fromEnv = process.env[CONNECTION_INFO_ENV];
  if (options.connectionInfo === "env" && !fromEnv) throw new Error(`--connection-info env: $${CONNECTION_INFO_ENV} is not set`);
  if (!fromEnv) return undefined;
  // Not passed on to anything this engine starts.
  delete process.env[CONNECTION_INFO_ENV];
  return parseConnectionInfo(fromEnv, `$${CONNECTION_INFO_ENV}`, "engine");
}

try {
  const metadata = launchMetadata(options.tag);
  const connection = await givenConnection();
  // With the info given, no profile directory is made on this host.
  const engine = await startEngine(connection ? { connection, metadata, lostControllerMs: options.lostControllerMs } : { connectionFile: options.file ?? engineConnectionFile(options.profile), metadata, lostControllerMs: options.lostControllerMs });
  process.exit(await engine.exited);
} catch (err) {
  log.error((err as Error).message);
  process.exit(1);
}
