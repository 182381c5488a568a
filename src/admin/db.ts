/**
 * @module admin/db
 * D1 queries of the admin API: the Sync 1.1 `user` table and the
 * tokenserver's `users` / `nodes` tables (migrations/0001, 0002), read and
 * changed by the operator. Plain SQL with positional bindings.
 */
import { SERVICE_NAME } from "../tokenserver/db";

export interface AdminAccount {
  userid: number;
  username: string;
  mail: string | null;
  /** 1: active; anything else: disabled. */
  accountStatus: number;
  /** The stored hash string (only ever leaves the server inside an export). */
  password: string | null;
}

export interface AdminTokenUser {
  uid: number;
  email: string;
  generation: number;
  client_state: string;
  created_at: number;
  replaced_at: number | null;
  keys_changed_at: number | null;
  nodeid: number;
  node: string | null;
  /** The operator disabled the account (disabled_sync_users, D1 migration 0004). */
  disabled: boolean;
}

const ACCOUNT_COLS = `userid, username, mail, accountStatus, password`;
const TOKEN_COLS = `u.uid, u.email, u.generation, u.client_state, u.created_at, u.replaced_at, u.keys_changed_at, u.nodeid, n.node,
  EXISTS (SELECT 1 FROM disabled_sync_users d WHERE d.email = u.email) AS disabled`;

function toAccount(r: Record<string, unknown>): AdminAccount {
  return {
    userid: Number(r.userid),
    username: String(r.username),
    mail: r.mail == null ? null : String(r.mail),
    accountStatus: Number(r.accountStatus),
    password: r.password == null ? null : String(r.password),
  };
}

function toTokenUser(r: Record<string, unknown>): AdminTokenUser {
  return {
    uid: Number(r.uid),
    email: String(r.email),
    generation: Number(r.generation),
    client_state: String(r.client_state),
    created_at: Number(r.created_at),
    replaced_at: r.replaced_at == null ? null : Number(r.replaced_at),
    keys_changed_at: r.keys_changed_at == null ? null : Number(r.keys_changed_at),
    nodeid: Number(r.nodeid),
    node: r.node == null ? null : String(r.node),
    disabled: Number(r.disabled ?? 0) === 1,
  };
}

/** Marks a Sync 1.5 account (all of its uids, by e-mail) disabled or enabled for the tokenserver. */
export async function setTokenUserDisabled(db: D1Database, email: string, disabled: boolean): Promise<void> {
  await (disabled
    ? db.prepare(`INSERT INTO disabled_sync_users (email, disabled_at) VALUES (?1, ?2) ON CONFLICT (email) DO NOTHING`).bind(email, Date.now())
    : db.prepare(`DELETE FROM disabled_sync_users WHERE email = ?1`).bind(email)
  ).run();
}

export async function listAccounts(db: D1Database, after: number, limit: number): Promise<AdminAccount[]> {
  const r = await db
    .prepare(`SELECT ${ACCOUNT_COLS} FROM "user" WHERE userid > ?1 ORDER BY userid LIMIT ?2`)
    .bind(after, limit)
    .all<Record<string, unknown>>();
  return r.results.map(toAccount);
}

export async function countAccounts(db: D1Database): Promise<number> {
  return Number((await db.prepare(`SELECT COUNT(*) AS n FROM "user"`).first<{ n: number }>())?.n ?? 0);
}

export async function accountByName(db: D1Database, username: string): Promise<AdminAccount | null> {
  const r = await db.prepare(`SELECT ${ACCOUNT_COLS} FROM "user" WHERE username = ?1`).bind(username).first<Record<string, unknown>>();
  return r ? toAccount(r) : null;
}

export async function setAccountStatus(db: D1Database, userid: number, status: number): Promise<void> {
  await db.prepare(`UPDATE "user" SET accountStatus = ?2 WHERE userid = ?1`).bind(userid, status).run();
}

export async function deleteAccountRow(db: D1Database, userid: number): Promise<void> {
  await db.batch([
    db.prepare(`DELETE FROM reset_codes WHERE userid = ?1`).bind(userid),
    db.prepare(`DELETE FROM "user" WHERE userid = ?1`).bind(userid),
  ]);
}

/** Inserts an imported account; null when the name is taken. */
export async function insertAccount(
  db: D1Database,
  a: { username: string; password: string | null; mail: string | null; accountStatus: number },
): Promise<number | null> {
  const r = await db
    .prepare(
      `INSERT INTO "user" (username, password, mail, accountStatus) VALUES (?1, ?2, ?3, ?4)
       ON CONFLICT (username) DO NOTHING RETURNING userid`,
    )
    .bind(a.username, a.password, a.mail, a.accountStatus)
    .first<{ userid: number }>();
  return r ? Number(r.userid) : null;
}

