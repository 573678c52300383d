/**
 * Issue 10, "a sidebar you can trust": a cluster started outside the notebook (as `npm start` does) is
 * used from the panel and survives a kernel restart; the newcomer's `%tspcluster start` and the panel's
 * Connect reach it; an interrupt from the panel lands while a cell runs; a stopped or killed controller
 * shows as lost, with no live buttons, and `%px` says so. The tests run in order in one lab.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startLabEnvironment, type LabEnvironment } from './support/environment.js';
import type { LabPage } from './support/lab-page.js';
import { clusterPids, installTsparallel, isRunning, startDaemonCluster, stopCluster, stopClusters } from './support/tsparallel.js';

const KERNEL = 'tsparallel';
/** The panel calls a controller lost after 8 s without a snapshot; allow for a loaded machine. */
const LOST_WITHIN_MS = 30_000;

let lab: LabEnvironment;
let page: LabPage;
let env: Record<string, string>;
const strays: number[] = [];

before(async () => {
  lab = await startLabEnvironment({
    name: 'trust',
    install: (prefix, _data, e) => installTsparallel(prefix, e),
    cleanup: e => {
      stopCluster(e, 'other');
      stopCluster(e, 'ids', 'a');
      stopClusters(e);
      for (const pid of strays) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    }
  });
  env = { TSPARALLEL_DIR: lab.tsparallelDir };
  // What `npm start` does before the lab opens: a daemonized cluster in profile default.
  startDaemonCluster(env, 2);
  page = await lab.openLab();
  await page.showPanel();
});

after(async () => {
  await lab?.close();
});

function engineRows(state = 'idle') {
  return page.panel.locator(`.tsp-EngineRow[data-engine-id][data-state="${state}"]`);
}

async function waitForEngines(n: number, state = 'idle', timeout = 60_000): Promise<void> {
  await page.page.waitForFunction(
    ([n, state]) => document.querySelectorAll(`#tsparallel-engines .tsp-EngineRow[data-engine-id][data-state="${state}"]`).length === n,
    [n, state] as const,
    { timeout }
  );
}

function lastAction(action: string) {
  return page.panel.locator(`.tsp-Action[data-action="${action}"]`).first();
}

test('1. the panel grows a cluster the kernel only connected to; a kernel restart leaves that cluster running', async () => {
  const pids = clusterPids(env)!;
  await page.openNotebook('restart.ipynb', KERNEL);
  await page.waitForKernelIdle();
  assert.match(await page.runCellToEnd('%tspcluster connect', 60_000), /Connected to the cluster of profile default \(2 engines\)/);
  await waitForEngines(2);

  await page.panel.locator('.tsp-ClusterActions button[data-action="add_engines"]').click();
  await page.panel.locator('.tsp-Action[data-action="add_engines"][data-outcome="ok"]').waitFor({ timeout: 60_000 });
  await waitForEngines(3);
  await page.screenshot('trust-1a-connected-and-grown');

  await page.restartKernel();
  // The restarted kernel has no client: the panel says so, and offers to connect to the running cluster.
  await page.panel.locator('.tsp-Notice[data-view="no-cluster"]').waitFor({ timeout: 60_000 });
  assert.ok(isRunning(pids.controller), 'the controller of the cluster the kernel never started still runs');
  assert.ok(pids.engines.every(isRunning), 'and so do its engines');
  assert.equal(clusterPids(env)?.engines.length, 3, 'the engine the panel added is still recorded in the cluster');
  assert.ok(clusterPids(env)!.engines.every(isRunning));
  await page.screenshot('trust-1b-restarted-cluster-still-running');
});

test('6. the panel offers Connect beside Start, and Connect shows the running cluster', async () => {
  const notice = page.panel.locator('.tsp-Notice[data-view="no-cluster"]');
  const connect = notice.locator('button[data-action="connect"][data-profile="default"]');
  await connect.waitFor({ timeout: 30_000 });
  assert.ok(await notice.locator('button[data-action="start"]').isVisible(), 'Start is still offered');
  assert.match(await notice.innerText(), /Connect to a running one/);
  await page.screenshot('trust-6a-connect-offered');
  await connect.click();
  await page.panel.locator('.tsp-Action[data-action="connect"][data-outcome="ok"]').waitFor({ timeout: 30_000 });
  await waitForEngines(3);
  assert.match(await lastAction('connect').innerText(), /connected to the cluster of profile default \(3 engines\)/);
  await page.screenshot('trust-6b-connected-from-panel');
});

test("6. the quickstart's `%tspcluster start -n 2` connects to the cluster npm start already runs", async () => {
  await page.openNotebook('quickstart.ipynb', KERNEL);
  await page.waitForKernelIdle();
  const output = await page.runCellToEnd('%tspcluster start -n 2', 90_000);
  assert.match(output, /A cluster is already running in profile default: connected to it \(3 engines\)/);
  assert.doesNotMatch(output, /Error/);
  const px = await page.runCellToEnd('%px 40 + 2');
  assert.match(px, /42/);
  assert.doesNotMatch(px, /Error/);
  await page.screenshot('trust-6c-quickstart-start-connects');
});

