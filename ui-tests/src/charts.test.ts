/**
 * Issue 11, charts: `display.vegaLite(spec)` and an AsyncResult's `timeline()` are drawn as charts in
 * the cell by JupyterLab's own Vega renderer (@jupyterlab/vega5-extension, part of the test app).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Locator } from 'playwright-core';
import { startLabEnvironment, type LabEnvironment } from './support/environment.js';
import type { LabPage } from './support/lab-page.js';
import { installTsparallel, stopCluster } from './support/tsparallel.js';

const KERNEL = 'tsparallel';
const PROFILE = 'charts';

let lab: LabEnvironment;
let page: LabPage;

before(async () => {
  lab = await startLabEnvironment({
    name: 'charts',
    install: (prefix, _data, env) => installTsparallel(prefix, env),
    cleanup: env => stopCluster(env, PROFILE)
  });
  page = await lab.openLab();
  await page.openNotebook('charts.ipynb', KERNEL);
  await page.waitForKernelIdle();
});

after(async () => {
  await lab?.close();
});

/** The drawn chart of a cell's output: vega-embed draws into a canvas (its default) or an svg. */
function chartOf(cell: Locator): Locator {
  return cell.locator('.jp-OutputArea-output.jp-RenderedVegaCommon5').locator('canvas, svg').first();
}

test('display.vegaLite(spec) is drawn as a Vega-Lite chart in the cell', async () => {
  const cell = await page.runCell(
    'display.vegaLite({ mark: "bar", data: { values: [{ a: "x", b: 3 }, { a: "y", b: 5 }] }, encoding: { x: { field: "a", type: "nominal" }, y: { field: "b", type: "quantitative" } } });'
  );
  await page.waitForCell(cell);
  await chartOf(cell).waitFor({ timeout: 60_000 });
  const box = await chartOf(cell).boundingBox();
  assert.ok(box && box.width > 20 && box.height > 20, `the chart has a size: ${JSON.stringify(box)}`);
  assert.equal(await cell.locator('.jp-OutputArea-output.jp-RenderedVegaLite').count(), 1, 'the Vega-Lite renderer drew it, not a text fallback');
  await page.screenshot('charts-vegalite');
});

test("ar.timeline() draws the tasks of an AsyncResult per engine as a chart in the cell", async () => {
  const started = await page.runCellToEnd(`%tspcluster start -n 2 --profile ${PROFILE}`, 180_000);
  assert.doesNotMatch(started, /Error/, started);
  const cell = await page.runCell(
    'import { Client } from "tsparallel";\nconst timed = Client.active!.loadBalancedView().map((x: number) => x * 2, [1, 2, 3, 4, 5, 6]);\nawait timed;\ntimed.timeline()'
  );
  await page.waitForCell(cell, 120_000);
  await chartOf(cell).waitFor({ timeout: 60_000 });
  const box = await chartOf(cell).boundingBox();
  assert.ok(box && box.width > 20 && box.height > 20, `the chart has a size: ${JSON.stringify(box)}`);
  assert.doesNotMatch(await cell.locator('.jp-OutputArea').innerText(), /<timeline:/, 'the chart, not its text/plain, is shown');
  await page.screenshot('charts-timeline');
  await page.runCellToEnd(`%tspcluster stop --profile ${PROFILE}`, 60_000);
  assert.deepEqual(page.pageErrors, []);
});
