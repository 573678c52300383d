import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startLabEnvironment, type LabEnvironment } from './support/environment.js';

let lab: LabEnvironment;

before(async () => {
  lab = await startLabEnvironment({ name: 'smoke' });
});

after(async () => {
  await lab?.close();
});

test('JupyterLab loads the installed prebuilt extension and shows the Parallel engines panel', async () => {
  const page = await lab.openLab();
  const federated = await page.page.evaluate(() => JSON.parse(document.getElementById('jupyter-config-data')!.textContent!).federated_extensions);
  assert.deepEqual(
    federated.map((e: { name: string }) => e.name),
    ['@tsparallel/labextension'],
    'the server found the extension in the labextensions dir it was installed into'
  );
  await page.showPanel();
  await page.panel.locator('.tsp-Notice[data-view="no-notebook"]').waitFor();
  assert.match(await page.panel.innerText(), /Open a notebook on the TypeScript \(tsparallel\) kernel/);
  await page.screenshot('smoke-panel');
  assert.deepEqual(page.pageErrors, []);
});
