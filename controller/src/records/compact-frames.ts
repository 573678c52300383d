/**
 * A submission's small frames (a map item, a tiny argument list: tens of bytes each) copied into one
 * shared buffer. ZeroMQ hands each frame over as a Buffer with memory of its own: in a million-item
 * map that was an ArrayBuffer, its backing store and its bookkeeping per queued task (~200 bytes
 * each, and work for every GC while tens of thousands wait); views into one slab are a fraction of it.
 * Large frames keep their own memory (a slab must not pin much for one long task).
 */
export const SMALL_FRAME = 256;

export function compactFrames(frames: Buffer[]): Buffer[] {
  let small = 0;
  let bytes = 0;
  // Small frames that came joined in one frame (joined-frames.ts) are views into one memory already.
  let memory: ArrayBufferLike | undefined;
  let shared = true;
  for (const frame of frames) {
    if (frame.length > SMALL_FRAME) continue;
    small++;
    bytes += frame.length;
    if (memory === undefined) memory = frame.buffer;
    else if (frame.buffer !== memory) shared = false;
  }
  if (small < 2 || shared) return frames;
  const slab = Buffer.allocUnsafeSlow(bytes);
  const compacted = new Array<Buffer>(frames.length);
  let at = 0;
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i]!;
    if (frame.length > SMALL_FRAME) {
      compacted[i] = frame;
      continue;
    }
    frame.copy(slab, at);
    compacted[i] = slab.subarray(at, at + frame.length);
    at += frame.length;
  }
  return compacted;
}
