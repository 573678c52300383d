import { ILabShell, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { DashboardSections } from '../dashboard-sections.js';
import type { StatusModel } from '../model/status-model.js';
import { IClusterStatus, IDashboardSections } from '../tokens.js';
import { Dashboard } from '../widgets/dashboard.js';

export const OPEN_DASHBOARD = 'tsparallel:open-dashboard';

/**
 * Opens a new dashboard in the main area each time (several may be open), from the palette or the
 * sidebar. It shows the controller; its sections come from the plugins that register them.
 */
export const dashboardPlugin: JupyterFrontEndPlugin<DashboardSections> = {
  id: '@tsparallel/labextension:dashboard',
  description: 'A dashboard of the current notebook\'s cluster in the main area.',
  autoStart: true,
  requires: [IClusterStatus, ILabShell],
  optional: [ICommandPalette],
  provides: IDashboardSections,
  activate: (app: JupyterFrontEnd, model: StatusModel, shell: ILabShell, palette: ICommandPalette | null): DashboardSections => {
    const sections = new DashboardSections();
    app.commands.addCommand(OPEN_DASHBOARD, {
      label: 'Open Parallel Dashboard',
      execute: () => {
        const dashboard = new Dashboard(model, sections.all);
        shell.add(dashboard, 'main');
        shell.activateById(dashboard.id);
        return dashboard.id;
      }
    });
    palette?.addItem({ command: OPEN_DASHBOARD, category: 'Parallel' });
    return sections;
  }
};
