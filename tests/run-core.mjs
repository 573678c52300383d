// `npm run test:core`: the core test files, most of them two at a time, then those that must have the
// machine to themselves one at a time. CI has 2 cores and a time budget; the serial files measure
// memory or CPU load, pause processes (SIGSTOP) against heartbeat timeouts, flood file descriptors,
// share system daemons (sshd namespaces, Slurm) or a per-user cache.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), 'dist');
const SERIAL = new Set([
  'client', 'cluster-supervisor', 'cluster.rejoin', 'connection-cap', 'connection-flood', 'controller.restore', 'curve', 'direct-path',
  'engine.tasks', 'function-cache', 'fuzz', 'kernel.warmup', 'launcher.controller-slurm',
  'launcher.controller-ssh', 'launcher.mpi', 'launcher.slurm', 'launcher.ssh', 'liveness', 'scale',
].map((name) => `${name}.test.js`));

const chosen = process.argv.slice(2);
const files = readdirSync(dist).filter((f) => f.endsWith('.test.js') && (chosen.length === 0 || chosen.some((c) => f.startsWith(c))));
const run = (concurrency, group) => {
  if (group.length === 0) return 0;
  const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...group.map((f) => join(dist, f))], { stdio: 'inherit' });
  return result.status ?? 1;
};
const shared = run(2, files.filter((f) => !SERIAL.has(f)));
const alone = run(1, files.filter((f) => SERIAL.has(f)));
process.exit(shared || alone);
