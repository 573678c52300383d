/** A cluster cannot be started, stopped or reached as asked (the message says why and what to do). */
export class ClusterError extends Error {
  override name = "ClusterError";
}

/** The profile's cluster-config.json cannot be read or holds a bad value (the message names the file and the key). */
export class ClusterConfigError extends ClusterError {
  override name = "ClusterConfigError";
}
