import { Token } from '@lumino/coreutils';
import type { StatusModel } from './model/status-model.js';
import type { DashboardSections } from './dashboard-sections.js';

/** The status of the current notebook's cluster, shared by the sidebar and the commands. */
export const IClusterStatus = new Token<StatusModel>('@tsparallel/labextension:IClusterStatus', 'The cluster status of the current notebook');

/** The dashboard's sections: a plugin adds its own (task stream, resources, logs...). */
export const IDashboardSections = new Token<DashboardSections>('@tsparallel/labextension:IDashboardSections', 'The sections every new dashboard shows');