test('2. Interrupt from the panel lands while a %%px cell runs, and says what it interrupted', async () => {
  await engineRows().first().waitFor({ timeout: 60_000 });
  const id = await engineRows().first().getAttribute('data-engine-id');
  const cell = await page.runCell(`%%px --targets ${id}\nawait new Promise(resolve => setTimeout(resolve, 20_000));\n"finished normally"`);
  await page.panel.locator(`.tsp-EngineRow[data-engine-id="${id}"][data-state="busy"]`).waitFor({ timeout: 30_000 });

  await page.panel.locator(`.tsp-EngineRow[data-engine-id="${id}"] button[data-action="interrupt_engine"]`).click();
  const done = page.panel.locator('.tsp-Action[data-action="interrupt_engine"]:not([data-outcome="pending"])').first();
  await done.waitFor({ timeout: 60_000 });
  assert.equal(await done.getAttribute('data-outcome'), 'ok');
  assert.match(await done.innerText(), new RegExp(`interrupted engine ${id} \\(its execute task\\)`));
  await page.screenshot('trust-2a-interrupt-reported-while-cell-runs');

  // The interrupt reached the engine while the cell's task ran: the cell ends with InterruptError instead
  // of finishing normally (as it did when panel actions waited behind the running cell).
  const output = await page.waitForCell(cell, 60_000);
  assert.match(output, /InterruptError/);
  assert.doesNotMatch(output, /finished normally/);
  await page.screenshot('trust-2b-cell-interrupted');
});

test('3. after Stop cluster the panel shows the controller lost, with no live buttons, and %px says the controller is gone', async () => {
  await page.panel.locator('.tsp-ClusterActions button[data-action="stop_cluster"]').click();
  await page.page.locator('.jp-Dialog button.jp-mod-warn', { hasText: 'Stop cluster' }).click();
  await page.panel.locator('.tsp-Action[data-action="stop_cluster"][data-outcome="ok"]').waitFor({ timeout: 60_000 });
  const lost = page.panel.locator('.tsp-Notice[data-view="controller-lost"]');
  await lost.waitFor({ timeout: LOST_WITHIN_MS });
  assert.match(await lost.innerText(), /Controller lost[\s\S]*profile default is gone: the controller at .* has shut down/);
  // The stopped cluster is not offered for Connect.
  await lost.locator('button[data-action="connect"][data-profile="default"]').waitFor({ state: 'detached', timeout: 10_000 });
  assert.equal(await page.panel.locator('.tsp-EngineRow:visible').count(), 0, 'no engine rows of a dead cluster');
  assert.equal(await page.panel.locator('.tsp-ClusterActions:visible, .tsp-EngineRow button:visible').count(), 0, 'no buttons acting on it');
  await page.screenshot('trust-3a-controller-lost-after-stop');

  const output = await page.runCellToEnd('%px 1');
  assert.match(output, /ControllerError: the controller at .* has shut down/);
  assert.doesNotMatch(output, /no engines are registered/);
});

test('3. a controller killed elsewhere: the panel shows it lost within the heartbeat silence', async () => {
  // Unsupervised: a supervisor would restart the killed controller, and the panel would rightly show it back.
  startDaemonCluster(env, 1, 'other', ['--no-supervise']);
  const pids = clusterPids(env, 'other')!;
  strays.push(pids.controller, ...pids.engines);
  const connect = page.panel.locator('.tsp-Notice button[data-action="connect"][data-profile="other"]');
  await connect.waitFor({ timeout: 30_000 });
  await connect.click();
  await waitForEngines(1);
  await page.screenshot('trust-3b-connected-to-other');

  process.kill(pids.controller, 'SIGKILL');
  const lost = page.panel.locator('.tsp-Notice[data-view="controller-lost"]');
  await lost.waitFor({ timeout: LOST_WITHIN_MS });
  assert.match(await lost.innerText(), /profile other is gone: no word from the controller/);
  assert.equal(await page.panel.locator('.tsp-EngineRow:visible').count(), 0);
  await page.screenshot('trust-3c-controller-killed-lost');
  assert.deepEqual(page.pageErrors, []);
});

test('the panel offers a cluster with a cluster id for Connect, and connects to that one', async () => {
  startDaemonCluster(env, 1, 'ids', ['--cluster-id', 'a', '--no-supervise']);
  const pids = clusterPids(env, 'ids', 'a')!;
  strays.push(pids.controller, ...pids.engines);
  const connect = page.panel.locator('.tsp-Notice button[data-action="connect"][data-profile="ids"][data-cluster-id="a"]');
  await connect.waitFor({ timeout: 30_000 });
  assert.match(await connect.innerText(), /Connect to ids \(cluster a\)/);
  await connect.click();
  await page.panel.locator('.tsp-Action[data-action="connect"][data-outcome="ok"]', { hasText: 'connected to cluster "a" of profile ids (1 engines)' }).waitFor({ timeout: 30_000 });
  await waitForEngines(1);
  await page.screenshot('trust-7-connected-to-cluster-id');
  assert.deepEqual(page.pageErrors, []);
});
