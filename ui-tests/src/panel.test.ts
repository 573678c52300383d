/**
 * The five scenarios, in one JupyterLab: a notebook on the tsparallel kernel starts a cluster,
 * works on it, loses an engine, is steered from the panel's buttons; then a second notebook without a
 * cluster. The tests run in order and share the lab, as a user's session would.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Locator } from 'playwright-core';
import { startLabEnvironment, type LabEnvironment } from './support/environment.js';
import type { LabPage } from './support/lab-page.js';
import { installTsparallel, stopClusters } from './support/tsparallel.js';

const KERNEL = 'tsparallel';
/** The controller finds a local engine's process gone after two missed beats (2 s); allow for the snapshot trip. */
const DEAD_WITHIN_MS = 15_000;

let lab: LabEnvironment;
let page: LabPage;

before(async () => {
  lab = await startLabEnvironment({ name: 'panel', install: (prefix, _data, env) => installTsparallel(prefix, env), cleanup: stopClusters });
  page = await lab.openLab();
  await page.showPanel();
});

after(async () => {
  await lab?.close();
});

function rows(state?: string): Locator {
  return page.panel.locator(state ? `.tsp-EngineRow[data-state="${state}"]` : '.tsp-EngineRow[data-engine-id]');
}

async function waitForCount(locator: Locator, count: number, timeout = 30_000): Promise<void> {
  await page.page.waitForFunction(
    ([selector, n]) => document.querySelectorAll(selector).length === n,
    [await selectorOf(locator), count] as const,
    { timeout }
  );
}

/** Playwright locators are not CSS; the few the tests count are kept as plain selectors here. */
const selectors = new WeakMap<Locator, string>();
async function selectorOf(locator: Locator): Promise<string> {
  const selector = selectors.get(locator);
  if (!selector) throw new Error('unknown locator');
  return selector;
}
function counted(selector: string): Locator {
  const locator = page.page.locator(selector);
  selectors.set(locator, selector);
  return locator;
}

async function header(field: string): Promise<string> {
  return page.panel.locator(`.tsp-ClusterHeader [data-field="${field}"]`).innerText();
}

async function taskCount(): Promise<number> {
  return Number((await page.panel.locator('.tsp-TaskStream').getAttribute('data-task-count')) ?? '0');
}

/** Engine ids the notebook's own client knows, printed as JSON by a cell. */
async function notebookEngineIds(): Promise<number[]> {
  const out = await page.runCellToEnd('import { Client } from "tsparallel";\nconsole.log(JSON.stringify(Client.active ? Client.active.ids : []));');
  return JSON.parse(out.split('\n').pop()!);
}

test('1. a notebook on the tsparallel kernel starts a 2-engine cluster: the panel lists 2 idle engines', async () => {
  await page.openNotebook('cluster.ipynb', KERNEL);
  await page.waitForKernelIdle();
  await page.panel.locator('.tsp-Notice[data-view="no-cluster"]').waitFor({ timeout: 30_000 });

  const output = await page.runCellToEnd('%tspcluster start -n 2', 90_000);
  assert.match(output, /Started a cluster with 2 engines/);

  await waitForCount(counted('#tsparallel-engines .tsp-EngineRow[data-state="idle"]'), 2);
  assert.equal(await rows().count(), 2);
  assert.equal(await header('registered'), '2');
  assert.equal(await header('busy'), '0');
  await page.screenshot('1-two-idle-engines');
});

test('2. a %%px cell that works for a few seconds: both engines show busy, then idle, and the task stream grows', async () => {
  const tasksBefore = await taskCount();
  // Blocks each engine for 4 s without spinning: on a 2-core machine two spinning engines would starve
  // the browser that is watching them.
  const cell = await page.runCell('%%px\nAtomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4000);\nprocess.pid');

  await waitForCount(counted('#tsparallel-engines .tsp-EngineRow[data-state="busy"]'), 2);
  assert.equal(await header('busy'), '2');
  await page.screenshot('2a-both-engines-busy');

  await page.waitForCell(cell);
  await waitForCount(counted('#tsparallel-engines .tsp-EngineRow[data-state="idle"]'), 2);
  await page.page.waitForFunction(n => Number(document.querySelector('.tsp-TaskStream')?.getAttribute('data-task-count')) >= n + 2, tasksBefore);
  assert.ok((await page.panel.locator('.tsp-TaskStream rect.tsp-Task-ok').count()) >= 2, 'one finished task per engine is drawn');
  await page.screenshot('2b-idle-again-task-stream');
});

test('3. an engine process killed from outside is marked dead within the heartbeat timeout', async () => {
  const victim = rows('idle').first();
  const id = await victim.getAttribute('data-engine-id');
  const pid = Number(await victim.getAttribute('data-pid'));
  assert.ok(pid > 0);
  process.kill(pid, 'SIGKILL');

  await page.panel.locator(`.tsp-EngineRow[data-engine-id="${id}"][data-state="dead"]`).waitFor({ timeout: DEAD_WITHIN_MS });
  assert.equal(await header('dead'), '1');
  assert.equal(await header('registered'), '1');
  await page.screenshot('3-engine-dead');
});

test("4. the panel's buttons add an engine and stop the cluster, and the notebook's client agrees", async () => {
  await page.panel.locator('.tsp-ClusterActions button[data-action="add_engines"]').click();
  await page.panel.locator('.tsp-Action[data-action="add_engines"][data-outcome="ok"]').waitFor({ timeout: 60_000 });
  await waitForCount(counted('#tsparallel-engines .tsp-EngineRow[data-state="idle"]'), 2);
  const shown = await rows('idle').evaluateAll(els => els.map(el => Number(el.getAttribute('data-engine-id'))));
  await page.screenshot('4a-engine-added');
  assert.deepEqual((await notebookEngineIds()).sort(), shown.sort());

  await page.panel.locator('.tsp-ClusterActions button[data-action="stop_cluster"]').click();
  await page.page.locator('.jp-Dialog button.jp-mod-warn', { hasText: 'Stop cluster' }).click();
  await page.panel.locator('.tsp-Action[data-action="stop_cluster"][data-outcome="ok"]').waitFor({ timeout: 60_000 });
  await page.panel.locator('.tsp-Notice[data-view="no-cluster"]').waitFor({ timeout: 30_000 });
  await page.screenshot('4b-cluster-stopped');
  assert.deepEqual(await notebookEngineIds(), []);
});

test('5. a second notebook without a cluster: the panel says so and offers to start one', async () => {
  await page.openNotebook('second.ipynb', KERNEL);
  await page.waitForKernelIdle();
  const notice = page.panel.locator('.tsp-Notice[data-view="no-cluster"]');
  await notice.waitFor({ timeout: 30_000 });
  assert.match(await notice.innerText(), /second\.ipynb is not connected to a cluster/);
  assert.ok(await notice.locator('button[data-action="start"]').isVisible());
  assert.equal(await page.panel.locator('.tsp-Heading-notebook').innerText(), 'second.ipynb');
  assert.equal(await page.panel.locator('.tsp-Action').count(), 0, "the first notebook's actions are not this one's");
  await page.screenshot('5-second-notebook-no-cluster');

  // Back on the first notebook, the panel follows: its own outcome of "Stop the cluster" is there again.
  await page.activateNotebook('cluster.ipynb');
  await page.panel.locator('.tsp-Heading-notebook', { hasText: 'cluster.ipynb' }).waitFor();
  await page.panel.locator('.tsp-Action[data-action="stop_cluster"][data-outcome="ok"]').waitFor();
  assert.deepEqual(page.pageErrors, []);
});
