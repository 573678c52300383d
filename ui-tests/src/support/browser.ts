import { chromium, type Browser } from 'playwright-core';
import { chromiumPath } from './paths.js';

/** Debian's Chromium, headless; no sandbox because tests run as root in CI. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu']
  });
}
