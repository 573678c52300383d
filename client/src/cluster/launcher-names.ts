/**
 * Launchers by short name, as ipyparallel takes "MPI", "SSH", "Slurm", "SGE" ... in any case: one
 * table for the API (`Cluster.start({ engines: "mpi" })`), the CLI (`--engines MPI`) and the profile's
 * cluster-config.json, so every place that takes a launcher takes the same names.
 */

/** Engine launchers. "pbs", "sge" and "lsf" are the batch launcher with that scheduler's commands. */
export const ENGINE_LAUNCHERS = ["local", "ssh", "mpi", "slurm", "batch", "pbs", "sge", "lsf"] as const;
export type EngineLauncherName = (typeof ENGINE_LAUNCHERS)[number];

export const CONTROLLER_LAUNCHERS = ["local", "ssh", "slurm"] as const;
export type ControllerLauncherName = (typeof CONTROLLER_LAUNCHERS)[number];

/** How a name may be spelled in typed code: "mpi", "MPI" or "Mpi" (any case is taken at run time). */
export type LauncherSpelling<N extends string> = N | Uppercase<N> | Capitalize<N>;

/** Other names users reach for, as ipyparallel's entry points have them. */
const ENGINE_ALIASES: Record<string, EngineLauncherName> = { mpiexec: "mpi", torque: "pbs" };

export class LauncherNameError extends Error {
  override name = "LauncherNameError";
}

function lookUp<N extends string>(name: unknown, kind: string, known: readonly N[], aliases: Record<string, N>): N {
  if (typeof name !== "string") throw new LauncherNameError(`the ${kind} launcher must be named by a string, got ${JSON.stringify(name) ?? String(name)}: one of ${known.join(", ")}`);
  const lower = name.trim().toLowerCase();
  const found = known.find((k) => k === lower) ?? (Object.hasOwn(aliases, lower) ? aliases[lower] : undefined);
  if (!found) throw new LauncherNameError(`unknown ${kind} launcher "${name}": expected one of ${known.join(", ")} (any case)`);
  return found;
}

/** The engine launcher a name stands for, case-insensitively; a LauncherNameError listing the known ones otherwise. */
export function engineLauncherName(name: unknown): EngineLauncherName {
  return lookUp(name, "engine", ENGINE_LAUNCHERS, ENGINE_ALIASES);
}

export function controllerLauncherName(name: unknown): ControllerLauncherName {
  return lookUp(name, "controller", CONTROLLER_LAUNCHERS, {});
}
