/**
 * Nesting depth of a JSON text, found by one loop over its bytes (no recursion, no allocation), so
 * that a hostile frame is refused before JSON.parse builds it and before any recursive walk
 * (JSON.stringify, structuredClone) can overflow the stack on it. Returns -1 past `limit`.
 */
export function jsonDepthWithin(bytes: Uint8Array, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return -1;
      if (depth > deepest) deepest = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

const indexOfByte = Uint8Array.prototype.indexOf;
/** Past this size the scan is done straight away (a big text has brackets enough to make counting them a waste). */
const COUNT_BELOW_BYTES = 64 * 1024;

/**
 * Whether a JSON text is nested at most `limit` deep (what `jsonDepthWithin(bytes, limit) >= 0` says).
 * Every level of nesting needs an opening bracket, so a text with at most `limit` of them (strings
 * included) fits: V8's native indexOf counts them (a message's JSON has a handful), where the
 * byte-by-byte scan runs in V8's interpreter for a fresh process's first few thousand messages
 * (~12 µs for a 400-byte request against ~1.5). A text with more brackets gets the scan.
 */
export function jsonDepthFits(bytes: Uint8Array, limit: number): boolean {
  if (bytes.length > COUNT_BELOW_BYTES) return jsonDepthWithin(bytes, limit) >= 0;
  let openers = 0;
  for (let at = indexOfByte.call(bytes, 0x7b); at >= 0; at = indexOfByte.call(bytes, 0x7b, at + 1)) {
    if (++openers > limit) return jsonDepthWithin(bytes, limit) >= 0;
  }
  for (let at = indexOfByte.call(bytes, 0x5b); at >= 0; at = indexOfByte.call(bytes, 0x5b, at + 1)) {
    if (++openers > limit) return jsonDepthWithin(bytes, limit) >= 0;
  }
  return true;
}
