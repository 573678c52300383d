export { startController, type RunningController } from "./controller.js";
export { OptionsError, type ControllerOptions } from "./options.js";
export { SCHEMES, type SchemeName } from "./schedulers/index.js";
export type { RecordLimits } from "./records/task-records.js";
