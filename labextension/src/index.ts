import type { JupyterFrontEndPlugin } from '@jupyterlab/application';
import { commandsPlugin } from './plugins/commands.js';
import { dashboardPlugin } from './plugins/dashboard.js';
import { sidebarPlugin } from './plugins/sidebar.js';
import { statusPlugin } from './plugins/status.js';

export { IClusterStatus } from './tokens.js';
export type { StatusModel, PanelView } from './model/status-model.js';

const plugins: JupyterFrontEndPlugin<any>[] = [statusPlugin, sidebarPlugin, commandsPlugin, dashboardPlugin];
export default plugins;
