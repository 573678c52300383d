/**
 * Jupyter counts cursor positions in Unicode code points (protocol 5.2+); JavaScript strings and
 * TypeScript count UTF-16 units. These convert between the two.
 */
export function codePointsToUtf16(text: string, codePoints: number): number {
  let units = 0;
  for (let i = 0; i < codePoints && units < text.length; i++) units += text.codePointAt(units)! > 0xffff ? 2 : 1;
  return units;
}

export function utf16ToCodePoints(text: string, units: number): number {
  let points = 0;
  for (let at = 0; at < units && at < text.length; points++) at += text.codePointAt(at)! > 0xffff ? 2 : 1;
  return points;
}
