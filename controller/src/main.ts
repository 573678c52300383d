import { Command, InvalidArgumentError, Option } from "commander";
import { startController } from "./controller.js";
import { DEFAULT_HEARTBEAT, DEFAULT_HWM, DEFAULT_NEW_ENGINES_PER_SECOND } from "./options.js";
import { DEFAULT_KEEP_ENDED_ENGINES } from "./engines-registry.js";
import { DEFAULT_CONNECTION_CAPS } from "./connection-caps.js";
import { DEFAULT_RECORD_LIMITS } from "./records/task-records.js";
import { SCHEMES, type SchemeName } from "./schedulers/index.js";
import { DEFAULT_MAX_BEHIND, DEFAULT_STORE_LIMITS } from "./store/task-store.js";

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a non-negative integer");
  return n;
}

const program = new Command("tspcontroller")
  .description("The tsparallel controller: registers engines, routes and schedules tasks, publishes cluster events")
  .option("--profile <name>", "profile (selects the connection files)", "default")
  .option("--cluster-id <id>", "one of several clusters in the profile: its files are tspcontroller-<id>-* (default: the profile's own)")
  .option("--ip <address>", "address to bind", "127.0.0.1")
  .option("--curve", "ZeroMQ CURVE on every socket: encrypted, only holders of the connection file connect (default: on when --ip is not a loopback address)")
  .option("--no-curve", "plaintext on the client, engine and heartbeat sockets even on a non-loopback address")
  .option("--location <host>", "address peers connect to (default: ip, or this host's name when ip is 0.0.0.0)")
  .addOption(new Option("--scheme <scheme>", "load-balancing scheme").choices(SCHEMES).default("leastload"))
  .option("--hwm <n>", "max outstanding tasks per engine for the load balancer (0 = unlimited)", integer, DEFAULT_HWM)
  .addOption(new Option("--lb-window <mode>", "tasks an engine may hold: adaptive (from measured run times, up to hwm) or hwm").choices(["adaptive", "hwm"]).default("adaptive"))
  .option("--heartbeat-period <ms>", `how often engines beat (default ${DEFAULT_HEARTBEAT.periodMs})`, integer)
  .option("--heartbeat-misses <n>", `beats in a row an engine may miss, counted from its last beat, before it is declared dead (default ${DEFAULT_HEARTBEAT.misses})`, integer)
  .addOption(new Option("--heartbeat-ms <ms>", "old name of --heartbeat-period").argParser(integer).hideHelp())
  .addOption(new Option("--heartbeat-timeout-ms <ms>", "older form of --heartbeat-misses, as a silence in ms").argParser(integer).hideHelp())
  .addOption(new Option("--orphan-tasks <mode>", "unstarted tasks of a client that is gone (silent as long as a dead engine): abort them, or keep them running").choices(["abort", "keep"]).default("abort"))
  .option("--client-file <path>", "client connection file (default: the profile's)")
  .option("--engine-file <path>", "engine connection file (default: the profile's)")
  .addOption(new Option("--db <kind>", "task store: sqlite (a file in the profile directory) or memory (default: sqlite when the profile directory exists)").choices(["sqlite", "memory"]))
  .option("--db-file <path>", "the SQLite task store file (default: <profile dir>/tspcontroller-tasks.sqlite)")
  .option("--db-max-records <n>", "task records the store keeps (oldest finished ones are culled)", integer, DEFAULT_STORE_LIMITS.maxRecords)
  .option("--db-max-bytes <n>", "bytes of arguments and results the store keeps", integer, DEFAULT_STORE_LIMITS.maxBytes)
  .option("--db-max-value-bytes <n>", "a result or argument list larger than this is not stored (its record says so)", integer, DEFAULT_STORE_LIMITS.maxValueBytes)
  .option("--db-max-behind-rows <n>", "rows the store's writer may have waiting before the controller stops reading new work until it catches up", integer, DEFAULT_MAX_BEHIND.rows)
  .option("--db-max-behind-bytes <n>", "bytes of arguments and results the store's writer may have waiting before the controller stops reading new work", integer, DEFAULT_MAX_BEHIND.bytes)
  .option("--restore", "restart after a crash: same ports and key (from the connection files), same task store and engine ids")
  .option("--keep-dead-engines <n>", "dead or stopped engines kept in snapshots (the most recently ended; older ones are forgotten, and get their id back from the task store if they register again)", integer, DEFAULT_KEEP_ENDED_ENGINES)
  .option("--new-engines-per-sec <n>", "new engines that may register per second (bursts of 10 s worth); more are told to ask again", integer, DEFAULT_NEW_ENGINES_PER_SECOND)
  .option("--max-connections-per-address <n>", "connections one peer address may hold open on one port once they finished their handshake; more are refused", integer, DEFAULT_CONNECTION_CAPS.perAddress)
  .option("--max-connections-per-port <n>", "connections one port may hold open once they finished their handshake, from all addresses (lowered to fit the open-file limit)", integer, DEFAULT_CONNECTION_CAPS.perPort)
  .option("--keep-results <n>", "completed tasks whose result values the controller keeps for result requests", integer, 1024)
  .addOption(new Option("--log-level <level>", "log level").choices(["debug", "info", "warn", "error", "silent"]))
  .parse();

