/**
 * @module accounts
 * The D1 `user` table (user-1.0 §6, migrations/0001_accounts.sql): prepared,
 * bound queries mapped to small domain types, and credential checking for
 * HTTP Basic with an isolate-level verification cache.
 *
 * Every D1 failure is rethrown as {@link StorageUnavailable}, which the 1.x
 * pipeline renders as 503 with Retry-After (user-1.0 §2, storage-1.1 §14.4).
 */
import { StorageUnavailable } from "../storage/stub";
import { getConfig } from "../config";
import { hashPassword, needsRehash, timingSafeEqualBytes, verifyPassword } from "./password";

// ---------------------------------------------------------------------------
// Queries

export interface AccountRow {
  userid: number;
  username: string;
  /** Stored hash string (src/auth/password.ts); null only in hand-made rows, which never verify. */
  password: string | null;
  accountStatus: number;
  mail: string | null;
}

const SQL = {
  byName: `SELECT userid, username, password, accountStatus, mail FROM "user" WHERE username = ?1`,
  exists: `SELECT 1 AS one FROM "user" WHERE username = ?1`,
  insert: `INSERT INTO "user" (username, password, mail, accountStatus) VALUES (?1, ?2, ?3, 1)
           ON CONFLICT (username) DO NOTHING RETURNING userid`,
  deleteIfHash: `DELETE FROM "user" WHERE userid = ?1 AND password = ?2`,
  setPasswordIfHash: `UPDATE "user" SET password = ?3 WHERE userid = ?1 AND password = ?2`,
  setMailIfHash: `UPDATE "user" SET mail = ?3 WHERE userid = ?1 AND password = ?2`,
} as const;

async function d1<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new StorageUnavailable(err);
  }
}

function toAccount(r: Record<string, unknown>): AccountRow {
  return {
    userid: Number(r.userid),
    username: String(r.username),
    password: r.password === null || r.password === undefined ? null : String(r.password),
    accountStatus: Number(r.accountStatus),
    mail: r.mail === null || r.mail === undefined ? null : String(r.mail),
  };
}

export async function findAccount(env: Env, username: string): Promise<AccountRow | null> {
  const row = await d1(() => env.DB.prepare(SQL.byName).bind(username).first<Record<string, unknown>>());
  return row ? toAccount(row) : null;
}

/** user-1.0 §7.1: exact, case-sensitive lookup. */
export async function usernameExists(env: Env, username: string): Promise<boolean> {
  const row = await d1(() => env.DB.prepare(SQL.exists).bind(username).first());
  return row !== null;
}

/** Inserts an active account; null when the name is already taken (also under a race). */
export async function createAccount(env: Env, username: string, passwordHash: string, mail: string): Promise<number | null> {
  const row = await d1(() =>
    env.DB.prepare(SQL.insert).bind(username, passwordHash, mail).first<{ userid: number }>(),
  );
  return row ? Number(row.userid) : null;
}

/**
 * Deletes the account if its hash is still `expectedHash` (the one the
 * request's credentials verified against), so a concurrent password change
 * wins. True when a row was deleted.
 */
export async function deleteAccount(env: Env, userid: number, expectedHash: string): Promise<boolean> {
  const r = await d1(() => env.DB.prepare(SQL.deleteIfHash).bind(userid, expectedHash).run());
  forgetUserid(userid);
  return (r.meta.changes ?? 0) > 0;
}

/** Compare-and-set of the password hash. True when the row was updated. */
export async function setPasswordHash(env: Env, userid: number, expectedHash: string, newHash: string): Promise<boolean> {
  const r = await d1(() => env.DB.prepare(SQL.setPasswordIfHash).bind(userid, expectedHash, newHash).run());
  return (r.meta.changes ?? 0) > 0;
}

