/** A magic used wrongly (bad flag, nothing to act on): shown to the user without a stack, as IPython's UsageError. */
export class UsageError extends Error {
  override name = "UsageError";
}
