/**
 * @module types/runtime
 * Declarations for the runtime features this Worker uses that TypeScript 5.9's
 * libraries and the generated worker-configuration.d.ts do not describe:
 * `node:crypto`'s scrypt (nodejs_compat) and the ES2026 Uint8Array
 * base64/hex methods (V8 in workerd has them). Only what src/ calls.
 */
declare module "node:crypto" {
  export function scrypt(
    password: Uint8Array | string,
    salt: Uint8Array | string,
    keylen: number,
    options: { N: number; r: number; p: number; maxmem?: number },
    callback: (err: Error | null, derivedKey: Uint8Array) => void,
  ): void;
}

interface Uint8Array {
  toBase64(options?: { alphabet?: "base64" | "base64url"; omitPadding?: boolean }): string;
  toHex(): string;
}

interface Uint8ArrayConstructor {
  fromBase64(
    text: string,
    options?: { alphabet?: "base64" | "base64url"; lastChunkHandling?: "loose" | "strict" | "stop-before-partial" },
  ): Uint8Array<ArrayBuffer>;
  fromHex(text: string): Uint8Array<ArrayBuffer>;
}
