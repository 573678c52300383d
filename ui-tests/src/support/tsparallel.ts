import { execFileSync } from 'node:child_process';
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
