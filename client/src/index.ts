export { Client, type ConnectOptions, type ClientEvents, type Job } from "./client.js";
export { AsyncResult, type TaskMetadata, type OutputEvent, type WithErrors } from "./async-result.js";
export { AsyncMapResult } from "./async-map-result.js";
export { setProgressHooks, progressLine, type ProgressInfo, type ProgressHooks, type ProgressSource } from "./progress.js";
export { taskTimeline, VEGA_LITE_MIME, type Timeline, type TimelineTask } from "./timeline.js";
export { BroadcastView, DirectView, type DirectViewOptions, type DirectMapOptions, type PerEngine } from "./views/direct-view.js";
export { LoadBalancedView, type LoadBalancedOptions, type MapOptions, type ImapOptions } from "./views/load-balanced-view.js";
export { ref, Ref, type RemoteArg, type RemoteArgs, type RemoteValue } from "./ref.js";
export type { RemoteFunction, ParallelFunction } from "./views/wrappers.js";
export { Dependency, type DependencyLike } from "./views/dependencies.js";
export type { Requirement } from "./views/requirements.js";
export {
  RemoteError, EngineError, CompositeError, TimeoutError, HandshakeError, NoEnginesError, TaskAbortedError, ControllerError,
  InvalidDependencyError, ImpossibleDependencyError, DependencyError,
} from "./errors.js";
export { Cluster, ClusterError, type ClusterOptions, type ResolvedClusterOptions } from "./cluster/cluster.js";
export { ClusterConfigError } from "./cluster/cluster-error.js";
export { CLUSTER_CONFIG_FILE, clusterConfigFile, readClusterConfig, type ClusterConfig } from "./cluster/cluster-config.js";
export { ClusterManager } from "./cluster/cluster-manager.js";
export { LauncherNameError, engineLauncherName, controllerLauncherName, type EngineLauncherName, type ControllerLauncherName, type LauncherSpelling } from "./cluster/launcher-names.js";
export type { ControllerLauncher, EngineLauncher, LaunchedProcess, ControllerLaunch, ControllerLaunchOptions, EngineLaunchOptions } from "./cluster/launcher.js";
export { LocalControllerLauncher, LocalEngineLauncher } from "./cluster/local-launcher.js";
export type { RestartPolicy } from "./cluster/restart-policy.js";
export type { ClusterRef, SupervisorRecord } from "./cluster/state.js";
export type { EngineLaunch, LaunchedJob } from "./cluster/launcher.js";
export { createEngineLauncher, engineLauncherSpec, ENGINE_LAUNCHERS, type EngineLauncherSpec, type EngineLauncherChoice } from "./cluster/engine-launchers.js";
export { SshEngineLauncher, parseSshHosts, parseSshTarget, type SshEngineLauncherOptions, type SshHost } from "./cluster/ssh-launcher.js";
export { createControllerLauncher, controllerLauncherSpec, CONTROLLER_LAUNCHERS, type ControllerLauncherSpec, type ControllerLauncherChoice } from "./cluster/controller-launchers.js";
export { SshControllerLauncher, type SshControllerLauncherOptions } from "./cluster/ssh-controller-launcher.js";
export { SlurmControllerLauncher, type SlurmControllerLauncherOptions } from "./cluster/slurm-controller-launcher.js";
export { MpiEngineLauncher, type MpiEngineLauncherOptions } from "./cluster/mpi-launcher.js";
export { BatchEngineLauncher, renderBatchTemplate, BATCH_PLACEHOLDERS, type BatchEngineLauncherOptions } from "./cluster/batch-launcher.js";
export { SlurmEngineLauncher, type SlurmEngineLauncherOptions } from "./cluster/slurm-launcher.js";
export { SerializationError, FunctionSerializationError, ConnectionFileError } from "@tsparallel/protocol";
export type { ClusterSnapshot, EngineStatus, EngineInfo, EngineMetadata, TaskStreamItem, QueueStatus, SchemeName, TaskDbFilter, TaskDbKey, TaskDbRecord, TaskRecordInfo } from "@tsparallel/protocol";
