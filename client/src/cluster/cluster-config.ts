import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { profileDir } from "@tsparallel/protocol";
import { ClusterConfigError } from "./cluster-error.js";
import type { ControllerLauncherChoice } from "./controller-launchers.js";
import type { EngineLauncherChoice } from "./engine-launchers.js";
import { controllerLauncherName, engineLauncherName, LauncherNameError, type ControllerLauncherName, type EngineLauncherName } from "./launcher-names.js";
import type { RestartPolicy } from "./restart-policy.js";

/** The file in a profile's directory that `Cluster.start({ profile })` and `tspcluster start --profile` read. */
export const CLUSTER_CONFIG_FILE = "cluster-config.json";

/**
 * What a profile's cluster-config.json may say (ipyparallel's ipcluster_config in the profile): the
 * ClusterOptions that make sense to keep per profile. Options given to `Cluster.start` or on the
 * command line win, key by key. Launchers by name or as `{ "launcher": "mpi", "mpiArgs": [...] }`;
 * a batch `templateFile` is relative to the profile directory.
 */
export interface ClusterConfig {
  n?: number;
  engines?: EngineLauncherChoice;
  controller?: ControllerLauncherChoice;
  ip?: string;
  location?: string;
  curve?: boolean;
  controllerArgs?: string[];
  engineArgs?: string[];
  timeout?: number;
  supervise?: boolean | Partial<RestartPolicy>;
}

type Kind = "string" | "strings" | "number" | "positive integer" | "boolean";

const TOP: Record<Exclude<keyof ClusterConfig, "engines" | "controller" | "supervise">, Kind> = {
  n: "positive integer", ip: "string", location: "string", curve: "boolean", controllerArgs: "strings", engineArgs: "strings", timeout: "number",
};
const POLICY: Record<keyof RestartPolicy, Kind> = { maxRestarts: "number", windowMs: "number", backoffMs: "number", maxBackoffMs: "number" };

const BATCH: Record<string, Kind> = {
  templateFile: "string", template: "string", submit: "string", cancel: "string", status: "string", name: "string", queue: "string",
  time: "string", account: "string", node: "string", engineScript: "string",
};
const ENGINE_OPTIONS: Record<EngineLauncherName, Record<string, Kind>> = {
  local: {},
  ssh: { hosts: "string", sshArgs: "strings", ssh: "string", remoteDir: "string", remoteNode: "string", remoteEngine: "string", startTimeoutMs: "number" },
  mpi: { mpiexec: "string", mpiArgs: "strings", node: "string", engineScript: "string" },
  slurm: { partition: "string", time: "string", account: "string", slurmArgs: "strings", node: "string", engineScript: "string" },
  batch: BATCH, pbs: BATCH, sge: BATCH, lsf: BATCH,
};
const CONTROLLER_OPTIONS: Record<ControllerLauncherName, Record<string, Kind>> = {
  local: {},
  ssh: { host: "string", sshArgs: "strings", ssh: "string", remoteNode: "string", remoteController: "string", remoteDir: "string", remoteTsparallelDir: "string" },
  slurm: { partition: "string", time: "string", account: "string", slurmArgs: "strings", node: "string", controllerScript: "string" },
};

function fits(kind: Kind, value: unknown): boolean {
  switch (kind) {
    case "string":
      return typeof value === "string";
    case "strings":
      return Array.isArray(value) && value.every((v) => typeof v === "string");
    case "number":
      return typeof value === "number" && Number.isFinite(value) && value >= 0;
    case "positive integer":
      return typeof value === "number" && Number.isInteger(value) && value >= 1;
    case "boolean":
      return typeof value === "boolean";
  }
}

const ARTICLE: Record<Kind, string> = {
  string: "a string", strings: "an array of strings", number: "a non-negative number", "positive integer": "a positive whole number", boolean: "true or false",
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Checks an object's keys against a table: unknown keys and wrong types are errors naming `path.key`. */
function checkKeys(file: string, path: string, value: Record<string, unknown>, table: Record<string, Kind>, extra: string[] = []): void {
  for (const [key, v] of Object.entries(value)) {
    if (extra.includes(key)) continue;
    const kind = Object.hasOwn(table, key) ? table[key] : undefined;
    if (!kind) {
      const known = [...extra, ...Object.keys(table)];
      throw new ClusterConfigError(`${file}: unknown key "${path}${key}"${known.length ? ` (known here: ${known.join(", ")})` : ""}`);
    }
    if (!fits(kind, v)) throw new ClusterConfigError(`${file}: "${path}${key}" must be ${ARTICLE[kind]}, got ${JSON.stringify(v)}`);
  }
}

function launcherChoice<N extends string>(file: string, key: string, value: unknown, name: (n: unknown) => N, options: Record<N, Record<string, Kind>>): N {
  const given = isObject(value) ? value.launcher : value;
  let launcher: N;
  try {
    launcher = name(given);
  } catch (err) {
    if (err instanceof LauncherNameError) throw new ClusterConfigError(`${file}: "${key}": ${err.message}`);
    throw err;
  }
  if (isObject(value)) checkKeys(file, `${key}.`, value, options[launcher], ["launcher"]);
  return launcher;
}

/** Validates what a cluster-config.json holds; every error names the file and the key. */
export function validateClusterConfig(value: unknown, file: string, baseDir: string): ClusterConfig {
  if (!isObject(value)) throw new ClusterConfigError(`${file}: expected a JSON object of cluster options, got ${Array.isArray(value) ? "an array" : JSON.stringify(value)}`);
  checkKeys(file, "", value, TOP, ["engines", "controller", "supervise"]);
  const config = { ...value } as ClusterConfig & Record<string, unknown>;
  if (value.engines !== undefined) {
    const launcher = launcherChoice(file, "engines", value.engines, engineLauncherName, ENGINE_OPTIONS);
    const spec: Record<string, unknown> = isObject(value.engines) ? { ...value.engines, launcher } : { launcher };
    // A template next to the config file is found wherever the cluster is started from.
    if (typeof spec.templateFile === "string" && !isAbsolute(spec.templateFile)) spec.templateFile = join(baseDir, spec.templateFile);
    config.engines = spec as EngineLauncherChoice;
  }
  if (value.controller !== undefined) {
    const launcher = launcherChoice(file, "controller", value.controller, controllerLauncherName, CONTROLLER_OPTIONS);
    config.controller = (isObject(value.controller) ? { ...value.controller, launcher } : { launcher }) as ControllerLauncherChoice;
  }
  const supervise = value.supervise;
  if (supervise !== undefined && typeof supervise !== "boolean") {
    if (!isObject(supervise)) throw new ClusterConfigError(`${file}: "supervise" must be true, false or a restart policy { maxRestarts, windowMs, backoffMs, maxBackoffMs }, got ${JSON.stringify(supervise)}`);
    checkKeys(file, "supervise.", supervise, POLICY);
  }
  return config;
}

export function clusterConfigFile(profile: string): string {
  return join(profileDir(profile), CLUSTER_CONFIG_FILE);
}

/** The profile's cluster-config.json, validated; undefined when there is none. */
export function readClusterConfig(profile: string): ClusterConfig | undefined {
  const file = clusterConfigFile(profile);
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new ClusterConfigError(`${file}: cannot be read as JSON: ${(err as Error).message}`);
  }
  return validateClusterConfig(parsed, file, profileDir(profile));
}

/** The profile's config under the options given: a key given (not undefined) wins over the file's. */
export function withClusterConfig<T extends object>(config: ClusterConfig | undefined, options: T): ClusterConfig & T {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as T;
  return { ...(config ?? {}), ...given };
}
