import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { DashboardSections } from '../dashboard-sections.js';
import { IDashboardSections } from '../tokens.js';
import { ResourceChartView } from '../widgets/resource-chart-view.js';

/** The dashboard's CPU and memory history, per engine and for the controller. */
export const resourcesPlugin: JupyterFrontEndPlugin<void> = {
  id: '@tsparallel/labextension:resources',
  description: 'CPU and memory history per engine and for the controller on the dashboard.',
  autoStart: true,
  requires: [IDashboardSections],
  activate: (_app: JupyterFrontEnd, sections: DashboardSections) => {
    sections.add({ id: 'resources', rank: 30, create: model => new ResourceChartView(model) });
  }
};
