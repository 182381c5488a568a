/**
 * @module basic
 * HTTP Basic credentials exactly as the 1.1 reference reads them
 * (storage-1.1 §4 steps 2-4), parsed into a tagged union.
 */

export type BasicCredentials =
  | { kind: "absent" }
  | { kind: "malformed" }
  /** Decoded, but the password is not valid UTF-8 (plain 401, no detail). */
  | { kind: "bad-encoding" }
  | { kind: "present"; user: string; password: string };

const ALPHABET_ONLY = /^[A-Za-z0-9+/=]*$/;

/**
 * Lenient base64 like Python's b64decode without validation: characters
 * outside the alphabet are dropped; wrong padding is an error.
 */
export function lenientBase64(text: string): Uint8Array | null {
  // What every client sends (nothing to drop) is read as it is.
  const cleaned = ALPHABET_ONLY.test(text) ? text : text.replace(/[^A-Za-z0-9+/=]/g, "");
  const data = cleaned.replace(/=+$/, "");
  if (data.includes("=")) return null;
  if (data.length % 4 === 1) return null;
  const padded = cleaned.length % 4 === 0 ? cleaned : null;
  if (padded === null) return null;
  try {
    return Uint8Array.fromBase64(padded);
  } catch {
    return null;
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Longest Authorization header read (name and password of any real account fit many times over). */
export const MAX_BASIC_HEADER = 4096;

export function parseBasic(header: string | null | undefined): BasicCredentials {
  if (header === null || header === undefined) return { kind: "absent" };
  if (header.length > MAX_BASIC_HEADER) return { kind: "malformed" };
  if (!header.startsWith("Basic ")) return { kind: "malformed" };
  const bytes = lenientBase64(header.slice(6).trim());
  if (!bytes) return { kind: "malformed" };
  const colon = bytes.indexOf(0x3a);
  if (colon < 0) return { kind: "malformed" };
  // The user name is compared byte for byte with an ASCII path segment, so
  // reading it as Latin-1 is exact; the password must be UTF-8 (§4 step 7).
  const user = String.fromCharCode(...bytes.subarray(0, colon));
  let password: string;
  try {
    password = strictUtf8.decode(bytes.subarray(colon + 1));
  } catch {
    return { kind: "bad-encoding" };
  }
  return { kind: "present", user, password };
}
