/**
 * Puts the prebuilt JupyterLab extension where a user's `jupyter lab` looks for prebuilt extensions:
 * `<data dir>/labextensions/@tsparallel/labextension`, the data dir being the one `tsparallel install`
 * chose for --user / --sys-prefix / --prefix, as `jupyter labextension develop` and pip wheels do.
 */
import { cpSync, existsSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LABEXTENSION_NAME = '@tsparallel/labextension';

/** The build-labextension output inside this package. */
export const prebuiltDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'prebuilt');

export class LabExtensionNotBuiltError extends Error {
  override name = 'LabExtensionNotBuiltError';
}

export function labExtensionTarget(dataDir: string): string {
  return join(dataDir, 'labextensions', ...LABEXTENSION_NAME.split('/'));
}

function assertBuilt(): void {
  const manifest = join(prebuiltDir, 'package.json');
  const built = existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8'))?.jupyterlab?._build?.load;
  if (!built) {
    throw new LabExtensionNotBuiltError(
      `the JupyterLab extension is not built (no ${manifest} with a remote entry): run \`npm run build:labextension\` in the tsparallel checkout first`
    );
  }
}

/** Copies the prebuilt extension into `<dataDir>/labextensions/`, replacing an older copy. Returns where. */
export function installLabExtension(dataDir: string): string {
  assertBuilt();
  const target = labExtensionTarget(dataDir);
  // A stale copy may hold chunks of an older build that the new remote entry never asks for.
  rmSync(target, { recursive: true, force: true });
  cpSync(prebuiltDir, target, { recursive: true });
  // JupyterLab's extension manager shows this to tell users how the extension got there.
  writeFileSync(
    join(target, 'install.json'),
    JSON.stringify({ packageManager: 'npm', packageName: 'tsparallel', uninstallInstructions: 'Run `npx tsparallel uninstall` with the options used to install' }, null, 2) + '\n'
  );
  return target;
}

/** Removes the extension from `<dataDir>/labextensions/`. Returns false when it was not there. */
export function uninstallLabExtension(dataDir: string): boolean {
  const target = labExtensionTarget(dataDir);
  if (!existsSync(target)) return false;
  rmSync(target, { recursive: true, force: true });
  // Leave the @tsparallel scope directory only if something else of ours is in it.
  const scopeDir = dirname(target);
  try {
    rmdirSync(scopeDir);
  } catch {
    // Not empty, or already gone: either way nothing of ours is left.
  }
  return true;
}
