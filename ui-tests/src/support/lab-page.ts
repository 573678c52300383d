import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import type { LabServer } from './lab-server.js';
import { artifactsDir } from './paths.js';

/** JupyterLab's app object, which index.js exposes as galata does. */
interface LabWindow {
  jupyterapp: {
    commands: { execute(id: string, args?: Record<string, unknown>): Promise<unknown> };
    shell: { activateById(id: string): void };
  };
}

export const PANEL = '#tsparallel-engines';

/** One browser page on the test JupyterLab, with the few gestures the tests need. */
export class LabPage {
  private readonly errors: string[] = [];

  private constructor(
    readonly page: Page,
    readonly server: LabServer
  ) {
    page.on('pageerror', err => this.errors.push(String(err)));
  }

  static async open(browser: Browser, server: LabServer): Promise<LabPage> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const lab = new LabPage(page, server);
    await page.goto(`${server.url}/lab?token=${server.token}`);
    await page.waitForSelector('body[data-lab-restored="true"]', { state: 'attached', timeout: 60_000 });
    return lab;
  }

  /** Uncaught errors in the page so far: a test may assert there were none. */
  get pageErrors(): readonly string[] {
    return this.errors;
  }

  get panel(): Locator {
    return this.page.locator(PANEL);
  }

  async command(id: string, args: Record<string, unknown> = {}): Promise<unknown> {
    return this.page.evaluate(([id, args]) => (window as unknown as LabWindow).jupyterapp.commands.execute(id, args), [id, args] as const);
  }

  /** Starts a command without waiting for it to finish (notebook:run-cell resolves when the cell is done). */
  async startCommand(id: string, args: Record<string, unknown> = {}): Promise<void> {
    await this.page.evaluate(([id, args]) => void (window as unknown as LabWindow).jupyterapp.commands.execute(id, args), [id, args] as const);
  }

  /** Opens the sidebar tab the way a user does: a click on its icon in the left bar. */
  async showPanel(): Promise<void> {
    await this.page.locator(`.jp-SideBar [data-id="tsparallel-engines"]`).click();
    await this.panel.waitFor({ state: 'visible' });
  }

  /** Creates a notebook file on the server with the given kernel and opens it. */
  async openNotebook(name: string, kernel: string | null): Promise<void> {
    const metadata = kernel ? { kernelspec: { name: kernel, display_name: kernel, language: 'typescript' } } : {};
    await this.server.api('PUT', `/api/contents/${name}`, {
      type: 'notebook',
      format: 'json',
      content: { cells: [], metadata, nbformat: 4, nbformat_minor: 5 }
    });
    const opened = this.command('docmanager:open', { path: name, factory: 'Notebook', kernel: kernel ? { name: kernel } : undefined });
    if (!kernel) {
      // JupyterLab asks which kernel to start for a notebook that names none.
      await this.page.locator('.jp-Dialog button', { hasText: 'No Kernel' }).click();
    }
    await opened;
    await this.activateNotebook(name);
  }

  async activateNotebook(name: string): Promise<void> {
    const tab = this.page.locator(`.lm-DockPanel-tabBar .lm-TabBar-tab[data-type="document-title"]`, { hasText: name });
    await tab.click();
    await this.page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook').first().waitFor();
  }

  /** Waits until the active notebook's kernel is idle after start-up. */
  async waitForKernelIdle(timeout = 60_000): Promise<void> {
    await this.page.waitForFunction(
      () => {
        const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
        const status = panel?.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status');
        return status === 'idle';
      },
      undefined,
      { timeout }
    );
  }

  /** Kernel > Restart Kernel… on the active notebook, confirmed as a user does; waits for it to be idle again. */
  async restartKernel(): Promise<void> {
    await this.startCommand('notebook:restart-kernel');
    await this.page.locator('.jp-Dialog button.jp-mod-accept', { hasText: 'Restart' }).click();
    await this.page.locator('.jp-Dialog').waitFor({ state: 'detached' });
    await this.waitForKernelIdle();
  }

  /**
   * Appends a code cell with `source` to the active notebook and runs it. Returns without waiting for it
   * to finish (see waitForCell): a test often has to watch the panel while the cell runs.
   */
  async runCell(source: string): Promise<Locator> {
    const notebook = this.page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
    const before = await notebook.locator('.jp-CodeCell').count();
    await this.command('notebook:insert-cell-below');
    const cell = notebook.locator('.jp-CodeCell').nth(before);
    await cell.locator('.cm-content').click();
    await this.page.keyboard.insertText(source);
    await this.startCommand('notebook:run-cell');
    return cell;
  }

  /** Waits for a cell to finish (its prompt shows an execution count) and returns its output text. */
  async waitForCell(cell: Locator, timeout = 60_000): Promise<string> {
    await cell.locator('.jp-InputPrompt').filter({ hasText: /\[\d+\]/ }).waitFor({ timeout });
    return (await cell.locator('.jp-OutputArea').innerText()).trim();
  }

  async runCellToEnd(source: string, timeout = 60_000): Promise<string> {
    return this.waitForCell(await this.runCell(source), timeout);
  }

  async screenshot(name: string): Promise<string> {
    mkdirSync(artifactsDir, { recursive: true });
    const path = join(artifactsDir, `${name}.png`);
    await this.page.screenshot({ path });
    return path;
  }

  async close(): Promise<void> {
    await this.page.context().close();
  }
}
