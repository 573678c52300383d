/**
 * Issue 10, items 7 and 8: the task stream tells what ran (function, item, error) on hover and keeps
 * those details while idle (no redraw without a change); it counts the last 30 s and starts afresh with a
 * new cluster; the header's "done" leaves failed tasks out; RSS is in MiB; stopped engines collapse.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startLabEnvironment, type LabEnvironment } from './support/environment.js';
import type { LabPage } from './support/lab-page.js';
import { installTsparallel, startDaemonCluster, stopClusters } from './support/tsparallel.js';

let lab: LabEnvironment;
let page: LabPage;

before(async () => {
  lab = await startLabEnvironment({ name: 'task-stream', install: (prefix, _data, e) => installTsparallel(prefix, e), cleanup: stopClusters });
  startDaemonCluster({ TSPARALLEL_DIR: lab.tsparallelDir }, 2);
  page = await lab.openLab();
  await page.showPanel();
  await page.openNotebook('stream.ipynb', 'tsparallel');
  await page.waitForKernelIdle();
  assert.match(await page.runCellToEnd('%tspcluster connect', 60_000), /Connected/);
  await page.panel.locator('.tsp-EngineRow[data-state="idle"]').nth(1).waitFor({ timeout: 30_000 });
});

after(async () => {
  await lab?.close();
});

async function header(field: string): Promise<string> {
  return page.panel.locator(`.tsp-ClusterHeader [data-field="${field}"]`).innerText();
}

const stream = () => page.panel.locator('.tsp-TaskStream');

test('7/8. a map with a failing item: its bars name the function, the items and the error; "done" leaves the failure out; RSS in MiB', async () => {
  const output = await page.runCellToEnd(
    [
      'import { Client } from "tsparallel";',
      'function halve(x: number): number {',
      '  if (x === 3) throw new Error("three is odd");',
      '  return x / 2;',
      '}',
      'const outcome = await Client.active!.loadBalancedView().map(halve, [0, 1, 2, 3, 4, 5]).then(() => "ok", (e: unknown) => (e as Error).message);',
      'console.log(outcome);'
    ].join('\n'),
    60_000
  );
  assert.match(output, /three is odd/);
  const failed = stream().locator('rect.tsp-Task-error[data-name="halve"]');
  await failed.waitFor({ timeout: 30_000 });
  await page.page.waitForFunction(() => document.querySelectorAll('.tsp-TaskStream rect.tsp-Task[data-name="halve"]').length === 6);
  assert.equal(await stream().getAttribute('data-task-count'), '6');
  assert.match(await stream().locator('.tsp-SectionTitle').innerText(), /last 30 s: 6 tasks/);
  await page.page.waitForFunction(() => document.querySelector('.tsp-ClusterHeader [data-field="failed"]')?.textContent === '1');
  assert.equal(await header('done'), '5', 'the header counts the five tasks that succeeded as done');
  assert.match(await page.panel.locator('.tsp-EngineRow [data-field="resources"]').first().innerText(), /\d(\.\d)? MiB$/);
  assert.match(await page.runCellToEnd('%tspcluster status'), /rss MiB/);

  // A click pins the details (a hover shows them too, but the bar slides away from a still pointer).
  await failed.click();
  const tooltip = stream().locator('.tsp-TaskTooltip');
  await tooltip.waitFor();
  const details = await tooltip.innerText();
  assert.match(details, /map halve, items from #3/);
  assert.match(details, /engine \d+/);
  assert.match(details, /error, \d/);
  assert.match(details, /Error: three is odd/);
  await page.screenshot('task-stream-7a-failed-task-details');
});

test("7. while the cluster is idle the stream is not rebuilt: the task's details stay", async () => {
  const tooltip = stream().locator('.tsp-TaskTooltip');
  const before = await tooltip.innerText();
  // Count every element added to or removed from the plot for a few of the panel's 500 ms ticks.
  const changes = await page.page.evaluate(async () => {
    const plot = document.querySelector('.tsp-TaskStream svg')!;
    let count = 0;
    const observer = new MutationObserver(records => {
      for (const r of records) count += r.addedNodes.length + r.removedNodes.length;
    });
    observer.observe(plot, { childList: true, subtree: true });
    await new Promise(resolve => setTimeout(resolve, 2500));
    observer.disconnect();
    return count;
  });
  assert.equal(changes, 0, 'no bar was redrawn while nothing ran');
  assert.ok(await tooltip.isVisible(), 'the details are still shown');
  assert.equal(await tooltip.innerText(), before);
  await page.screenshot('task-stream-7b-idle-tooltip-stays');
  // A click on the plot outside any bar unpins them.
  await stream().locator('svg').click({ position: { x: 5, y: 5 } });
  await tooltip.waitFor({ state: 'hidden' });
});

test('8. a stopped engine is collapsed under "stopped engines", its lane goes with its tasks', async () => {
  await page.panel.locator('.tsp-ClusterActions button[data-action="add_engines"]').click();
  await page.panel.locator('.tsp-Action[data-action="add_engines"][data-outcome="ok"]').waitFor({ timeout: 60_000 });
  await page.page.waitForFunction(() => document.querySelectorAll('#tsparallel-engines .tsp-EngineRow[data-state="idle"]').length === 3);
  const added = page.panel.locator('.tsp-EngineRow[data-state="idle"]').last();
  const id = await added.getAttribute('data-engine-id');
  await added.locator('button[data-action="stop_engine"]').click();
  await page.panel.locator('.tsp-Action[data-action="stop_engine"][data-outcome="ok"]').waitFor({ timeout: 30_000 });

  const collapsed = page.panel.locator('details.tsp-StoppedEngines');
  await collapsed.locator('summary', { hasText: '1 stopped engine' }).waitFor({ timeout: 30_000 });
  assert.equal(await collapsed.getAttribute('open'), null, 'collapsed');
  assert.equal(await page.panel.locator(`.tsp-EngineRow[data-engine-id="${id}"]`).isVisible(), false);
  assert.equal(await page.panel.locator('.tsp-EngineRow[data-engine-id]:visible').count(), 2);
  // It ran nothing in the window: no lane for it.
  const lanes = await stream().locator('.tsp-TaskStream-label').allTextContents();
  assert.ok(!lanes.includes(id!), `no lane for stopped engine ${id} (lanes ${lanes.join(', ')})`);
  await page.screenshot('task-stream-8-stopped-engine-collapsed');
  await collapsed.locator('summary').click();
  assert.ok(await page.panel.locator(`.tsp-EngineRow[data-engine-id="${id}"][data-state="stopped"]`).isVisible());
});

test("7. a new cluster's stream starts empty: no lanes and no count of the previous cluster", async () => {
  await page.panel.locator('.tsp-ClusterActions button[data-action="stop_cluster"]').click();
  await page.page.locator('.jp-Dialog button.jp-mod-warn', { hasText: 'Stop cluster' }).click();
  await page.panel.locator('.tsp-Action[data-action="stop_cluster"][data-outcome="ok"]').waitFor({ timeout: 60_000 });
  const notice = page.panel.locator('.tsp-Notice:visible');
  await notice.locator('input.tsp-Count').fill('1');
  await notice.locator('button[data-action="start"]').click();
  await page.panel.locator('.tsp-Action[data-action="start"][data-outcome="ok"]').waitFor({ timeout: 120_000 });
  await page.panel.locator('.tsp-EngineRow[data-state="idle"]').first().waitFor({ timeout: 30_000 });
  const ids = await page.panel.locator('.tsp-EngineRow[data-engine-id]').evaluateAll(els => els.map(el => el.getAttribute('data-engine-id')));
  assert.deepEqual(await stream().locator('.tsp-TaskStream-label').allTextContents(), ids, 'one lane per engine of the new cluster');
  assert.equal(await stream().locator('rect.tsp-Task').count(), 0, 'no bars of the old cluster');
  assert.equal(await stream().getAttribute('data-task-count'), '0');
  assert.match(await stream().locator('.tsp-SectionTitle').innerText(), /last 30 s: 0 tasks/);
  await page.screenshot('task-stream-7c-new-cluster-fresh-stream');
  assert.deepEqual(page.pageErrors, []);
});
