type Publish = (data: Record<string, unknown>) => void;

let publish: Publish | null = null;

/**
 * `publishData({ ... })` on engines (ipyparallel's `publish_data`): sends the object to the client
 * while the task runs; the client merges each one into the task's `ar.data`, as a dict update.
 */
function publishData(data: Record<string, unknown>): void {
  if (!publish) throw new Error("publishData() works inside a task on an engine");
  publish(data);
}

/** Makes `publishData` a global of the engine, kept by `clear` (not configurable), as `display` is. */
export function installPublishData(target: Publish): void {
  publish = target;
  if ((globalThis as Record<string, unknown>).publishData === publishData) return;
  Object.defineProperty(globalThis, "publishData", { value: publishData, writable: true, enumerable: false, configurable: false });
}
