import { Command, InvalidArgumentError, Option } from "commander";
import { createLogger, engineConnectionFile } from "@tsparallel/protocol";
import { startEngine } from "./engine.js";
import { LOST_CONTROLLER_MS } from "./heartbeat.js";

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
  .addOption(new Option("--log-level <level>", "log verbosity").choices(["debug", "info", "warn", "error", "silent"]))
  .parse();

const options = program.opts<{ file?: string; profile: string; lostControllerMs: number; logLevel?: string }>();
// The protocol's loggers read the level from the environment; the heartbeat thread inherits it too.
if (options.logLevel) process.env.TSPARALLEL_LOG_LEVEL = options.logLevel;
const log = createLogger("engine");

try {
  const engine = await startEngine({ connectionFile: options.file ?? engineConnectionFile(options.profile), lostControllerMs: options.lostControllerMs });
  process.exit(await engine.exited);
} catch (err) {
  log.error((err as Error).message);
  process.exit(1);
}
