/**
 * @module tokenserver/derive
 * Values the tokenserver derives from a verified request (tokenserver-1.0
 * §3.2, §5, §9.2): X-KeyID parsing, metrics hashes, the token's fxa_kid.
 */
import { fromBase64Url, hmacSha256, toBase64UrlNoPad, toHex, utf8 } from "../auth/encoding";

export type KeyIdResult =
  | { kind: "missing" }
  | { kind: "malformed" }
  | { kind: "ok"; /** null when 0 (treated as absent) */ keysChangedAt: number | null; clientState: string };

/** §3.2: `<keys_changed_at>-<base64url_nopad(client state bytes)>`, split at the first `-`. */
export function parseKeyId(header: string | null | undefined): KeyIdResult {
  if (header === null || header === undefined) return { kind: "missing" };
  const dash = header.indexOf("-");
  if (dash < 0) return { kind: "malformed" };
  const left = header.slice(0, dash);
  const right = header.slice(dash + 1);
  if (!/^\d{1,16}$/.test(left)) return { kind: "malformed" };
  if (right.includes("=")) return { kind: "malformed" };
  const bytes = fromBase64Url(right);
  if (!bytes) return { kind: "malformed" };
  const kca = Number(left);
  if (!Number.isSafeInteger(kca)) return { kind: "malformed" };
  return { kind: "ok", keysChangedAt: kca === 0 ? null : kca, clientState: toHex(bytes) };
}

/** §3.3: X-Client-State syntax. */
export const CLIENT_STATE_RE = /^[a-zA-Z0-9._-]{1,32}$/;

async function hmacHex32(secret: string, msg: string): Promise<string> {
  return toHex(await hmacSha256(utf8(secret), utf8(msg))).slice(0, 32);
}

/** §5: first 32 hex chars of HMAC-SHA256(metrics secret, fxa_uid). */
export function hashedFxaUid(metricsSecret: string, fxaUid: string): Promise<string> {
  return hmacHex32(metricsSecret, fxaUid);
}

/** §5: first 32 hex chars of HMAC-SHA256(metrics secret, hashed_fxa_uid + "none"). */
export function hashedDeviceId(metricsSecret: string, hashedFxaUidValue: string): Promise<string> {
  return hmacHex32(metricsSecret, `${hashedFxaUidValue}none`);
}

/** §9.2: `%013d` of keys_changed_at (or generation) + "-" + base64url_nopad(client state bytes). */
export function formatFxaKid(keysChangedAtOrGeneration: number, clientStateHex: string): string {
  return `${String(keysChangedAtOrGeneration).padStart(13, "0")}-${toBase64UrlNoPad(Uint8Array.fromHex(clientStateHex))}`;
}
