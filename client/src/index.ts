export { Client, type ConnectOptions, type ClientEvents } from "./client.js";
export { AsyncResult, type TaskMetadata, type OutputEvent } from "./async-result.js";
export { AsyncMapResult } from "./async-map-result.js";
export { DirectView, type PerEngine } from "./views/direct-view.js";
export { LoadBalancedView, type LoadBalancedOptions, type MapOptions } from "./views/load-balanced-view.js";
export { ref, Ref, type RemoteArgs } from "./ref.js";
export {
  RemoteError, EngineError, CompositeError, TimeoutError, NoEnginesError, TaskAbortedError, ControllerError,
} from "./errors.js";
export { Cluster, ClusterError, type ClusterOptions } from "./cluster/cluster.js";
export type { ControllerLauncher, EngineLauncher, LaunchedProcess, ControllerLaunch, ControllerLaunchOptions, EngineLaunchOptions } from "./cluster/launcher.js";
export { LocalControllerLauncher, LocalEngineLauncher } from "./cluster/local-launcher.js";
export type { EngineLaunch, LaunchedJob } from "./cluster/launcher.js";
export { createEngineLauncher, ENGINE_LAUNCHERS, type EngineLauncherSpec } from "./cluster/engine-launchers.js";
export { SshEngineLauncher, parseSshHosts, type SshEngineLauncherOptions, type SshHost } from "./cluster/ssh-launcher.js";
export { MpiEngineLauncher, type MpiEngineLauncherOptions } from "./cluster/mpi-launcher.js";
export { BatchEngineLauncher, renderBatchTemplate, BATCH_PLACEHOLDERS, type BatchEngineLauncherOptions } from "./cluster/batch-launcher.js";
export { SlurmEngineLauncher, type SlurmEngineLauncherOptions } from "./cluster/slurm-launcher.js";
export { SerializationError, FunctionSerializationError, ConnectionFileError } from "@tsparallel/protocol";
export type { ClusterSnapshot, EngineStatus, EngineInfo, EngineMetadata, TaskStreamItem, QueueStatus, SchemeName } from "@tsparallel/protocol";
