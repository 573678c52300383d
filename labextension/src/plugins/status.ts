import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, type NotebookPanel } from '@jupyterlab/notebook';
import { StatusModel } from '../model/status-model.js';
import { IClusterStatus } from '../tokens.js';

/** Keeps the status model on the active notebook: switching notebooks switches the cluster shown. */
export const statusPlugin: JupyterFrontEndPlugin<StatusModel> = {
  id: '@tsparallel/labextension:status',
  description: 'Follows the current notebook and talks to its kernel about its cluster.',
  autoStart: true,
  requires: [INotebookTracker],
  provides: IClusterStatus,
  activate: (_app: JupyterFrontEnd, notebooks: INotebookTracker): StatusModel => {
    const model = new StatusModel();
    const follow = (panel: NotebookPanel | null) =>
      model.follow(panel && !panel.isDisposed ? { path: panel.context.path, sessionContext: panel.sessionContext } : null);
    notebooks.currentChanged.connect((_, panel) => follow(panel));
    // A rename changes the label only; the kernel (and its cluster) stay.
    notebooks.widgetUpdated.connect((_, panel) => {
      if (panel === notebooks.currentWidget) follow(panel);
    });
    follow(notebooks.currentWidget);
    return model;
  }
};
