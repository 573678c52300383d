import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { DashboardSections } from '../dashboard-sections.js';
import { IDashboardSections } from '../tokens.js';
import { TaskStreamView } from '../widgets/task-stream-view.js';

/** The dashboard's task stream: zoom and pan, a task's details on hover and click. */
export const taskStreamPlugin: JupyterFrontEndPlugin<void> = {
  id: '@tsparallel/labextension:task-stream',
  description: 'A zoomable task stream on the dashboard.',
  autoStart: true,
  requires: [IDashboardSections],
  activate: (_app: JupyterFrontEnd, sections: DashboardSections) => {
    sections.add({ id: 'task-stream', rank: 20, ticks: true, create: model => new TaskStreamView(model, { zoomable: true }) });
  }
};