interface CliOptions {
  profile: string;
  clusterId?: string;
  ip: string;
  location?: string;
  curve?: boolean;
  scheme: SchemeName;
  hwm: number;
  lbWindow: "adaptive" | "hwm";
  heartbeatPeriod?: number;
  heartbeatMisses?: number;
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  orphanTasks: "abort" | "keep";
  clientFile?: string;
  engineFile?: string;
  keepResults: number;
  keepDeadEngines: number;
  newEnginesPerSec: number;
  maxConnectionsPerAddress: number;
  maxConnectionsPerPort: number;
  db?: "sqlite" | "memory";
  dbFile?: string;
  dbMaxRecords: number;
  dbMaxBytes: number;
  dbMaxValueBytes: number;
  dbMaxBehindRows: number;
  dbMaxBehindBytes: number;
  restore?: boolean;
  logLevel?: string;
}

const cli = program.opts<CliOptions>();
// Loggers read the level when created; the controller creates its logger when it starts, below.
if (cli.logLevel) process.env.TSPARALLEL_LOG_LEVEL = cli.logLevel;

try {
  const controller = await startController({
    profile: cli.profile,
    clusterId: cli.clusterId,
    ip: cli.ip,
    location: cli.location,
    curve: cli.curve,
    scheme: cli.scheme,
    hwm: cli.hwm,
    lbWindow: cli.lbWindow,
    heartbeatMs: cli.heartbeatPeriod ?? cli.heartbeatMs,
    heartbeatMisses: cli.heartbeatMisses,
    heartbeatTimeoutMs: cli.heartbeatTimeoutMs,
    orphanTasks: cli.orphanTasks,
    clientFile: cli.clientFile,
    engineFile: cli.engineFile,
    db: cli.db,
    dbFile: cli.dbFile,
    storeLimits: { maxRecords: cli.dbMaxRecords, maxBytes: cli.dbMaxBytes, maxValueBytes: cli.dbMaxValueBytes, maxBehindRows: cli.dbMaxBehindRows, maxBehindBytes: cli.dbMaxBehindBytes },
    restore: cli.restore ?? false,
    keepEndedEngines: cli.keepDeadEngines,
    newEnginesPerSecond: cli.newEnginesPerSec,
    maxConnectionsPerAddress: cli.maxConnectionsPerAddress,
    maxConnectionsPerPort: cli.maxConnectionsPerPort,
    recordLimits: { ...DEFAULT_RECORD_LIMITS, keepResults: cli.keepResults, keepRecords: Math.max(DEFAULT_RECORD_LIMITS.keepRecords, cli.keepResults) },
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => void controller.stop(`received ${signal}`));
  }
  // The one stdout line launchers wait for. They close the pipe after reading it; nothing else is written.
  process.stdout.on("error", () => undefined);
  process.stdout.write(JSON.stringify({ ready: true, pid: controller.pid, clientFile: controller.clientFile, engineFile: controller.engineFile }) + "\n");
  await controller.closed;
  process.exit(0);
} catch (err) {
  process.stderr.write(`tspcontroller: ${(err as Error).message}\n`);
  process.exit(1);
}
