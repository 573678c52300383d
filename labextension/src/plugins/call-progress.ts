import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { DashboardSections } from '../dashboard-sections.js';
import { IDashboardSections } from '../tokens.js';
import { CallProgressView } from '../widgets/call-progress-view.js';

/** The dashboard's progress bars, one per call of the notebook's kernel. */
export const callProgressPlugin: JupyterFrontEndPlugin<void> = {
  id: '@tsparallel/labextension:call-progress',
  description: 'Progress per call (map, apply) on the dashboard.',
  autoStart: true,
  requires: [IDashboardSections],
  activate: (_app: JupyterFrontEnd, sections: DashboardSections) => {
    sections.add({ id: 'progress', rank: 10, create: model => new CallProgressView(model) });
  }
};
