import type { EngineMetadata } from "@tsparallel/protocol";

/** Rank and size variables of the launchers we know, first match wins (Open MPI, PMIx, MPICH/Hydra, Slurm). */
const RANK_VARIABLES: [rank: string, size: string][] = [
  ["OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"],
  ["PMIX_RANK", "PMIX_SIZE"],
  ["PMI_RANK", "PMI_SIZE"],
  ["SLURM_PROCID", "SLURM_NTASKS"],
];

function integer(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/**
 * What this engine tells the controller about its launch: the `--tag key=value` pairs a launcher gave
 * it, plus the MPI/Slurm rank and size and the Slurm job id it finds in its environment.
 */
export function launchMetadata(tags: string[], env: NodeJS.ProcessEnv = process.env): EngineMetadata {
  const metadata: EngineMetadata = {};
  for (const [rankVar, sizeVar] of RANK_VARIABLES) {
    const rank = integer(env[rankVar]);
    if (rank === undefined) continue;
    metadata.rank = rank;
    const size = integer(env[sizeVar]);
    if (size !== undefined) metadata.size = size;
    break;
  }
  if (env.SLURM_JOB_ID) metadata.job = env.SLURM_JOB_ID;
  for (const tag of tags) {
    const eq = tag.indexOf("=");
    if (eq < 1) throw new Error(`--tag expects key=value, got "${tag}"`);
    metadata[tag.slice(0, eq)] = tag.slice(eq + 1);
  }
  return metadata;
}
