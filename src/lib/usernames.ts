/**
 * @module usernames
 * The account-name, password-strength and e-mail rules of User API 1.0
 * (user-1.0 §3, §4.1, §5): how a legacy Sync client turns the account string
 * into a URL user name, how the server converts an e-mail into that name, and
 * which passwords and e-mail addresses are acceptable.
 */

const URL_USERNAME = /^[a-zA-Z0-9._-]+$/;
const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const utf8 = new TextEncoder();

/** RFC 4648 base32 without padding (a 20-byte SHA-1 gives exactly 32 characters). */
export function base32(bytes: Uint8Array): string {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/** lowercase(base32(SHA-1(UTF-8(text)))): the 32-character hashed user name. */
export async function hashName(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", utf8.encode(text));
  return base32(new Uint8Array(digest)).toLowerCase();
}

/**
 * The user name a legacy Sync 1.1 client derives from the typed account
 * string (user-1.0 §3.1): names that are already URL-safe are lowercased,
 * anything else (an e-mail address) is hashed after lowercasing.
 */
export async function clientUsername(account: string): Promise<string> {
  if (URL_USERNAME.test(account)) return account.toLowerCase();
  return hashName(account.toLowerCase());
}

/** Python 2 `urllib.unquote` on bytes: valid `%XX` escapes decoded, anything else kept. */
function percentDecodeBytes(s: string): Uint8Array {
  const src = utf8.encode(s);
  const out: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const b = src[i] as number;
    if (b === 0x25 && i + 2 < src.length) {
      const hex = String.fromCharCode(src[i + 1] as number, src[i + 2] as number);
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        out.push(parseInt(hex, 16));
        i += 2;
        continue;
      }
    }
    out.push(b);
  }
  return new Uint8Array(out);
}

/**
 * IDNA ToASCII of an all-ASCII name, label by label: labels are kept as they
 * are but must be 1-63 characters; only a final empty label (a trailing dot)
 * is allowed. Returns null where Python's `idna` codec raises.
 */
function idnaAscii(name: string): string | null {
  if (name === "") return "";
  const labels = name.split(".");
  for (let i = 0; i < labels.length; i++) {
    const len = (labels[i] as string).length;
    const last = i === labels.length - 1;
    if (len >= 64 || (len === 0 && !last)) return null;
  }
  return name;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The server's e-mail → user name conversion (user-1.0 §3.2). Returns null
 * when the string cannot name an account (no `@` and not URL-safe, or an
 * ASCII label that IDNA refuses); callers treat that as "unknown user" or
 * "does not match".
 *
 * Non-ASCII addresses (where the reference crashes, REF-BUG) are hashed like
 * the client does: lowercase, UTF-8, SHA-1, base32. Percent-escapes that do
 * not decode to UTF-8 leave the string as it was given.
 */
export async function serverUsername(input: string): Promise<string | null> {
  if (!input.includes("@")) return URL_USERNAME.test(input) ? input : null;
  let decoded: string;
  try {
    decoded = strictUtf8.decode(percentDecodeBytes(input));
  } catch {
    decoded = input;
  }
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(decoded)) return hashName(decoded.toLowerCase());
  const at = decoded.indexOf("@");
  const local = idnaAscii(decoded.slice(0, at));
  const domain = idnaAscii(decoded.slice(at + 1));
  if (local === null || domain === null) return null;
  return hashName(`${local}@${domain}`.toLowerCase());
}

/** Python 2 `str.strip()` whitespace on bytes: space, TAB, LF, VT, FF, CR. */
function pyStrip(s: string): string {
  return s.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, "");
}

/** ASCII-only lowercasing, as Python 2 `str.lower()` on UTF-8 bytes. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** Minimum password length in UTF-8 bytes (user-1.0 §4.1). */
export const MIN_PASSWORD_BYTES = 8;

/**
 * `valid_password(username, password)` (user-1.0 §4.1): at least 8 bytes of
 * UTF-8 and not the user name (compared stripped and ASCII-lowercased).
 * No upper limit and no character classes.
 */
export function validPassword(username: string, password: string | null | undefined): boolean {
  if (typeof password !== "string" || password === "") return false;
  if (utf8.encode(password).length < MIN_PASSWORD_BYTES) return false;
  return asciiLower(pyStrip(username)) !== asciiLower(pyStrip(password));
}

/**
 * The reference's e-mail pattern (user-1.0 §5), including its REF-QUIRK of
 * accepting one trailing newline. `[^\n]` stands for Python's `.` (which,
 * unlike JavaScript's, matches CR and the Unicode line separators).
 */
const EMAIL =
  /^(([^<>()[\]\\.,;:\t\n\v\f\r @"]+(\.[^<>()[\]\\.,;:\t\n\v\f\r @"]+)*)|("[^\n]+"))@(([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))\n?$/;

/**
 * Longest address accepted (RFC 5321's 254, plus the quirk's newline). The
 * reference has no limit (its VARCHAR(64) column was not enforced by SQLite);
 * we refuse absurd bodies rather than store them.
 */
export const MAX_EMAIL_LENGTH = 255;

/** `valid_email` (user-1.0 §5). */
export function validEmail(email: string): boolean {
  return email.length <= MAX_EMAIL_LENGTH && EMAIL.test(email);
}