export async function listTokenUsers(db: D1Database, after: number, limit: number): Promise<AdminTokenUser[]> {
  const r = await db
    .prepare(`SELECT ${TOKEN_COLS} FROM users u LEFT JOIN nodes n ON n.id = u.nodeid WHERE u.uid > ?1 ORDER BY u.uid LIMIT ?2`)
    .bind(after, limit)
    .all<Record<string, unknown>>();
  return r.results.map(toTokenUser);
}

export async function countTokenUsers(db: D1Database): Promise<number> {
  return Number((await db.prepare(`SELECT COUNT(*) AS n FROM users`).first<{ n: number }>())?.n ?? 0);
}

export async function tokenUserByUid(db: D1Database, uid: number): Promise<AdminTokenUser | null> {
  const r = await db
    .prepare(`SELECT ${TOKEN_COLS} FROM users u LEFT JOIN nodes n ON n.id = u.nodeid WHERE u.uid = ?1`)
    .bind(uid)
    .first<Record<string, unknown>>();
  return r ? toTokenUser(r) : null;
}

/** The current (not replaced) row of an e-mail, if any. */
export async function currentTokenUser(db: D1Database, email: string): Promise<AdminTokenUser | null> {
  const r = await db
    .prepare(
      `SELECT ${TOKEN_COLS} FROM users u LEFT JOIN nodes n ON n.id = u.nodeid
       WHERE u.email = ?1 AND u.replaced_at IS NULL ORDER BY u.created_at DESC, u.uid DESC LIMIT 1`,
    )
    .bind(email)
    .first<Record<string, unknown>>();
  return r ? toTokenUser(r) : null;
}

export async function deleteTokenUserRow(db: D1Database, uid: number): Promise<void> {
  await db.batch([
    db.prepare(`UPDATE nodes SET current_load = MAX(current_load - 1, 0) WHERE id = (SELECT nodeid FROM users WHERE uid = ?1)`).bind(uid),
    // A deleted user starts over: a disable mark goes with its last row.
    db
      .prepare(
        `DELETE FROM disabled_sync_users WHERE email = (SELECT email FROM users WHERE uid = ?1)
           AND NOT EXISTS (SELECT 1 FROM users o WHERE o.email = disabled_sync_users.email AND o.uid <> ?1)`,
      )
      .bind(uid),
    db.prepare(`DELETE FROM users WHERE uid = ?1`).bind(uid),
  ]);
}

/**
 * Inserts an imported tokenserver row on this server's node, keeping `uid`
 * when it is free (otherwise a new one is allocated). Returns the uid.
 */
export async function insertTokenUser(
  db: D1Database,
  nodeId: number,
  serviceId: number,
  u: { uid: number; email: string; generation: number; client_state: string; created_at: number; keys_changed_at: number | null },
): Promise<number> {
  const taken = await db.prepare(`SELECT 1 AS x FROM users WHERE uid = ?1`).bind(u.uid).first();
  const res = await db.batch<{ uid: number }>([
    db.prepare("UPDATE nodes SET current_load = current_load + 1, available = MAX(available - 1, 0) WHERE id = ?1").bind(nodeId),
    db
      .prepare(
        `INSERT INTO users (uid, service, email, generation, client_state, created_at, replaced_at, nodeid, keys_changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?8) RETURNING uid`,
      )
      .bind(taken ? null : u.uid, serviceId, u.email, u.generation, u.client_state, u.created_at, nodeId, u.keys_changed_at),
  ]);
  const row = res[1]?.results[0];
  if (!row) throw new Error("tokenserver row insert returned no uid");
  return Number(row.uid);
}

export interface NodeRow {
  id: number;
  service: string | null;
  node: string;
  available: number;
  current_load: number;
  capacity: number;
  downed: number;
  backoff: number;
}

export async function listNodes(db: D1Database): Promise<NodeRow[]> {
  const r = await db
    .prepare(
      `SELECT n.id, s.service, n.node, n.available, n.current_load, n.capacity, n.downed, n.backoff
       FROM nodes n LEFT JOIN services s ON s.id = n.service ORDER BY n.id`,
    )
    .all<NodeRow>();
  return r.results;
}

/** Applied D1 migrations (wrangler's `d1_migrations` table), oldest first. */
export async function d1Migrations(db: D1Database): Promise<string[]> {
  try {
    const r = await db.prepare(`SELECT name FROM d1_migrations ORDER BY id`).all<{ name: string }>();
    return r.results.map((x) => String(x.name));
  } catch {
    return [];
  }
}

export { SERVICE_NAME };
