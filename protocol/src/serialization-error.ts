/** A value that cannot travel, or a payload that cannot be read back. */
export class SerializationError extends TypeError {
  override name = "SerializationError";
}
