import type { JupyterFrontEndPlugin } from '@jupyterlab/application';
import { callProgressPlugin } from './plugins/call-progress.js';
import { commandsPlugin } from './plugins/commands.js';
import { dashboardPlugin } from './plugins/dashboard.js';
import { engineLogsPlugin } from './plugins/engine-logs.js';
import { reconnectPlugin } from './plugins/reconnect.js';
import { resourcesPlugin } from './plugins/resources.js';
import { sidebarPlugin } from './plugins/sidebar.js';
import { statusPlugin } from './plugins/status.js';
import { taskStreamPlugin } from './plugins/task-stream.js';

export { IClusterStatus, IDashboardSections } from './tokens.js';
export type { StatusModel, PanelView } from './model/status-model.js';
export type { DashboardSection, DashboardSections } from './dashboard-sections.js';

const plugins: JupyterFrontEndPlugin<any>[] = [
  statusPlugin,
  sidebarPlugin,
  commandsPlugin,
  dashboardPlugin,
  callProgressPlugin,
  taskStreamPlugin,
  resourcesPlugin,
  engineLogsPlugin,
  reconnectPlugin
];
export default plugins;
