/**
 * The dashboard (issue 10, "A dashboard"): opened from the sidebar and from the command palette (two at
 * once), it shows the controller and one progress bar per call, which advances while a map runs.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startLabEnvironment, type LabEnvironment } from './support/environment.js';
import type { LabPage } from './support/lab-page.js';
import { clusterPids, installTsparallel, stopClusters } from './support/tsparallel.js';

const KERNEL = 'tsparallel';

let lab: LabEnvironment;
let page: LabPage;

before(async () => {
  lab = await startLabEnvironment({ name: 'dashboard', install: (prefix, _data, env) => installTsparallel(prefix, env), cleanup: stopClusters });
  page = await lab.openLab();
  await page.showPanel();
});

after(async () => {
  await lab?.close();
});

/** The row of the newest call with `total` tasks, in the first dashboard. */
const row = (total: number) => `.tsp-Dashboard .tsp-CallRow[data-total="${total}"]`;

test('the dashboard opens from the sidebar and the palette, shows the controller, and a bar per call (done/failed/running/queued) that advances', async () => {
  await page.openNotebook('dashboard.ipynb', KERNEL);
  await page.waitForKernelIdle();
  assert.match(await page.runCellToEnd('%tspcluster start -n 2', 90_000), /Started a cluster with 2 engines/);

  await page.panel.locator('button.tsp-OpenDashboard').click();
  await page.command('tsparallel:open-dashboard');
  assert.equal(await page.page.locator('.tsp-Dashboard').count(), 2, 'two dashboards open');
  // The one opened last is the one on screen.
  const dashboard = page.page.locator('.tsp-Dashboard').last();
  await dashboard.locator('[data-field="address"]', { hasText: /^tcp:\/\// }).waitFor({ timeout: 30_000 });

  const showDashboard = async () => {
    const id = await dashboard.getAttribute('id');
    await page.page.evaluate(id => (window as unknown as { jupyterapp: { shell: { activateById(id: string): void } } }).jupyterapp.shell.activateById(id!), id);
    await dashboard.waitFor({ state: 'visible' });
  };

  await page.activateNotebook('dashboard.ipynb');
  // 12 tasks of 600 ms on 2 engines, the sixth one failing.
  const cell = await page.runCell(
    'import { Client } from "tsparallel";\nlet failure = "";\n' +
      'try { await Client.active!.loadBalancedView().map(async (x: number) => { await new Promise((r) => setTimeout(r, 600)); if (x === 5) throw new Error("five"); return x; }, Array.from({ length: 12 }, (_, i) => i)) } catch (err) { failure = (err as Error).name }\nfailure'
  );
  // While it runs: engines are running some of its tasks, others wait queued, and the done count moves.
  await showDashboard();
  await page.page.waitForFunction(
    selector => Array.from(document.querySelectorAll(selector)).some(el => Number(el.getAttribute('data-running')) > 0 && Number(el.getAttribute('data-queued')) > 0),
    row(12),
    { timeout: 60_000 }
  );
  await page.page.waitForFunction(
    selector => Array.from(document.querySelectorAll(selector)).some(el => Number(el.getAttribute('data-done')) > 0 && Number(el.getAttribute('data-done')) < 12),
    row(12),
    { timeout: 60_000 }
  );
  await page.screenshot('dashboard-call-running');
  await page.activateNotebook('dashboard.ipynb');
  const output = await page.waitForCell(cell, 90_000);
  assert.match(output, /12\/12 tasks done \(1 failed\)/, 'the cell shows its own progress, ended by the done line');
  assert.match(output, /CompositeError/);
  // Both dashboards draw it (the notebook is in front of them: attached, not visible).
  await page.page.waitForFunction(selector => document.querySelectorAll(`${selector}[data-done="12"][data-failed="1"][data-running="0"]`).length === 2, row(12), { timeout: 30_000 });
  assert.match((await dashboard.locator(row(12).replace('.tsp-Dashboard ', '')).textContent()) ?? '', /12\/12 done · 1 failed$/);

  await showDashboard();
  assert.notEqual(await dashboard.locator('[data-field="uptime"]').innerText(), '–');
  await page.screenshot('dashboard-progress-per-call');
  assert.deepEqual(page.pageErrors, []);
});

test('the dashboard says so when the controller is killed, and shows no stale address', async () => {
  const pids = clusterPids({ TSPARALLEL_DIR: lab.tsparallelDir });
  assert.ok(pids, 'the cluster state of the notebook\'s cluster');
  process.kill(pids.controller, 'SIGKILL');
  const dashboard = page.page.locator('.tsp-Dashboard').last();
  await page.page.locator('.tsp-Dashboard[data-view="controller-lost"]').last().waitFor({ timeout: 30_000 });
  assert.match(await dashboard.locator('.tsp-Dashboard-state').innerText(), /^Controller lost: /);
  assert.equal(await dashboard.locator('[data-field="address"]').innerText(), '–');
  await page.screenshot('dashboard-controller-lost');
});
