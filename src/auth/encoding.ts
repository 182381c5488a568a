/**
 * @module encoding
 * Byte helpers shared by the token and Hawk code: UTF-8, hex, standard and
 * URL-safe base64 (tokenserver-1.0 §9.3, hawk §4), and a constant-time
 * byte comparison for secrets (hawk §9).
 */

const enc = new TextEncoder();

export function utf8(s: string): Uint8Array<ArrayBuffer> {
  return enc.encode(s) as Uint8Array<ArrayBuffer>;
}

export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

export function toBase64(b: Uint8Array): string {
  let bin = "";
  for (const x of b) bin += String.fromCharCode(x);
  return btoa(bin);
}

/** URL-safe alphabet, with '=' padding (tokenlib tokens and Hawk keys). */
export function toBase64Url(b: Uint8Array): string {
  return toBase64(b).replace(/\+/g, "-").replace(/\//g, "_");
}

export function toBase64UrlNoPad(b: Uint8Array): string {
  return toBase64Url(b).replace(/=+$/, "");
}

const STD = /^[A-Za-z0-9+/]*={0,2}$/;
const URLSAFE = /^[A-Za-z0-9_-]*={0,2}$/;

function decode(s: string): Uint8Array<ArrayBuffer> | null {
  const unpadded = s.replace(/=+$/, "");
  if (unpadded.length % 4 === 1) return null;
  // Padding, when present, must be exactly what the length requires.
  if (s.length !== unpadded.length && s.length % 4 !== 0) return null;
  try {
    const bin = atob(unpadded + "=".repeat((4 - (unpadded.length % 4)) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/** Standard alphabet; padding optional. Null on any invalid input. */
export function fromBase64(s: string): Uint8Array<ArrayBuffer> | null {
  return STD.test(s) ? decode(s) : null;
}

/** URL-safe alphabet; padding optional. Null on any invalid input. */
export function fromBase64Url(s: string): Uint8Array<ArrayBuffer> | null {
  return URLSAFE.test(s) ? decode(s.replace(/-/g, "+").replace(/_/g, "/")) : null;
}

/**
 * Compares two byte strings without an early exit on the first difference.
 * The length is not secret (MACs and signatures have fixed lengths).
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
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
