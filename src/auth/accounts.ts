/**
 * @module accounts
 * The D1 `user` table (user-1.0 §6, migrations/0001_accounts.sql): prepared,
 * bound queries mapped to small domain types, credential checking for HTTP
 * Basic with an isolate-level verification cache, and {@link storePassword},
 * the one place a password is set on an existing account. The account
 * operations built on these are in src/accounts/service.ts.
 *
 * Every D1 failure is rethrown as {@link StorageUnavailable}, which the 1.x
 * pipeline renders as 503 with Retry-After (user-1.0 §2, storage-1.1 §14.4).
 */
import { createHmac } from "node:crypto";
import { ACTIVE, DISABLED } from "../storage/access";
import { callStore, rawStoreFor, StorageUnavailable } from "../storage/stub";
import { hashFingerprint } from "./access-gate";
import { getConfig, type Config } from "../config";
import { timingSafeEqual } from "./encoding";
import { hashPassword, needsRehash, verifyPassword } from "./password";

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
  delete: `DELETE FROM "user" WHERE userid = ?1`,
  setStatus: `UPDATE "user" SET accountStatus = ?2 WHERE userid = ?1`,
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
 * Deletes the account row if its hash is still `expectedHash` (the one the
 * request's credentials verified against), so a concurrent password change
 * wins; null deletes unconditionally (an operator's decision). True when a
 * row was deleted. The account's stored data is the caller's
 * (src/accounts/service.ts deletes it first).
 */
export async function deleteAccountRow(env: Env, userid: number, expectedHash: string | null): Promise<boolean> {
  const stmt = expectedHash === null ? env.DB.prepare(SQL.delete).bind(userid) : env.DB.prepare(SQL.deleteIfHash).bind(userid, expectedHash);
  const r = await d1(() => stmt.run());
  forgetUserid(userid);
  return (r.meta.changes ?? 0) > 0;
}

/** Account states of the `accountStatus` column: only {@link ACCOUNT_ACTIVE} may log in. */
export const ACCOUNT_ACTIVE = 1;
export const ACCOUNT_DISABLED = 0;

/**
 * A change of what lets the account in (password hash, status), made so that
 * the store's access record (src/storage/access.ts) never accepts a
 * credential the change revoked: the store's fast path is closed BEFORE the
 * D1 write (if the store cannot be reached, the change fails and nothing is
 * written), and re-opened after it with `after(result)`. If that last step
 * fails the fast path simply stays closed (every request takes the full
 * check), so the change still stands and is reported as made.
 */
async function changeAccess<T>(env: Env, userid: number, write: () => Promise<T>, after: (result: T) => Promise<{ fp: string | null; disabled?: number }>): Promise<T> {
  const store = rawStoreFor(env, { kind: "account", userid, username: "" });
  await callStore(() => store.accessBegin());
  let result: T | undefined;
  try {
    result = await write();
  } finally {
    const change = result === undefined ? { fp: null } : await after(result);
    try {
      await store.accessCommit(change);
    } catch (err) {
      console.error("access record not re-opened after an account change (full checks until it is):", err instanceof Error ? err.message : err);
    }
  }
  return result;
}

/** Sets `accountStatus` (the store's access record first: see {@link changeAccess}); true when the account exists. */
export async function setAccountStatus(env: Env, userid: number, status: number): Promise<boolean> {
  const changed = await changeAccess(
    env,
    userid,
    async () => (await d1(() => env.DB.prepare(SQL.setStatus).bind(userid, status).run())).meta.changes ?? 0,
    async () => ({ fp: null, disabled: status === ACCOUNT_ACTIVE ? ACTIVE : DISABLED }),
  );
  forgetUserid(userid);
  return changed > 0;
}

/** Compare-and-set of the password hash (the store's access record first: {@link changeAccess}). True when the row was updated. */
export async function setPasswordHash(env: Env, userid: number, expectedHash: string, newHash: string): Promise<boolean> {
  return changeAccess(
    env,
    userid,
    async () => ((await d1(() => env.DB.prepare(SQL.setPasswordIfHash).bind(userid, expectedHash, newHash).run())).meta.changes ?? 0) > 0,
    async (ok) => ({ fp: ok ? hashFingerprint(newHash) : null }),
  );
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
 * (user name, H, HMAC-SHA256_K(P)), where K is 32 random bytes drawn once
 * per isolate, held only in its memory and never stored or sent anywhere. Both
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
  /** {@link hashFingerprint} of `hash`: what the store fast path presents. */
  fp: string;
}

export const CACHE_MAX_ENTRIES = 10_000;
export const BAD_MACS_PER_ENTRY = 4;

const cache = new Map<string, CacheEntry>();
/** K: 32 random bytes, drawn on first use (a Worker may not draw random values at start-up) and never stored or sent. */
let macKey: Uint8Array | null = null;

/** HMAC-SHA256_K(password), synchronously (node:crypto; WebCrypto's sign would cost an await per request). */
function passwordMac(password: string): Uint8Array {
  macKey ??= crypto.getRandomValues(new Uint8Array(32));
  return createHmac("sha256", macKey).update(password, "utf8").digest();
}

function entryFor(username: string, userid: number, hash: string): CacheEntry {
  let e = cache.get(username);
  if (!e || e.userid !== userid || e.hash !== hash) {
    e = { userid, hash, good: null, bad: [], fp: hashFingerprint(hash) };
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

/**
 * This isolate's credential cache, seen from outside: how often the KDF ran
 * and the cache answered (tests and benchmarks read these), and `clear()`,
 * which makes the isolate behave as a fresh one.
 */
export const credentialCache = {
  kdfVerifications: 0,
  cacheHits: 0,
  clear(): void {
    cache.clear();
  },
};

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

  const mac = passwordMac(password);
  const entry = entryFor(username, row.userid, stored);
  if (entry.good && timingSafeEqual(entry.good, mac)) {
    credentialCache.cacheHits++;
    return { ok: true, userid: row.userid, hash: stored };
  }
  if (entry.bad.some((b) => timingSafeEqual(b, mac))) {
    credentialCache.cacheHits++;
    return { ok: false };
  }

  credentialCache.kdfVerifications++;
  if (!(await verifyPassword(password, stored))) {
    entry.bad.push(mac);
    if (entry.bad.length > BAD_MACS_PER_ENTRY) entry.bad.shift();
    return { ok: false };
  }
  entry.good = mac;
  if (needsRehash(stored, getConfig(env).pbkdf2Iterations)) ctx.waitUntil(rehash(env, username, row.userid, stored, password));
  return { ok: true, userid: row.userid, hash: stored };
}

async function rehash(env: Env, username: string, userid: number, oldHash: string, password: string): Promise<void> {
  try {
    await storePassword(env, getConfig(env), { userid, username }, oldHash, password);
  } catch (err) {
    console.error("password re-hash failed (the old hash stays valid):", err);
  }
}

/**
 * Sets a new password on an existing account: hashes it at the configured
 * cost, replaces the hash only if it is still `expectedHash` (the one the
 * caller's credentials or reset code were checked against, so a concurrent
 * change wins), and remembers the password for this isolate's cache. The new
 * hash has a fresh salt, so every isolate's cached verification of the old
 * password is void at once. True when the hash was replaced.
 */
export async function storePassword(
  env: Env,
  config: Config,
  account: { userid: number; username: string },
  expectedHash: string,
  password: string,
): Promise<boolean> {
  const hash = await hashPassword(password, config.pbkdf2Iterations);
  if (!(await setPasswordHash(env, account.userid, expectedHash, hash))) return false;
  await rememberPassword(account.username, account.userid, hash, password);
  return true;
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
  rememberGood(username, userid, hash, passwordMac(password));
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
  const mac = passwordMac(password);
  if (!timingSafeEqual(cached.good, mac)) return null;
  const row = await findAccount(env, username);
  if (!row || row.accountStatus !== 1 || row.userid !== cached.userid || row.password !== cached.hash) return null;
  credentialCache.cacheHits++;
  return { ok: true, userid: row.userid };
}

/**
 * The isolate-only half of the store fast path (src/auth/access-gate.ts): when
 * this isolate already verified exactly this password for `username`, the
 * account id and the fingerprint of the hash it verified against, with no D1
 * read and no throttle call. Whether that hash is still current, the account
 * active and unlocked is the store's to say, in the call that serves the
 * request. Null means "not known to be right": the full check decides.
 */
export function rememberedCredential(username: string, password: string): { userid: number; fp: string } | null {
  const entry = cache.get(username);
  if (!entry?.good) return null;
  if (!timingSafeEqual(entry.good, passwordMac(password))) return null;
  credentialCache.cacheHits++;
  return { userid: entry.userid, fp: entry.fp };
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
