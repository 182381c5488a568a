/**
 * @module reset-codes
 * Password-reset codes (user-1.0 §8), stored hashed in D1
 * (`reset_codes`, migrations/0003_reset_codes.sql).
 *
 *  - Format `XXXX-XXXX-XXXX-XXXX` over A–Z0–9 from the CSPRNG (rejection
 *    sampling, so every character is uniform): 36^16 ≈ 2^82.7 codes.
 *  - Only HMAC(server key, "<userid>:<code>") is stored; the code is bound to
 *    its account and a copy of the table is useless.
 *  - Lifetime RESET_CODE_TTL seconds; expired rows are treated as absent and
 *    purged on the next write.
 *  - Single use: {@link consumeResetCode} deletes the row in the same
 *    statement that checks it, so two concurrent uses cannot both succeed.
 *  - Deviation from the reference (which re-sent the same code while one was
 *    pending): a hash cannot be re-sent, so each request issues a new code;
 *    the newest {@link RESET_CODES_PER_ACCOUNT} stay valid, so the link of
 *    an earlier e-mail still works when a user asked twice.
 *  - Verification compares the exact code (case-sensitive); surrounding
 *    whitespace is ignored (codes are copied from e-mails).
 */
import { StorageUnavailable } from "../storage/stub";
import { hex, hmac, serverKey } from "./secrets";

export const RESET_CODES_PER_ACCOUNT = 3;
export const RESET_CODE_FORMAT = /^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

const SQL = {
  insert: `INSERT INTO reset_codes (userid, code_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)`,
  purgeExpired: `DELETE FROM reset_codes WHERE expires_at <= ?1`,
  keepNewest: `DELETE FROM reset_codes WHERE userid = ?1 AND rowid NOT IN
                 (SELECT rowid FROM reset_codes WHERE userid = ?1 ORDER BY created_at DESC, rowid DESC LIMIT ?2)`,
  consume: `DELETE FROM reset_codes WHERE userid = ?1 AND code_hash = ?2 AND expires_at > ?3`,
  clear: `DELETE FROM reset_codes WHERE userid = ?1`,
} as const;

/** A fresh code from the CSPRNG. */
export function generateResetCode(): string {
  const chars: string[] = [];
  while (chars.length < 16) {
    for (const b of crypto.getRandomValues(new Uint8Array(32))) {
      // 252 = 7 × 36: bytes ≥ 252 are dropped so that b % 36 is uniform.
      if (b < 252 && chars.length < 16) chars.push(ALPHABET[b % 36] as string);
    }
  }
  return [0, 4, 8, 12].map((i) => chars.slice(i, i + 4).join("")).join("-");
}

async function codeHash(env: Env, userid: number, code: string): Promise<string> {
  return hex(await hmac(await serverKey(env, "reset-codes"), `${userid}:${code}`));
}

function normalise(code: string): string | null {
  const c = code.trim();
  return RESET_CODE_FORMAT.test(c) ? c : null;
}

async function d1<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new StorageUnavailable(err);
  }
}

/** Creates and stores a new code for the account; returns it (the only time it exists in clear). */
export async function issueResetCode(env: Env, userid: number, ttlSeconds: number, now = Date.now()): Promise<string> {
  const code = generateResetCode();
  const h = await codeHash(env, userid, code);
  await d1(() =>
    env.DB.batch([
      env.DB.prepare(SQL.purgeExpired).bind(now),
      env.DB.prepare(SQL.insert).bind(userid, h, now, now + ttlSeconds * 1000),
      env.DB.prepare(SQL.keepNewest).bind(userid, RESET_CODES_PER_ACCOUNT),
    ]),
  );
  return code;
}

/** Uses up `code` if it is valid for this account: true exactly once per code. */
export async function consumeResetCode(env: Env, userid: number, code: string, now = Date.now()): Promise<boolean> {
  const c = normalise(code);
  if (c === null) return false;
  const h = await codeHash(env, userid, c);
  const r = await d1(() => env.DB.prepare(SQL.consume).bind(userid, h, now).run());
  return (r.meta.changes ?? 0) > 0;
}

/** Cancels every pending code of the account (user-1.0 §7.8; also after a successful reset). */
export async function clearResetCodes(env: Env, userid: number): Promise<void> {
  await d1(() => env.DB.prepare(SQL.clear).bind(userid).run());
}
