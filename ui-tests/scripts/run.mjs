import { spawnSync } from 'node:child_process';

/** Runs a command with inherited stdio and fails loudly: a half-built app must never be cached. */
export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
}
