/** A Map key for a ROUTER routing identity (one or more frames). */
export function identityKey(identities: readonly Buffer[]): string {
  return identities.length === 1 ? identities[0]!.toString("hex") : identities.map((b) => b.toString("hex")).join(".");
}
