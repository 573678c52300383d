/**
 * Issue 10, item 10: what npm users get. The workspaces are packed with `npm pack` (as they would be
 * published), installed into an empty directory, and `npx tsparallel install --prefix P` must install the
 * prebuilt lab extension, not skip it; the lab then loads it and shows the sidebar.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startLabEnvironment, type LabEnvironment } from './support/environment.js';
import { repoRoot } from './support/paths.js';

const WORKSPACES = ['protocol', 'engines', 'controller', 'client', 'kernel', 'labextension'];

let work: string;
let lab: LabEnvironment | undefined;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'tsp-pack-'));
});

after(async () => {
  await lab?.close();
  rmSync(work, { recursive: true, force: true });
});

test('10. npm-packed workspaces installed into an empty directory: `npx tsparallel install` installs the prebuilt lab extension', async () => {
  // A fresh checkout has no build of the extension (it is not in git): packing must make one.
  rmSync(join(repoRoot, 'labextension', 'prebuilt'), { recursive: true, force: true });
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', tarballs, ...WORKSPACES.flatMap(w => ['-w', w])], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  ) as { name: string; filename: string; files: { path: string }[] }[];
  const extension = packed.find(p => p.name === '@tsparallel/labextension');
  assert.ok(extension, 'the lab extension package is packed');
  assert.ok(extension.files.some(f => f.path === 'prebuilt/package.json'), 'its tarball carries the prebuilt extension');

  // An empty project, as a user's: install every tarball (dependencies come from the registry). Without
  // install scripts: better-sqlite3 has no prebuilt binary reachable here and compiles for minutes, and
  // what this test checks (the extension and the kernelspec `tsparallel install` puts in place) runs no
  // native code of the controller.
  const project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', version: '1.0.0', private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', '--loglevel=error', ...packed.map(p => join(tarballs, p.filename))], {
    cwd: project,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 300_000
  });

  const prefix = join(work, 'prefix');
  const report = execFileSync('npx', ['--no-install', 'tsparallel', 'install', '--prefix', prefix], { cwd: project, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.doesNotMatch(report, /skipped/, report);
  const installed = join(prefix, 'share', 'jupyter', 'labextensions', '@tsparallel', 'labextension', 'package.json');
  assert.ok(existsSync(installed), `the extension is installed (${report.trim()})`);
  assert.ok(JSON.parse(readFileSync(installed, 'utf8')).jupyterlab?._build?.load, 'with its remote entry');
  assert.ok(existsSync(join(prefix, 'share', 'jupyter', 'kernels', 'tsparallel', 'kernel.json')), 'and the kernelspec');

  // JupyterLab loads what the packed install put there.
  lab = await startLabEnvironment({
    name: 'packaging',
    install: (_prefix, dataDir) => execFileSync('cp', ['-r', join(prefix, 'share', 'jupyter', 'labextensions'), dataDir])
  });
  const page = await lab.openLab();
  await page.showPanel();
  await page.panel.locator('.tsp-Notice[data-view="no-notebook"]').waitFor();
  await page.screenshot('packaging-10-sidebar-from-npm-install');
});
