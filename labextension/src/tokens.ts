import { Token } from '@lumino/coreutils';
import type { StatusModel } from './model/status-model.js';

/** The status of the current notebook's cluster, shared by the sidebar and the commands. */
export const IClusterStatus = new Token<StatusModel>('@tsparallel/labextension:IClusterStatus', 'The cluster status of the current notebook');
