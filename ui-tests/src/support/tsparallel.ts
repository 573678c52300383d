import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bins } from './paths.js';

/**
 * What a user runs once: `tsparallel install --prefix P` writes the kernelspec and copies the prebuilt
 * lab extension into P/share/jupyter, where the test server then finds both.
 */
export function installTsparallel(prefix: string, env: Record<string, string>): void {
  execFileSync(process.execPath, [bins.tsparallel, 'install', '--prefix', prefix], { env: { ...process.env, ...env }, stdio: 'pipe' });
}

/** Stops whatever cluster a test left behind in its private TSPARALLEL_DIR (best effort). */
export function stopClusters(env: Record<string, string>): void {
  try {
    execFileSync(process.execPath, [bins.tspcluster, 'stop'], { env: { ...process.env, ...env }, stdio: 'pipe', timeout: 20_000 });
  } catch {
    // No cluster was left running.
  }
}

/** `tspcluster start -n N --daemonize` in the test's TSPARALLEL_DIR: a cluster no kernel started. */
export function startDaemonCluster(env: Record<string, string>, n: number, profile = 'default', extraArgs: string[] = []): void {
  execFileSync(process.execPath, [bins.tspcluster, 'start', '-n', String(n), '--profile', profile, '--daemonize', ...extraArgs], {
    env: { ...process.env, ...env },
    stdio: 'pipe',
    timeout: 90_000
  });
}

/** The pids `tspcluster` recorded for a profile's cluster, or null when no cluster state is there. */
export function clusterPids(env: Record<string, string>, profile = 'default', clusterId = ''): { controller: number; engines: number[] } | null {
  const file = join(env.TSPARALLEL_DIR!, `profile_${profile}`, 'security', clusterId ? `cluster-${clusterId}.json` : 'cluster.json');
  if (!existsSync(file)) return null;
  const state = JSON.parse(readFileSync(file, 'utf8')) as { controller: { pid: number }; engines: { pid: number }[] };
  return { controller: state.controller.pid, engines: state.engines.map(e => e.pid) };
}

/** A live process; a zombie (exited, not yet reaped by whichever parent it was left to) is not. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Stops a profile's cluster (best effort), for cleanups of clusters in other profiles than default. */
export function stopCluster(env: Record<string, string>, profile: string, clusterId = ''): void {
  try {
    execFileSync(process.execPath, [bins.tspcluster, 'stop', '--profile', profile, ...(clusterId ? ['--cluster-id', clusterId] : [])], { env: { ...process.env, ...env }, stdio: 'pipe', timeout: 20_000 });
  } catch {
    // Nothing was left running.
  }
}
