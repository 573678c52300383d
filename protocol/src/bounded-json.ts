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
