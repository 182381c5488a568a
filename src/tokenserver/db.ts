/**
 * @module tokenserver/db
 * D1 queries for the tokenserver tables (migrations/0002_tokenserver.sql,
 * tokenserver-1.0 §6–§8). Plain SQL, positional bindings, one mapper.
 */

export const SERVICE_NAME = "sync-1.5";
/** Initial capacity of the self-registered node (reference INIT_NODE_URL default). */
export const SELF_NODE_CAPACITY = 100_000;
/** 2^63 − 1, a retired account (§6). JS rounds it; rows read back compare equal. */
export const MAX_GENERATION = 9223372036854775807;

export interface UserRow {
  uid: number;
  generation: number;
  client_state: string;
  created_at: number;
  replaced_at: number | null;
  nodeid: number;
  keys_changed_at: number | null;
  /** NULL when the node row no longer exists. */
  node: string | null;
}

export interface SelfNode {
  serviceId: number;
  nodeId: number;
}

/**
 * Node self-registration: this Worker is the storage node. Creates the
 * service row and the node row for `nodeUrl` if missing and returns their
 * ids, in one round trip.
 */
export async function ensureSelfNode(db: D1Database, nodeUrl: string): Promise<SelfNode> {
  const res = await db.batch<{ service_id: number; node_id: number }>([
    db.prepare("INSERT OR IGNORE INTO services (service, pattern) VALUES (?1, '{node}/1.5/{uid}')").bind(SERVICE_NAME),
    db
      .prepare(
        `INSERT OR IGNORE INTO nodes (service, node, available, current_load, capacity, downed, backoff)
         SELECT id, ?2, ?3, 0, ?3, 0, 0 FROM services WHERE service = ?1`,
      )
      .bind(SERVICE_NAME, nodeUrl, SELF_NODE_CAPACITY),
    db
      .prepare("SELECT s.id AS service_id, n.id AS node_id FROM services s JOIN nodes n ON n.service = s.id AND n.node = ?2 WHERE s.service = ?1")
      .bind(SERVICE_NAME, nodeUrl),
  ]);
  const row = res[2]?.results[0];
  if (!row) throw new Error("tokenserver: could not register the storage node");
  return { serviceId: row.service_id, nodeId: row.node_id };
}

const USER_ROWS_SQL = `SELECT u.uid, u.generation, u.client_state, u.created_at, u.replaced_at, u.nodeid, u.keys_changed_at, n.node,
              EXISTS (SELECT 1 FROM disabled_sync_users d WHERE d.email = ?1) AS disabled
       FROM users u LEFT JOIN nodes n ON n.id = u.nodeid
       WHERE u.email = ?1 AND u.service = (SELECT id FROM services WHERE service = ?2)
       ORDER BY u.created_at DESC, u.uid DESC LIMIT 20`;

export interface FirstRead {
  /** The service and this node's ids, or null before self-registration. */
  self: SelfNode | null;
  /** §7.1 step 1 rows (none when the service row does not exist yet). */
  rows: UserRow[];
  /** The operator disabled this account (table disabled_sync_users, migration 0004; read with the rows). */
  disabled: boolean;
}

/**
 * The one D1 round trip of a returning user's token request: this node's
 * service/node ids and the user's rows (§7.1 step 1), as one batch. The ids
 * are re-read, not cached per isolate, so a re-created database or a removed
 * node row is seen at once; reading them costs no extra round trip.
 */
export async function loadSelfAndUser(db: D1Database, nodeUrl: string, email: string): Promise<FirstRead> {
  const [selfRes, userRes] = await db.batch<Record<string, unknown>>([
    db
      .prepare("SELECT s.id AS service_id, n.id AS node_id FROM services s JOIN nodes n ON n.service = s.id AND n.node = ?2 WHERE s.service = ?1")
      .bind(SERVICE_NAME, nodeUrl),
    db.prepare(USER_ROWS_SQL).bind(email, SERVICE_NAME),
  ]);
  const s = selfRes?.results[0] as { service_id: number; node_id: number } | undefined;
  const rows = (userRes?.results ?? []) as Array<Record<string, unknown>>;
  return {
    self: s ? { serviceId: s.service_id, nodeId: s.node_id } : null,
    rows: rows.map(({ disabled: _d, ...r }) => r) as unknown as UserRow[],
    // Only an account with rows can be disabled (deleting a user's rows removes the mark too).
    disabled: rows.some((r) => Number(r.disabled) === 1),
  };
}

export interface NewUser {
  serviceId: number;
  nodeId: number;
  email: string;
  generation: number;
  clientState: string;
  keysChangedAt: number | null;
  createdAt: number;
}

/**
 * §8 for a single self-registered node: bump the node's counters and insert
 * the user row. Returns the new uid.
 */
export async function allocateUser(db: D1Database, u: NewUser): Promise<number> {
  const res = await db.batch<{ uid: number }>([
    db.prepare("UPDATE nodes SET current_load = current_load + 1, available = MAX(available - 1, 0) WHERE id = ?1").bind(u.nodeId),
    db
      .prepare(
        `INSERT INTO users (service, email, generation, client_state, created_at, replaced_at, nodeid, keys_changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7) RETURNING uid`,
      )
      .bind(u.serviceId, u.email, u.generation, u.clientState, u.createdAt, u.nodeId, u.keysChangedAt),
  ]);
  const row = res[1]?.results[0];
  if (!row) throw new Error("tokenserver: user insert returned no uid");
  return row.uid;
}

/** §7.1 race recovery: mark the given rows replaced. */
export async function markReplaced(db: D1Database, uids: number[], replacedAt: number): Promise<void> {
  if (uids.length === 0) return;
  await db.batch(uids.map((uid) => db.prepare("UPDATE users SET replaced_at = ?1 WHERE uid = ?2 AND replaced_at IS NULL").bind(replacedAt, uid)));
}

/** §7.3 key change: new row on the same node, then retire every older live row. Returns the new uid. */
export async function replaceUser(db: D1Database, u: NewUser): Promise<number> {
  const res = await db.batch<{ uid: number }>([
    db
      .prepare(
        `INSERT INTO users (service, email, generation, client_state, created_at, replaced_at, nodeid, keys_changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7) RETURNING uid`,
      )
      .bind(u.serviceId, u.email, u.generation, u.clientState, u.createdAt, u.nodeId, u.keysChangedAt),
    db
      .prepare("UPDATE users SET replaced_at = ?3 WHERE service = ?1 AND email = ?2 AND replaced_at IS NULL AND created_at < ?3")
      .bind(u.serviceId, u.email, u.createdAt),
  ]);
  const row = res[0]?.results[0];
  if (!row) throw new Error("tokenserver: user insert returned no uid");
  return row.uid;
}

/** §7.3: move generation / keys_changed_at forward only (guards make races benign). */
export async function updateUser(db: D1Database, serviceId: number, email: string, generation: number, keysChangedAt: number | null): Promise<void> {
  await db
    .prepare(
      `UPDATE users SET generation = ?3, keys_changed_at = ?4
       WHERE service = ?1 AND email = ?2 AND generation <= ?3
         AND COALESCE(keys_changed_at, 0) <= COALESCE(?4, keys_changed_at, 0)
         AND replaced_at IS NULL`,
    )
    .bind(serviceId, email, generation, keysChangedAt)
    .run();
}
