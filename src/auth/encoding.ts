/**
 * @module encoding
 * Byte helpers shared by the password, token, Hawk and recovery code: UTF-8,
 * hex, standard and URL-safe base64 (tokenserver-1.0 §9.3, hawk §4), and a
 * constant-time comparison for secrets (hawk §9). The runtime does the work
 * (`Uint8Array.prototype.toBase64`/`toHex`, `Uint8Array.fromBase64`,
 * `crypto.subtle.timingSafeEqual`); this module fixes the strictness rules.
 */

const enc = new TextEncoder();

export function utf8(s: string): Uint8Array<ArrayBuffer> {
  return enc.encode(s) as Uint8Array<ArrayBuffer>;
}

export function toHex(b: Uint8Array): string {
  return b.toHex();
}

export function toBase64(b: Uint8Array): string {
  return b.toBase64();
}

/** URL-safe alphabet, with '=' padding (tokenlib tokens and Hawk keys). */
export function toBase64Url(b: Uint8Array): string {
  return b.toBase64({ alphabet: "base64url" });
}

export function toBase64UrlNoPad(b: Uint8Array): string {
  return b.toBase64({ alphabet: "base64url", omitPadding: true });
}

// The runtime decoder also skips ASCII whitespace; these patterns keep it out.
const STD = /^[A-Za-z0-9+/]*={0,2}$/;
const URLSAFE = /^[A-Za-z0-9_-]*={0,2}$/;
const STD_PADDED = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The runtime's decoder in its "loose" mode: padding optional, but when
 * present exactly what the length requires; a length of 4n+1 is refused.
 */
function decode(s: string, alphabet: "base64" | "base64url"): Uint8Array<ArrayBuffer> | null {
  try {
    return Uint8Array.fromBase64(s, { alphabet });
  } catch {
    return null;
  }
}

/** Standard alphabet; padding optional. Null on any invalid input. */
export function fromBase64(s: string): Uint8Array<ArrayBuffer> | null {
  return STD.test(s) ? decode(s, "base64") : null;
}

/** Standard alphabet with the padding required (stored password hashes). Null on anything else. */
export function fromBase64Padded(s: string): Uint8Array<ArrayBuffer> | null {
  return STD_PADDED.test(s) ? decode(s, "base64") : null;
}

/** URL-safe alphabet; padding optional. Null on any invalid input. */
export function fromBase64Url(s: string): Uint8Array<ArrayBuffer> | null {
  return URLSAFE.test(s) ? decode(s, "base64url") : null;
}

/**
 * Compares two byte strings in constant time (the runtime's
 * `crypto.subtle.timingSafeEqual`). The length is not secret (MACs and
 * signatures have fixed lengths), so different lengths are simply unequal.
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && crypto.subtle.timingSafeEqual(a, b);
}

/** Constant-time equality of two strings, compared as UTF-8. */
export function timingSafeEqualStrings(a: string, b: string): boolean {
  return timingSafeEqual(enc.encode(a), enc.encode(b));
}

/**
 * HMAC-SHA256. WebCrypto refuses an empty raw key; HMAC zero-pads keys to the
 * block size, so a single zero byte is the same key (needed for an empty
 * metrics secret, tokenserver-1.0 §12).
 */
export async function hmacSha256(key: Uint8Array<ArrayBuffer> | CryptoKey, data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const k =
    key instanceof CryptoKey
      ? key
      : await crypto.subtle.importKey("raw", key.length === 0 ? new Uint8Array(1) : key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}

export async function sha256(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

/** RFC 5869 HKDF-SHA256. An empty salt equals the 32 zero bytes RFC 5869 prescribes (hawk §9). */
export async function hkdfSha256(
  ikm: Uint8Array<ArrayBuffer>,
  salt: Uint8Array<ArrayBuffer>,
  info: Uint8Array<ArrayBuffer>,
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const k = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, k, length * 8);
  return new Uint8Array(bits);
}
