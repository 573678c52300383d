export { Client, type ConnectOptions, type ClientEvents } from "./client.js";
export { AsyncResult, type TaskMetadata, type OutputEvent } from "./async-result.js";
export { AsyncMapResult } from "./async-map-result.js";
export { taskTimeline, VEGA_LITE_MIME, type Timeline, type TimelineTask } from "./timeline.js";
export { DirectView, type PerEngine } from "./views/direct-view.js";
export { LoadBalancedView, type LoadBalancedOptions, type MapOptions } from "./views/load-balanced-view.js";
export { ref, Ref, type RemoteArgs } from "./ref.js";
export {
  RemoteError, EngineError, CompositeError, TimeoutError, NoEnginesError, TaskAbortedError, ControllerError,
} from "./errors.js";
export { Cluster, ClusterError, type ClusterOptions } from "./cluster/cluster.js";
export type { ControllerLauncher, EngineLauncher, LaunchedProcess, ControllerLaunch, ControllerLaunchOptions, EngineLaunchOptions } from "./cluster/launcher.js";
export { LocalControllerLauncher, LocalEngineLauncher } from "./cluster/local-launcher.js";
export { SerializationError, FunctionSerializationError, ConnectionFileError } from "@tsparallel/protocol";
export type { ClusterSnapshot, EngineStatus, EngineInfo, TaskStreamItem, QueueStatus, SchemeName } from "@tsparallel/protocol";
