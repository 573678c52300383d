import { messageLimits, type MessageLimits } from "@tsparallel/protocol";

/**
 * Largest JSON frame the client socket takes: JSON.parse cannot be sliced, and parsing a 50 MiB
 * submission held the loop for seconds. 8 MiB parses in tens of ms; the client never sends more
 * (at most 4,096 tasks per submit_request, 100,000 ids per id list). Dropped and counted above it,
 * as every oversized message. `TSPARALLEL_MAX_REQUEST_JSON_BYTES` changes it.
 */
export const REQUEST_JSON_BYTES = 8 * 1024 * 1024;

export function clientSocketLimits(env: NodeJS.ProcessEnv = process.env): MessageLimits {
  const limits = messageLimits(env);
  const raw = env.TSPARALLEL_MAX_REQUEST_JSON_BYTES;
  let cap = REQUEST_JSON_BYTES;
  if (raw !== undefined && raw !== "") {
    cap = Number(raw);
    if (!Number.isSafeInteger(cap) || cap <= 0) throw new RangeError(`TSPARALLEL_MAX_REQUEST_JSON_BYTES must be a positive integer, not ${JSON.stringify(raw)}`);
  }
  return { ...limits, maxJsonBytes: Math.min(limits.maxJsonBytes, cap) };
}
