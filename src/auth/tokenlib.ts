/**
 * @module tokenlib
 * Tokenserver tokens ("Hawk id") and their Hawk keys, compatible with
 * tokenlib 2.x / SHA-256 as minted by the reference (tokenserver-1.0 §9).
 *
 *   token = base64url_padded(UTF-8(JSON payload) || HMAC-SHA256(signingKey, payload))
 *   signingKey = HKDF(master secret, no salt, "services.mozilla.com/tokenlib/v1/signing")
 *   key = base64url_padded(HKDF(master secret, salt, "…/derive/" + token))
 *
 * The master secret's UTF-8 bytes are used directly (§9.1). Verification
 * accepts a list of secrets (rotation); minting always uses the first.
 */
import { fromBase64Url, hkdfSha256, hmacSha256, timingSafeEqual, toBase64Url, toHex, utf8 } from "./encoding";

const SIGNING_INFO = "services.mozilla.com/tokenlib/v1/signing";
const DERIVE_INFO = "services.mozilla.com/tokenlib/v1/derive/";
const SIG_LEN = 32;

/** Token payload fields (tokenserver-1.0 §9.2). Unknown fields are kept in `extra`-free form: ignored. */
export interface TokenPayload {
  uid: number;
  node: string;
  /** Seconds since the epoch; Python-minted test tokens carry a float. */
  expires: number;
  salt: string;
  fxa_uid?: string;
  fxa_kid?: string;
  hashed_fxa_uid?: string;
  hashed_device_id?: string;
  tokenserver_origin?: string;
}

export type TokenParseResult =
  | { ok: true; payload: TokenPayload; /** the secret whose signature matched */ secret: string }
  | { ok: false; reason: "bad-encoding" | "too-short" | "bad-signature" | "bad-payload" };

const signingKeys = new Map<string, Promise<CryptoKey>>();

/** HMAC key for token signatures, derived once per secret per isolate (hawk §9). */
export function signingKey(secret: string): Promise<CryptoKey> {
  let k = signingKeys.get(secret);
  if (!k) {
    k = (async () => {
      const raw = await hkdfSha256(utf8(secret), new Uint8Array(0), utf8(SIGNING_INFO), 32);
      return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    })();
    signingKeys.set(secret, k);
    // Keep the cache bounded if a caller passes many distinct secrets.
    if (signingKeys.size > 16) signingKeys.delete(signingKeys.keys().next().value as string);
  }
  return k;
}

/** Signs already-serialized payload JSON (the signature covers these exact bytes, §9.2). */
export async function encodeToken(payloadJson: string, secret: string): Promise<string> {
  const body = utf8(payloadJson);
  const sig = await hmacSha256(await signingKey(secret), body);
  const all = new Uint8Array(body.length + sig.length);
  all.set(body, 0);
  all.set(sig, body.length);
  return toBase64Url(all);
}

/** The Hawk key string for a token (§9.4): 44 chars of padded base64url. */
export async function deriveHawkKey(token: string, salt: string, secret: string): Promise<string> {
  const derived = await hkdfSha256(utf8(secret), utf8(salt), utf8(DERIVE_INFO + token), 32);
  return toBase64Url(derived);
}

/** 6 lowercase hex chars from 3 random bytes (§9.2). */
export function randomSalt(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(3)));
}

/**
 * Mints a token and its Hawk key. Field order of the JSON follows the
 * object's insertion order; pass the reference order (§9.2) for byte
 * compatibility with §12.
 */
export async function makeToken(payload: TokenPayload, secret: string): Promise<{ token: string; key: string }> {
  const token = await encodeToken(JSON.stringify(payload), secret);
  return { token, key: await deriveHawkKey(token, payload.salt, secret) };
}

const OPTIONAL_STRINGS = ["fxa_uid", "fxa_kid", "hashed_fxa_uid", "hashed_device_id", "tokenserver_origin"] as const;

function toPayload(v: unknown): TokenPayload | null {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const { uid, node, expires, salt } = o;
  if (typeof uid !== "number" || !Number.isSafeInteger(uid) || uid < 0) return null;
  if (typeof node !== "string" || typeof salt !== "string") return null;
  if (typeof expires !== "number" || !Number.isFinite(expires)) return null;
  const p: TokenPayload = { uid, node, expires, salt };
  for (const f of OPTIONAL_STRINGS) {
    const x = o[f];
    if (x === undefined || x === null) continue;
    if (typeof x !== "string") return null;
    p[f] = x;
  }
  return p;
}

/**
 * Decodes and authenticates a token (§9.5 steps 1–3). Tries each secret in
 * turn; the signature is compared in constant time. Expiry is not checked
 * here (see {@link isExpired}).
 */
export async function parseToken(token: string, secrets: readonly string[]): Promise<TokenParseResult> {
  const raw = fromBase64Url(token);
  if (!raw) return { ok: false, reason: "bad-encoding" };
  if (raw.length <= SIG_LEN) return { ok: false, reason: "too-short" };
  const body = raw.subarray(0, raw.length - SIG_LEN);
  const sig = raw.subarray(raw.length - SIG_LEN);
  for (const secret of secrets) {
    const expected = await hmacSha256(await signingKey(secret), body);
    if (!timingSafeEqual(expected, sig)) continue;
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body));
    } catch {
      return { ok: false, reason: "bad-payload" };
    }
    const payload = toPayload(json);
    if (!payload) return { ok: false, reason: "bad-payload" };
    return { ok: true, payload, secret };
  }
  return { ok: false, reason: "bad-signature" };
}

/** Reference rule: expired iff round(expires) <= now (seconds), §9.5 step 4. */
export function isExpired(payload: TokenPayload, nowSeconds: number): boolean {
  return Math.round(payload.expires) <= nowSeconds;
}