/** Stores a new e-mail if the password hash is still `expectedHash`. */
export async function setMail(env: Env, userid: number, expectedHash: string, mail: string): Promise<boolean> {
  const r = await d1(() => env.DB.prepare(SQL.setMailIfHash).bind(userid, expectedHash, mail).run());
  return (r.meta.changes ?? 0) > 0;
}

// ---------------------------------------------------------------------------
// Credential check with an isolate-level verification cache

/**
 * Remembered outcomes of the slow password check, per user name.
 *
 * Why: legacy Sync clients send Basic credentials on every request, and one
 * PBKDF2 verification at 100000 iterations costs tens of milliseconds of CPU
 * (see test/auth/kdf-cost.test.ts), more than the whole Free-plan budget.
 *
 * What is cached: `verifyPassword(P, H)` is a pure function of the presented
 * password P and the stored hash string H. The cache memoizes it, keyed by
 * (user name, H, HMAC-SHA256_K(P)), where K is a random, non-extractable key
 * generated once per isolate and never stored or sent anywhere. Both
 * outcomes are memoized: `good` holds the MAC of the password that verified,
 * `bad` a few MACs of passwords that did not (so a device still sending an
 * old password after a change costs one HMAC per retry, not one KDF).
 *
 * Why it is as strong as checking every time:
 *  - The D1 row is read on every request; the cache is only consulted when
 *    the row's CURRENT hash string equals the cached H and its userid the
 *    cached one. A password change always writes a new H (fresh salt), so it
 *    takes effect at once on every isolate; deletion, `accountStatus` ≠ 1
 *    and re-creation under the same name (new userid, new H) likewise.
 *  - A hit requires HMAC_K(P) to equal, in constant time, the MAC of a
 *    password that verified against that very H. Without K, HMAC collisions
 *    or forgeries are infeasible, so a hit means P is that password.
 *  - No password is kept: only MACs under a key that lives and dies with the
 *    isolate. Someone able to read the isolate's memory could read K, but
 *    could equally read passwords in flight; nothing usable is persisted.
 *  - D1 reads go to the primary (no read-replica sessions are used), so the
 *    row read is current. If replicas are ever enabled for this table, the
 *    auth lookup must use a "first-primary" session.
 *  - Bounded: at most {@link CACHE_MAX_ENTRIES} users (least recently used
 *    evicted) and {@link BAD_MACS_PER_ENTRY} wrong passwords per user.
 */
interface CacheEntry {
  userid: number;
  hash: string;
  good: Uint8Array | null;
  bad: Uint8Array[];
}

export const CACHE_MAX_ENTRIES = 10_000;
export const BAD_MACS_PER_ENTRY = 4;

const cache = new Map<string, CacheEntry>();
let macKey: Promise<CryptoKey> | null = null;

const utf8 = new TextEncoder();

function isolateMacKey(): Promise<CryptoKey> {
  macKey ??= crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]) as Promise<CryptoKey>;
  return macKey;
}

async function passwordMac(password: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", await isolateMacKey(), utf8.encode(password)));
}

function entryFor(username: string, userid: number, hash: string): CacheEntry {
  let e = cache.get(username);
  if (!e || e.userid !== userid || e.hash !== hash) {
    e = { userid, hash, good: null, bad: [] };
  }
  cache.delete(username); // re-insert: Map order is our LRU order
  cache.set(username, e);
  while (cache.size > CACHE_MAX_ENTRIES) {
    const oldest = cache.keys().next().value as string;
    cache.delete(oldest);
  }
  return e;
}

function forgetUserid(userid: number): void {
  for (const [name, e] of cache) if (e.userid === userid) cache.delete(name);
}

/** Test hook: drops every cached verification of this isolate. */
export function clearCredentialCache(): void {
  cache.clear();
}

/** Number of KDF verifications this isolate ran (for tests and benchmarks). */
export const authStats = { kdfVerifications: 0, cacheHits: 0 };

export type VerifiedAccount = { ok: true; userid: number; hash: string } | { ok: false };

