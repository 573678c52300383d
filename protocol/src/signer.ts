import { createHmac, timingSafeEqual } from "node:crypto";

/** HMAC-SHA256 over the four JSON frames, as the Jupyter messaging spec defines it. */
export class Signer {
  readonly #key: Buffer;

  constructor(key: string | Buffer) {
    this.#key = typeof key === "string" ? Buffer.from(key, "utf8") : key;
  }

  get enabled(): boolean {
    return this.#key.length > 0;
  }

  sign(parts: readonly (Buffer | string)[]): string {
    if (!this.enabled) return "";
    const hmac = createHmac("sha256", this.#key);
    for (const part of parts) hmac.update(part);
    return hmac.digest("hex");
  }

  verify(signature: Buffer | string, parts: readonly (Buffer | string)[]): boolean {
    if (!this.enabled) return true;
    const expected = Buffer.from(this.sign(parts), "utf8");
    const given = typeof signature === "string" ? Buffer.from(signature, "utf8") : signature;
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
