/**
 * @module password
 * Password hashes at rest (the `password` column of the D1 `user` table,
 * user-1.0 §4.2, §6). Every stored value names its own algorithm and
 * parameters, so the cost can be raised later without invalidating old rows.
 *
 * Written (always):
 *   `{PBKDF2-SHA256}<iterations>$<salt>$<hash>` — PBKDF2-HMAC-SHA256 from
 *   WebCrypto, 16 random salt bytes, 32-byte output, salt and hash in
 *   standard base64 with padding. 92 characters at 100000 iterations.
 *
 * Verified for imported server-full accounts:
 *   `{SSHA-256}` base64(SHA-256(P ‖ S) ‖ S) and `{SSHA}` base64(SHA-1(P ‖ S) ‖ S),
 *   S = the last 8 bytes of the decoded blob; the rebuilt string is compared
 *   as a whole, so (as in the reference) a value without a known prefix
 *   falls to the `{SSHA}` rule and can never verify.
 *
 *   `{SSCRYPT}` base64(scrypt(P, S, N=16384, r=8, p=1, dkLen=64) ‖ S), the
 *   format server-full always wrote. WebCrypto has no scrypt, so it is the
 *   runtime's `node:crypto` scrypt (nodejs_compat): 16 MiB and 100-250 ms
 *   of CPU (beyond the Free plan's 10 ms), paid once per imported account,
 *   since the first successful login re-hashes to PBKDF2.
 *
 * Any successful verification of a hash weaker than the current parameters
 * ({@link needsRehash}) should be followed by storing {@link hashPassword}'s
 * output (src/auth/accounts.ts does, with a compare-and-set).
 */

import { scrypt as nodeScrypt } from "node:crypto";
import { fromBase64Padded as fromBase64, timingSafeEqual as timingSafeEqualBytes, timingSafeEqualStrings, toBase64 } from "./encoding";

/**
 * Cloudflare's edge refuses PBKDF2 with more than 100000 iterations (a
 * platform cap, not configurable; local workerd does not enforce it, so we
 * enforce it ourselves), so this is both the current cost and the largest
 * one a deployed Worker can verify.
 */
export const PBKDF2_MAX_ITERATIONS = 100_000;
export const PBKDF2_ITERATIONS = 100_000;
const SALT_BYTES = 16;
const HASH_BITS = 256;

const utf8 = new TextEncoder();

async function pbkdf2(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", utf8.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, HASH_BITS);
  return new Uint8Array(bits);
}

/** Hashes a password with the current parameters. */
export async function hashPassword(password: string, iterations: number = PBKDF2_ITERATIONS): Promise<string> {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > PBKDF2_MAX_ITERATIONS) {
    throw new RangeError(`PBKDF2 iterations must be 1..${PBKDF2_MAX_ITERATIONS}`);
  }
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await pbkdf2(password, salt, iterations);
  return `{PBKDF2-SHA256}${iterations}$${toBase64(salt)}$${toBase64(hash)}`;
}

const SSCRYPT_SALT_BYTES = 8;

/** scrypt (RFC 7914) from the runtime's `node:crypto`; `maxmem` leaves room for N=16384, r=8 (16 MiB). */
export function scrypt(password: string, salt: Uint8Array, N: number, r: number, p: number, dkLen: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    nodeScrypt(utf8.encode(password), salt, dkLen, { N, r, p, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(new Uint8Array(key.buffer, key.byteOffset, key.byteLength)),
    );
  });
}

async function verifySscrypt(password: string, stored: string): Promise<boolean> {
  const blob = fromBase64(stored.slice("{SSCRYPT}".length));
  if (!blob || blob.length !== 64 + SSCRYPT_SALT_BYTES) return false;
  const salt = blob.slice(blob.length - SSCRYPT_SALT_BYTES);
  const derived = await scrypt(password, salt, 16384, 8, 1, 64);
  const rebuilt = new Uint8Array(derived.length + salt.length);
  rebuilt.set(derived);
  rebuilt.set(salt, derived.length);
  return timingSafeEqualStrings(`{SSCRYPT}${toBase64(rebuilt)}`, stored);
}

const PBKDF2_FORMAT = /^\{PBKDF2-SHA256\}([1-9][0-9]{0,8})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

export type HashScheme = "pbkdf2-sha256" | "ssha-256" | "ssha" | "sscrypt";

/** Which rule verifies this stored value (anything unknown is `{SSHA}`, as in the reference). */
export function hashScheme(stored: string): HashScheme {
  if (stored.startsWith("{PBKDF2-SHA256}")) return "pbkdf2-sha256";
  if (stored.startsWith("{SSCRYPT}")) return "sscrypt";
  if (stored.startsWith("{SSHA-256}")) return "ssha-256";
  return "ssha";
}

/** True when the stored hash is weaker than what {@link hashPassword} writes now. */
export function needsRehash(stored: string, iterations: number = PBKDF2_ITERATIONS): boolean {
  const m = PBKDF2_FORMAT.exec(stored);
  return !m || Number(m[1]) < iterations;
}

async function verifySalted(password: string, stored: string, prefix: string, digest: "SHA-1" | "SHA-256"): Promise<boolean> {
  const blob = fromBase64(stored.startsWith(prefix) ? stored.slice(prefix.length) : stored);
  if (!blob || blob.length < 8) return false;
  const salt = blob.subarray(blob.length - 8);
  const pw = utf8.encode(password);
  const input = new Uint8Array(pw.length + salt.length);
  input.set(pw);
  input.set(salt, pw.length);
  const h = new Uint8Array(await crypto.subtle.digest(digest, input));
  const rebuilt = new Uint8Array(h.length + salt.length);
  rebuilt.set(h);
  rebuilt.set(salt, h.length);
  return timingSafeEqualStrings(prefix + toBase64(rebuilt), stored);
}

/**
 * Checks a password against a stored hash of any supported scheme, in
 * constant time with respect to the hash bytes. Never throws for a malformed
 * or unsupported stored value: it simply does not verify.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  switch (hashScheme(stored)) {
    case "pbkdf2-sha256": {
      const m = PBKDF2_FORMAT.exec(stored);
      if (!m) return false;
      const iterations = Number(m[1]);
      const salt = fromBase64(m[2] as string);
      const expected = fromBase64(m[3] as string);
      // Above the platform cap the runtime cannot compute it: refuse rather than throw.
      if (!salt || !expected || expected.length !== HASH_BITS / 8 || iterations > PBKDF2_MAX_ITERATIONS) return false;
      return timingSafeEqualBytes(await pbkdf2(password, salt, iterations), expected);
    }
    case "ssha-256":
      return verifySalted(password, stored, "{SSHA-256}", "SHA-256");
    case "ssha":
      return verifySalted(password, stored, "{SSHA}", "SHA-1");
    case "sscrypt":
      return verifySscrypt(password, stored);
  }
}
