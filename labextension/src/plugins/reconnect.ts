import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import type { StatusModel } from '../model/status-model.js';
import { IClusterStatus } from '../tokens.js';

export const RECONNECT = 'tsparallel:reconnect';

/**
 * Reconnect after "controller lost" as a command (the sidebar's and the dashboard's Reconnect buttons do
 * the same): the kernel waits for the profile's controller to be back and connects a new client to it.
 */
export const reconnectPlugin: JupyterFrontEndPlugin<void> = {
  id: '@tsparallel/labextension:reconnect',
  description: 'Reconnects the notebook\'s kernel to its cluster\'s controller once it is back.',
  autoStart: true,
  requires: [IClusterStatus],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, model: StatusModel, palette: ICommandPalette | null) => {
    app.commands.addCommand(RECONNECT, {
      label: 'Reconnect to the Lost Controller',
      isEnabled: () => model.view.kind === 'controller-lost',
      execute: async () => {
        const view = model.view;
        if (view.kind !== 'controller-lost') throw new Error('the controller is not lost');
        const entry = await model.runAction({ action: 'reconnect', profile: view.profile });
        if (entry.outcome === 'failed') throw new Error(`${entry.label} failed: ${entry.message}`);
        return entry;
      }
    });
    palette?.addItem({ command: RECONNECT, category: 'Parallel' });
  }
};
