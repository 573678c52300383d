/**
 * One private Slurm per describe block of launcher tests: started before its tests (with SLURM_CONF set
 * in this process too, since Cluster.start here submits with sbatch), and after them the named profiles
 * stopped, SLURM_CONF restored and the daemons killed.
 */
import { after, before } from "node:test";
import { privateRoot } from "./cluster-fixture.js";
import { startSlurm, type SlurmCluster } from "./slurm-cluster.js";
import { runTspcluster, type Outcome } from "./tspcluster.js";

export interface SlurmSuite {
  /** The running Slurm (valid inside tests, after `before`). */
  readonly slurm: SlurmCluster;
  /** `tspcluster ...args` against this Slurm. */
  tspcluster(...args: string[]): Promise<Outcome>;
}

export function useSlurm(profilesToStop: string[]): SlurmSuite {
  let started: SlurmCluster | undefined;
  let savedConf: string | undefined;
  const suite: SlurmSuite = {
    get slurm() {
      if (!started) throw new Error("Slurm is not started yet: use it inside a test");
      return started;
    },
    tspcluster: (...args) => runTspcluster(suite.slurm.env, args),
  };

  before(async () => {
    privateRoot();
    started = await startSlurm();
    savedConf = process.env.SLURM_CONF;
    process.env.SLURM_CONF = started.env.SLURM_CONF;
  });

  after(async () => {
    if (started) for (const profile of profilesToStop) await suite.tspcluster("stop", "--profile", profile);
    if (savedConf === undefined) delete process.env.SLURM_CONF;
    else process.env.SLURM_CONF = savedConf;
    started?.teardown();
  });

  return suite;
}