/**
 * Verifies user name + password against the current D1 row (user must exist,
 * `accountStatus` must be exactly 1, hash must verify), using the cache
 * described above. On a successful check of a hash weaker than the current
 * parameters, the password is re-hashed and stored (compare-and-set, after
 * the response via `ctx.waitUntil`). Returns the hash string the password
 * verified against, for compare-and-set updates by the caller.
 */
export async function verifyCredentials(
  env: Env,
  ctx: ExecutionContext,
  username: string,
  password: string,
): Promise<VerifiedAccount> {
  const row = await findAccount(env, username);
  if (!row || row.accountStatus !== 1 || row.password === null) {
    cache.delete(username);
    return { ok: false };
  }
  const stored = row.password;

  const mac = await passwordMac(password);
  const entry = entryFor(username, row.userid, stored);
  if (entry.good && timingSafeEqualBytes(entry.good, mac)) {
    authStats.cacheHits++;
    return { ok: true, userid: row.userid, hash: stored };
  }
  if (entry.bad.some((b) => timingSafeEqualBytes(b, mac))) {
    authStats.cacheHits++;
    return { ok: false };
  }

  authStats.kdfVerifications++;
  if (!(await verifyPassword(password, stored))) {
    entry.bad.push(mac);
    if (entry.bad.length > BAD_MACS_PER_ENTRY) entry.bad.shift();
    return { ok: false };
  }
  entry.good = mac;
  if (needsRehash(stored, getConfig(env).pbkdf2Iterations)) ctx.waitUntil(rehash(env, username, row.userid, stored, password, mac));
  return { ok: true, userid: row.userid, hash: stored };
}

async function rehash(env: Env, username: string, userid: number, oldHash: string, password: string, mac: Uint8Array): Promise<void> {
  try {
    const newHash = await hashPassword(password, getConfig(env).pbkdf2Iterations);
    if (await setPasswordHash(env, userid, oldHash, newHash)) rememberGood(username, userid, newHash, mac);
  } catch (err) {
    console.error("password re-hash failed (the old hash stays valid):", err);
  }
}

function rememberGood(username: string, userid: number, hash: string, mac: Uint8Array): void {
  entryFor(username, userid, hash).good = mac;
}

/**
 * Records that `password` is the password of the freshly written `hash`, so
 * the next request after a password change or account creation is a cache
 * hit instead of a KDF run.
 */
export async function rememberPassword(username: string, userid: number, hash: string, password: string): Promise<void> {
  rememberGood(username, userid, hash, await passwordMac(password));
}

/**
 * The cheap half of {@link verifyCredentials}: succeeds only when this
 * isolate already verified exactly this password against the account's
 * current hash (one D1 read and one HMAC, no KDF). Null means "not known to
 * be right": the caller must do the full, throttled check. Lets the steady
 * stream of a client's requests skip the login throttle without letting a
 * single guess skip it (a guess is never a cached good password).
 */
export async function cachedLogin(env: Env, username: string, password: string): Promise<{ ok: true; userid: number } | null> {
  const cached = cache.get(username);
  if (!cached?.good) return null;
  const mac = await passwordMac(password);
  if (!timingSafeEqualBytes(cached.good, mac)) return null;
  const row = await findAccount(env, username);
  if (!row || row.accountStatus !== 1 || row.userid !== cached.userid || row.password !== cached.hash) return null;
  authStats.cacheHits++;
  return { ok: true, userid: row.userid };
}

/** The check behind HTTP Basic on every 1.x route (imported by src/routes/pipeline-1x.ts). */
export async function authenticateAccount(
  env: Env,
  ctx: ExecutionContext,
  username: string,
  password: string,
): Promise<{ ok: true; userid: number } | { ok: false }> {
  const r = await verifyCredentials(env, ctx, username, password);
  return r.ok ? { ok: true, userid: r.userid } : { ok: false };
}
