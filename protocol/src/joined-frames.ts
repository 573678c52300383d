/**
 * Several small value frames of one message travel as ONE frame: a u32 length per frame, then the
 * frames back to back. A batch of tiny tasks or results has one small frame each; ZeroMQ pays per
 * frame (a message part, a copy into a new Buffer on receipt, a Buffer for the GC), which was a large
 * part of a tiny task's cost in every process. The signed JSON of the compact form says how many
 * frames the joined one holds (its fifth element), so a legitimate single frame is never split.
 */

/** Frames longer than this stay frames of their own (big values travel zero-copy, one frame each). */
export const JOIN_MAX_FRAME_BYTES = 4096;

/** Whether `frames` go as one joined frame: two or more, none of them large. */
export function joinable(frames: readonly Buffer[]): boolean {
  if (frames.length < 2) return false;
  // Indexed loops: every message of tiny tasks passes a frame per task through here, in every process.
  for (let i = 0; i < frames.length; i++) if (frames[i]!.length > JOIN_MAX_FRAME_BYTES) return false;
  return true;
}

export function joinFrames(frames: readonly Buffer[]): Buffer {
  const count = frames.length;
  let size = 4 * count;
  for (let i = 0; i < count; i++) size += frames[i]!.length;
  const out = Buffer.allocUnsafeSlow(size);
  let at = 4 * count;
  for (let i = 0; i < count; i++) {
    const frame = frames[i]!;
    out.writeUInt32LE(frame.length, 4 * i);
    frame.copy(out, at);
    at += frame.length;
  }
  return out;
}

/** The frames a joined frame holds (views into it, no copies); throws RangeError when it does not hold `count` exactly. */
export function splitJoined(joined: Buffer, count: number): Buffer[] {
  if (!Number.isInteger(count) || count < 2 || 4 * count > joined.length) throw new RangeError(`a joined frame of ${joined.length} bytes cannot hold ${count} frames`);
  const frames: Buffer[] = new Array(count);
  let at = 4 * count;
  for (let i = 0; i < count; i++) {
    const length = joined.readUInt32LE(4 * i);
    if (length > joined.length - at) throw new RangeError(`frame ${i} of a joined frame runs past its end`);
    frames[i] = joined.subarray(at, at + length);
    at += length;
  }
  if (at !== joined.length) throw new RangeError(`${joined.length - at} bytes of a joined frame belong to no frame`);
  return frames;
}
