import { ILabShell, ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { StatusModel } from '../model/status-model.js';
import { IClusterStatus } from '../tokens.js';
import { EnginePanel } from '../widgets/engine-panel.js';
import { OPEN_DASHBOARD } from './dashboard.js';
import { SHOW_ENGINE_LOG } from './engine-logs.js';

/** The "Parallel engines" tab in the left sidebar. */
export const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: '@tsparallel/labextension:sidebar',
  description: 'Shows the engines of the current notebook\'s cluster in the left sidebar.',
  autoStart: true,
  requires: [IClusterStatus, ILabShell],
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, model: StatusModel, shell: ILabShell, restorer: ILayoutRestorer | null) => {
    // The log button is there only when the engine-logs plugin is (it may be disabled).
    const showLog = (engineId: number) => {
      if (app.commands.hasCommand(SHOW_ENGINE_LOG)) void app.commands.execute(SHOW_ENGINE_LOG, { engineId });
    };
    const panel = new EnginePanel(model, () => void app.commands.execute(OPEN_DASHBOARD), showLog);
    shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, panel.id);
  }
};
