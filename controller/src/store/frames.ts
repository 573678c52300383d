/**
 * Several frames in one BLOB: a u32 count, a u32 length per frame, then the frames back to back
 * (`packInto` writes it into a batch's buffer; no frames: NULL).
 */
export function unpackFrames(blob: Buffer | null | undefined): Buffer[] {
  if (!blob || blob.length < 4) return [];
  const count = blob.readUInt32LE(0);
  const frames: Buffer[] = [];
  let at = 4 + 4 * count;
  for (let i = 0; i < count; i++) {
    const length = blob.readUInt32LE(4 + 4 * i);
    frames.push(blob.subarray(at, at + length));
    at += length;
  }
  return frames;
}

export function bytesOf(frames: readonly Buffer[]): number {
  let bytes = 0;
  for (const frame of frames) bytes += frame.length;
  return bytes;
}

/** The size of the BLOB packing these frames (0 for no frames: stored as NULL). */
export function packedSize(frames: readonly Buffer[]): number {
  if (frames.length === 0) return 0;
  return 4 + 4 * frames.length + bytesOf(frames);
}

/** Packs the frames into `out` at `at` (packedSize(frames) bytes); returns the offset after it. */
export function packInto(frames: readonly Buffer[], out: Buffer, at: number): number {
  if (frames.length === 0) return at;
  out.writeUInt32LE(frames.length, at);
  let to = at + 4 + 4 * frames.length;
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i]!;
    out.writeUInt32LE(frame.length, at + 4 + 4 * i);
    frame.copy(out, to);
    to += frame.length;
  }
  return to;
}
