import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installLabExtension } from '@tsparallel/labextension/install';
import type { Browser } from 'playwright-core';
import { launchChromium } from './browser.js';
import { LabPage } from './lab-page.js';
import { startLabServer, type LabServer } from './lab-server.js';
import { artifactsDir } from './paths.js';

/** The built app: scripts/test-ui.mjs builds (or finds cached) and passes it. */
export function appDir(): string {
  const dir = process.env.TSP_UI_APP_DIR;
  if (!dir) throw new Error('TSP_UI_APP_DIR is not set: run the UI tests with `npm run test:ui`');
  return dir;
}

/**
 * A user's machine in miniature: an install prefix (`share/jupyter` with the kernelspec and the
 * prebuilt extension), a TSPARALLEL_DIR for cluster profiles, a lab server and a browser.
 */
export interface LabEnvironment {
  prefix: string;
  dataDir: string;
  tsparallelDir: string;
  server: LabServer;
  browser: Browser;
  openLab(): Promise<LabPage>;
  /** Stops everything; keeps the server log as an artifact named after the test file. */
  close(): Promise<void>;
}

export interface LabEnvironmentOptions {
  /** Name for artifacts. */
  name: string;
  /** Installs what a user installs into `dataDir` (`share/jupyter` under the prefix). Default: the lab extension only. */
  install?: (prefix: string, dataDir: string, env: Record<string, string>) => void;
  /** Runs after the server stopped, before the prefix is removed (e.g. to stop stray clusters). */
  cleanup?: (env: Record<string, string>) => void;
}

export async function startLabEnvironment(options: LabEnvironmentOptions): Promise<LabEnvironment> {
  const prefix = mkdtempSync(join(tmpdir(), 'tsp-prefix-'));
  const dataDir = join(prefix, 'share', 'jupyter');
  const tsparallelDir = join(prefix, 'tsparallel-profiles');
  mkdirSync(dataDir, { recursive: true });
  const env = { TSPARALLEL_DIR: tsparallelDir };
  (options.install ?? ((_, data) => installLabExtension(data)))(prefix, dataDir, env);
  const server = await startLabServer({ appDir: appDir(), dataDir, env });
  const browser = await launchChromium();
  const pages: LabPage[] = [];
  return {
    prefix,
    dataDir,
    tsparallelDir,
    server,
    browser,
    async openLab() {
      const page = await LabPage.open(browser, server);
      pages.push(page);
      return page;
    },
    async close() {
      for (const page of pages) await page.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
      mkdirSync(artifactsDir, { recursive: true });
      copyFileSync(server.logFile, join(artifactsDir, `${options.name}-server.log`));
      await server.stop();
      options.cleanup?.(env);
      rmSync(prefix, { recursive: true, force: true });
    }
  };
}
