import { ILabShell, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Panel } from '@lumino/widgets';
import type { DashboardSections } from '../dashboard-sections.js';
import type { StatusModel } from '../model/status-model.js';
import { IClusterStatus, IDashboardSections } from '../tokens.js';
import { EngineLogView } from '../widgets/engine-log-view.js';
import { enginesIcon } from '../widgets/icon.js';

export const SHOW_ENGINE_LOG = 'tsparallel:show-engine-log';

let opened = 0;

/** An engine's recent log lines: a dashboard section, and a pane of their own (the sidebar's "log" button per engine). */
export const engineLogsPlugin: JupyterFrontEndPlugin<void> = {
  id: '@tsparallel/labextension:engine-logs',
  description: 'Recent log lines of an engine, on the dashboard and in a pane of their own.',
  autoStart: true,
  requires: [IClusterStatus, IDashboardSections, ILabShell],
  activate: (app: JupyterFrontEnd, model: StatusModel, sections: DashboardSections, shell: ILabShell) => {
    sections.add({ id: 'engine-log', rank: 40, create: m => new EngineLogView(m) });
    app.commands.addCommand(SHOW_ENGINE_LOG, {
      label: args => (typeof args.engineId === 'number' ? `Show the Log of Engine ${args.engineId}` : 'Show an Engine Log'),
      execute: args => {
        const engineId = typeof args.engineId === 'number' && Number.isInteger(args.engineId) ? args.engineId : null;
        const pane = new Panel();
        pane.id = `tsparallel-engine-log-${++opened}`;
        pane.addClass('tsp-EngineLogPane');
        pane.title.label = engineId === null ? 'Engine log' : `Engine ${engineId} log`;
        pane.title.icon = enginesIcon;
        pane.title.closable = true;
        pane.addWidget(new EngineLogView(model, engineId));
        shell.add(pane, 'main', { mode: 'split-right' });
        shell.activateById(pane.id);
        return pane.id;
      }
    });
  }
};
