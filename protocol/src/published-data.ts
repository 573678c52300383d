import { packValue, unpackValue } from "./serialize.js";

/**
 * Data an engine publishes while a task runs (`publishData({...})`, ipyparallel's datapub). It rides
 * the task's output stream as a "data" item, beside stdout and displays, so it reaches the client live
 * and before the task's result. The text is the structured-clone frames of the object, base64, as a
 * JSON list: published data is meant to be small (progress, partial figures), so it is bounded; big
 * values belong in the task's result.
 */
export const MAX_PUBLISHED_DATA_BYTES = 1024 * 1024;

/** Encodes a published object, or throws (TypeError / SerializationError / RangeError) saying why it cannot travel. */
export function encodePublishedData(data: unknown): string {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new TypeError(`publishData takes an object of names to values (ipyparallel's dict), got ${data === null ? "null" : Array.isArray(data) ? "an array" : typeof data}`);
  }
  const frames = packValue(data, "published data").frames;
  const bytes = frames.reduce((sum, frame) => sum + frame.length, 0);
  if (bytes > MAX_PUBLISHED_DATA_BYTES) {
    throw new RangeError(`publishData: ${bytes} bytes is over the ${MAX_PUBLISHED_DATA_BYTES}-byte limit; return large values as the task's result`);
  }
  return JSON.stringify(frames.map((frame) => frame.toString("base64")));
}

/** The published object, or undefined for text that is not one (such an item is dropped). */
export function decodePublishedData(text: string): Record<string, unknown> | undefined {
  try {
    const list = JSON.parse(text) as unknown;
    if (!Array.isArray(list) || list.length === 0 || !list.every((f) => typeof f === "string")) return undefined;
    const value = unpackValue(list.map((f: string) => Buffer.from(f, "base64")));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
