import { ILabShell, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import type { ActionEntry } from '../model/action-log.js';
import type { StatusModel } from '../model/status-model.js';
import { IClusterStatus } from '../tokens.js';

export const CommandIds = {
  showEngines: 'tsparallel:show-engines',
  startCluster: 'tsparallel:start-cluster',
  addEngines: 'tsparallel:add-engines',
  stopCluster: 'tsparallel:stop-cluster'
} as const;

function count(args: Record<string, unknown>): number | undefined {
  return typeof args.n === 'number' && Number.isInteger(args.n) && args.n > 0 ? args.n : undefined;
}

/** Throws on failure, so a command's caller (a keyboard shortcut, a test) sees it, as the panel shows it. */
function ensureOk(entry: ActionEntry): ActionEntry {
  if (entry.outcome === 'failed') throw new Error(`${entry.label} failed: ${entry.message}`);
  return entry;
}

/** The panel's actions as commands, for the palette and for keyboard users. */
export const commandsPlugin: JupyterFrontEndPlugin<void> = {
  id: '@tsparallel/labextension:commands',
  description: 'Commands to show the engines and to start, grow and stop the current notebook\'s cluster.',
  autoStart: true,
  requires: [IClusterStatus],
  optional: [ICommandPalette, ILabShell],
  activate: (app: JupyterFrontEnd, model: StatusModel, palette: ICommandPalette | null, shell: ILabShell | null) => {
    const hasCluster = () => model.view.kind === 'cluster';
    app.commands.addCommand(CommandIds.showEngines, {
      label: 'Show Parallel Engines',
      execute: () => shell?.activateById('tsparallel-engines')
    });
    app.commands.addCommand(CommandIds.startCluster, {
      label: args => (count(args) ? `Start a Cluster of ${count(args)} Engines` : 'Start a Cluster'),
      isEnabled: () => model.view.kind === 'no-cluster',
      execute: async args => ensureOk(await model.runAction({ action: 'start', n: count(args) }))
    });
    app.commands.addCommand(CommandIds.addEngines, {
      label: args => (count(args) ? `Add ${count(args)} Engines` : 'Add an Engine'),
      isEnabled: hasCluster,
      execute: async args => ensureOk(await model.runAction({ action: 'add_engines', n: count(args) ?? 1 }))
    });
    app.commands.addCommand(CommandIds.stopCluster, {
      label: 'Stop the Cluster',
      isEnabled: hasCluster,
      execute: async () => ensureOk(await model.runAction({ action: 'stop_cluster' }))
    });
    for (const command of Object.values(CommandIds)) palette?.addItem({ command, category: 'Parallel' });
  }
};
