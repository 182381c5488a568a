/**
 * @module transfer
 * Operator-level operations on one user's store, over the {@link SqlPort}:
 * export in bounded pages, all-or-nothing import, statistics and an
 * immediate purge of expired records. The line format these feed is
 * documented in docs/export-format.md; the Worker side (streaming, the
 * account and tokenserver rows) is src/admin/.
 *
 * Export: {@link exportState} (collections, clock, schema version) and then
 * {@link exportPage} repeatedly, each a short transaction over a key range
 * after a cursor, so memory is bounded by the page whatever the store's size.
 * A Storage 1.1 store's records come in first-insertion order (`bso.seq`,
 * its default listing order), so an import in file order reproduces it; a
 * 1.5 store's collection by collection, by id.
 *
 * Import: records are staged into `transfer_bso` by {@link importStage}
 * (one transaction per chunk, checked), then {@link importCommit} replaces
 * the user's records, collections and pending batches with the staged ones
 * in ONE synchronous transaction. Until that commit nothing the user sees has
 * changed; a failed or abandoned import only leaves staging rows behind,
 * which the next import or {@link importAbort} drops. Timestamps are kept as
 * they were exported; the store's clock (`meta.last_modified`) and, for 1.5,
 * the storage tombstone never move backwards.
 */
import type { SqlPort, SqlValue } from "./sql";
import { hasLoneSurrogate } from "../protocol/v1_1";
import { purgeExpiredRecords } from "./counters";
import { PROFILE_1_1 } from "./profile";
import { RECORD_FIELD_DEFS, RECORD_FIELD_NAMES, RECOUNT } from "./schema";
/** Which protocol a store serves (its profile, src/storage/profile.ts). */
type Dialect = "1.1" | "1.5";

/** One record as exported and imported (times in ms; payload opaque). */
export interface TransferRecord {
  collection: string;
  id: string;
  payload: string | null;
  sortindex: number | null;
  modified: number | null;
  /** ms; null: never expires. */
  expiry: number | null;
  parentid: string | null;
  predecessorid: string | null;
}

export interface TransferCollection {
  name: string;
  /** The collection's 1.5 timestamp (0: never written by 1.5). */
  modified: number;
}

/** Store-level state exported before the records. */
export interface StoreState {
  schemaVersion: number;
  /** meta.last_modified: the latest timestamp any write carried. */
  lastModified: number;
  /** meta.storage_tombstone (1.5). */
  storageTombstone: number;
  collections: TransferCollection[];
}

export interface CollectionStats {
  name: string;
  /** Rows, expired ones included. */
  records: number;
  bytes: number;
  /** Rows already expired (still stored). */
  expired: number;
  /** 1.5 collection timestamp (0: never written by 1.5). */
  modified: number;
  /** Newest record modified, expired included (what 1.1 reports). */
  newest: number | null;
}

export interface StoreStats {
  schemaVersion: number;
  lastModified: number;
  storageTombstone: number;
  records: number;
  bytes: number;
  collections: CollectionStats[];
  pendingBatches: number;
  nextExpiry: number | null;
  /** An unfinished import's staging token, if any. */
  importPending: boolean;
}

/**
 * Where an export page ends: the last record's insertion number in a store
 * that numbers insertions, else its collection and id. Null: the start.
 */
export type ExportCursor = { seq: number } | { collection: string; id: string } | null;

/** Largest payload one row may hold (a Durable Object SQLite row is capped at 2 MB). */
export const MAX_IMPORT_PAYLOAD_BYTES = 1_900_000;
export const MAX_ID_LENGTH = 64;
export const MAX_COLLECTION_LENGTH = 32;

const encoder = new TextEncoder();

const STAGING = [
  `CREATE TABLE IF NOT EXISTS transfer_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
  // seq: file order, which becomes a 1.1 store's insertion order.
  `CREATE TABLE IF NOT EXISTS transfer_bso (
     seq INTEGER PRIMARY KEY,
     ${RECORD_FIELD_DEFS},
     UNIQUE (collection, id)
   )`,
  `CREATE TABLE IF NOT EXISTS transfer_collections (name TEXT PRIMARY KEY, modified INTEGER NOT NULL) WITHOUT ROWID`,
];

const DROP_STAGING = [`DROP TABLE IF EXISTS transfer_bso`, `DROP TABLE IF EXISTS transfer_collections`, `DROP TABLE IF EXISTS transfer_state`];

/** Every other statement of this module, in one place. */
const SQL = {
  getMeta: `SELECT value FROM meta WHERE key = ?`,
  setMeta: `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  tableExists: `SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = ?`,
  collections: `SELECT name, modified FROM collections ORDER BY name`,
  /** A page after insertion number ?1 (bso_seq_all), or after (?1 collection, ?2 id) (the primary key); ?3 rows. */
  exportPage: {
    seq: `SELECT seq, ${RECORD_FIELD_NAMES} FROM bso WHERE seq IS NOT NULL AND seq > ?1 ORDER BY seq LIMIT ?3`,
    id: `SELECT ${RECORD_FIELD_NAMES} FROM bso WHERE (collection, id) > (?1, ?2) ORDER BY collection, id LIMIT ?3`,
  },
  /** Rows with an insertion number (bso_seq alone answers). */
  numbered: `SELECT COUNT(*) AS n FROM bso WHERE seq IS NOT NULL`,
  expiredPerCollection: `SELECT collection, COUNT(*) AS n FROM bso WHERE expiry IS NOT NULL AND expiry <= ? GROUP BY collection`,
  collectionStats: `SELECT c.name, c.records, c.bytes, c.modified, (SELECT MAX(b.modified) FROM bso b WHERE b.collection = c.name) AS newest
                    FROM collections c ORDER BY c.name`,
  nextExpiry: `SELECT MIN(expiry) AS e FROM bso WHERE expiry IS NOT NULL`,
  pendingBatches: `SELECT COUNT(*) AS n FROM batches`,
  beginState: `INSERT INTO transfer_state (key, value) VALUES ('token', ?), ('dialect', ?)`,
  stateValue: `SELECT value FROM transfer_state WHERE key = ?`,
  stageCollection: `INSERT INTO transfer_collections (name, modified) VALUES (?, ?)
                    ON CONFLICT (name) DO UPDATE SET modified = MAX(modified, excluded.modified)`,
  stageRecord: `INSERT INTO transfer_bso (collection, id, parentid, predecessorid, sortindex, modified, payload, payload_size, expiry)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (collection, id) DO NOTHING RETURNING 1 AS n`,
  stagedCount: `SELECT COUNT(*) AS n FROM transfer_bso`,
  storedRecords: `SELECT COALESCE(SUM(records), 0) AS n FROM collections`,
  maxCollectionModified: `SELECT COALESCE(MAX(modified), 0) AS m FROM collections`,
  maxRecordModified: `SELECT COALESCE(MAX(modified), 0) AS m FROM bso`,
  collectionCount: `SELECT COUNT(*) AS n FROM collections`,
  /** The swap, in this order, inside one transaction. */
  clear: [`DELETE FROM batch_items`, `DELETE FROM batches`, `DELETE FROM bso`, `DELETE FROM collections`],
  /** ?1: whether the store numbers insertions (1.1): file order becomes insertion order. */
  moveRecords: `INSERT INTO bso (${RECORD_FIELD_NAMES}, seq)
                SELECT ${RECORD_FIELD_NAMES}, CASE WHEN ?1 THEN seq END FROM transfer_bso ORDER BY seq`,
  // (`WHERE true` lets SQLite parse the upsert after a SELECT.)
  moveCollections: `INSERT INTO collections (name, modified) SELECT name, modified FROM transfer_collections WHERE true
                    ON CONFLICT (name) DO UPDATE SET modified = excluded.modified`,
} as const;

function meta(sql: SqlPort, key: string): number {
  return Number(sql.one<{ value: number }>(SQL.getMeta, key)?.value ?? 0);
}

function setMeta(sql: SqlPort, key: string, value: number): void {
  sql.run(SQL.setMeta, key, value);
}

function tableExists(sql: SqlPort, name: string): boolean {
  return sql.one(SQL.tableExists, name) !== null;
}

// ------------------------------------------------------------------ export

export function exportState(sql: SqlPort): StoreState {
  return sql.transaction(() => ({
    schemaVersion: meta(sql, "schema_version"),
    lastModified: meta(sql, "last_modified"),
    storageTombstone: meta(sql, "storage_tombstone"),
    collections: sql
      .all<{ name: string; modified: number }>(SQL.collections)
      .map((r) => ({ name: String(r.name), modified: Number(r.modified) })),
  }));
}

/** Whether the store orders by insertion (Storage 1.1), so that its export and import keep that order. */
function numbersInserts(sql: SqlPort): boolean {
  return meta(sql, "protocol") === PROFILE_1_1.code;
}

/**
 * Records after `after`, collection by collection (see the module comment):
 * at most `maxRecords`, and stopping once their payloads pass `maxBytes` (at
 * least one record). `next` is the cursor of the following page, or null at
 * the end.
 */
export function exportPage(
  sql: SqlPort,
  after: ExportCursor,
  maxRecords: number,
  maxBytes: number,
): { records: TransferRecord[]; next: ExportCursor } {
  return sql.transaction(() => {
    const bySeq = numbersInserts(sql);
    // A record without a number would be skipped by the seq order: refuse rather than lose it.
    const count = (q: string) => Number(sql.one<{ n: number }>(q)?.n ?? 0);
    if (bySeq && after === null && count(SQL.numbered) !== count(SQL.storedRecords)) {
      throw new Error("a Storage 1.1 store holds records without an insertion number");
    }
    const rows = bySeq
      ? sql.all<Record<string, SqlValue>>(SQL.exportPage.seq, after !== null && "seq" in after ? after.seq : Number.MIN_SAFE_INTEGER, null, maxRecords + 1)
      : sql.all<Record<string, SqlValue>>(
          SQL.exportPage.id,
          after !== null && "id" in after ? after.collection : "",
          after !== null && "id" in after ? after.id : "",
          maxRecords + 1,
        );
    const records: TransferRecord[] = [];
    let bytes = 0;
    let last: ExportCursor = after;
    for (const row of rows.slice(0, maxRecords)) {
      const size = Number(row.payload_size ?? 0);
      if (records.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      last = bySeq ? { seq: Number(row.seq) } : { collection: String(row.collection), id: String(row.id) };
      records.push({
        collection: String(row.collection),
        id: String(row.id),
        payload: (row.payload as string | null) ?? null,
        sortindex: (row.sortindex as number | null) ?? null,
        modified: (row.modified as number | null) ?? null,
        expiry: (row.expiry as number | null) ?? null,
        parentid: (row.parentid as string | null) ?? null,
        predecessorid: (row.predecessorid as string | null) ?? null,
      });
    }
    const more = records.length < rows.length;
    return { records, next: more ? last : null };
  });
}

// ------------------------------------------------------------------ statistics and upkeep

export function storeStats(sql: SqlPort, now: number): StoreStats {
  return sql.transaction(() => {
    const expired = new Map<string, number>();
    for (const r of sql.all<{ collection: string; n: number }>(SQL.expiredPerCollection, now)) {
      expired.set(String(r.collection), Number(r.n));
    }
    const collections = sql
      .all<{ name: string; records: number; bytes: number; modified: number; newest: number | null }>(SQL.collectionStats)
      .map((r) => ({
        name: String(r.name),
        records: Number(r.records),
        bytes: Number(r.bytes),
        expired: expired.get(String(r.name)) ?? 0,
        modified: Number(r.modified),
        newest: r.newest === null ? null : Number(r.newest),
      }));
    const nextExpiry = sql.one<{ e: number | null }>(SQL.nextExpiry)?.e ?? null;
    return {
      schemaVersion: meta(sql, "schema_version"),
      lastModified: meta(sql, "last_modified"),
      storageTombstone: meta(sql, "storage_tombstone"),
      records: collections.reduce((a, c) => a + c.records, 0),
      bytes: collections.reduce((a, c) => a + c.bytes, 0),
      collections,
      pendingBatches: Number(sql.one<{ n: number }>(SQL.pendingBatches)?.n ?? 0),
      nextExpiry: nextExpiry === null ? null : Number(nextExpiry),
      importPending: tableExists(sql, "transfer_state"),
    };
  });
}

/** Deletes every record that expired at or before `now`, in bounded transactions. Returns how many. */
export function purgeExpiredNow(sql: SqlPort, now: number, chunk = 5000): number {
  let total = 0;
  for (;;) {
    const n = sql.transaction(() => purgeExpiredRecords(sql, now, chunk));
    total += n;
    if (n < chunk) return total;
  }
}

// ------------------------------------------------------------------ import

/** An import problem the operator must see (bad line, wrong token, duplicate). */
export class TransferError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransferError";
  }
}

export type ImportResult = { ok: true; staged: number } | { ok: false; error: string };

/** Starts an import: drops any earlier unfinished one and remembers `token`. */
export function importBegin(sql: SqlPort, token: string, dialect: Dialect): void {
  sql.transaction(() => {
    for (const s of DROP_STAGING) sql.run(s);
    for (const s of STAGING) sql.run(s);
    sql.run(SQL.beginState, token, dialect);
  });
}

function checkToken(sql: SqlPort, token: string): Dialect {
  if (!tableExists(sql, "transfer_state")) throw new TransferError("no import in progress for this user");
  const row = sql.one<{ value: string }>(SQL.stateValue, "token");
  if (!row || row.value !== token) throw new TransferError("another import replaced this one");
  const d = sql.one<{ value: string }>(SQL.stateValue, "dialect")?.value;
  return d === "1.5" ? "1.5" : "1.1";
}

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);
const optInt = (v: unknown) => v === null || isInt(v);
const optStr = (v: unknown, max: number) => v === null || (typeof v === "string" && v.length <= max);

/** Why a record cannot be imported, or null when it is acceptable. */
export function recordProblem(r: TransferRecord): string | null {
  if (typeof r.collection !== "string" || r.collection.length === 0 || r.collection.length > MAX_COLLECTION_LENGTH) {
    return "collection must be a string of 1 to 32 characters";
  }
  if (typeof r.id !== "string" || r.id.length === 0 || r.id.length > MAX_ID_LENGTH) return "id must be a string of 1 to 64 characters";
  if (r.payload !== null && typeof r.payload !== "string") return "payload must be a string or null";
  if (typeof r.payload === "string" && /[\uD800-\uDFFF]/.test(r.payload) && hasLoneSurrogate(r.payload)) {
    return "payload contains a lone UTF-16 surrogate";
  }
  if (typeof r.payload === "string" && encoder.encode(r.payload).length > MAX_IMPORT_PAYLOAD_BYTES) {
    return `payload larger than ${MAX_IMPORT_PAYLOAD_BYTES} bytes`;
  }
  if (!optInt(r.sortindex)) return "sortindex must be an integer or null";
  if (!optInt(r.modified) || (r.modified !== null && r.modified < 0)) return "modified must be a non-negative integer (ms) or null";
  if (!optInt(r.expiry)) return "expiry must be an integer (ms) or null";
  if (!optStr(r.parentid, MAX_ID_LENGTH)) return "parentid must be a string of at most 64 characters or null";
  if (!optStr(r.predecessorid, MAX_ID_LENGTH)) return "predecessorid must be a string of at most 64 characters or null";
  return null;
}

/**
 * Stages one chunk of records and collections in one transaction; any bad
 * record or a duplicate (collection, id) refuses the whole chunk with the
 * reason (the caller then aborts the import).
 */
export function importStage(
  sql: SqlPort,
  token: string,
  collections: TransferCollection[],
  records: TransferRecord[],
): number {
  return sql.transaction(() => {
    const dialect = checkToken(sql, token);
    for (const c of collections) {
      if (typeof c.name !== "string" || c.name.length === 0 || c.name.length > MAX_COLLECTION_LENGTH || !isInt(c.modified) || c.modified < 0) {
        throw new TransferError(`bad collection line ${JSON.stringify(c.name)}`);
      }
      sql.run(SQL.stageCollection, c.name, c.modified);
    }
    for (const r of records) {
      const problem = recordProblem(r);
      if (problem) throw new TransferError(`record ${JSON.stringify(r.collection)}/${JSON.stringify(r.id)}: ${problem}`);
      const size = r.payload === null ? 0 : dialect === "1.1" ? r.payload.length : encoder.encode(r.payload).length;
      const inserted = sql.all(
        SQL.stageRecord,
        r.collection,
        r.id,
        r.parentid,
        r.predecessorid,
        r.sortindex,
        r.modified,
        r.payload,
        size,
        r.expiry,
      );
      if (inserted.length === 0) throw new TransferError(`record ${JSON.stringify(r.collection)}/${JSON.stringify(r.id)} appears twice`);
    }
    return Number(sql.one<{ n: number }>(SQL.stagedCount)?.n ?? 0);
  });
}

export interface CommitParams {
  token: string;
  /** Records the file says it holds (its end line); the commit refuses a mismatch. */
  expectRecords: number;
  /** The exported store clock and tombstone. */
  lastModified: number;
  storageTombstone: number;
}

export interface CommitResult {
  records: number;
  collections: number;
  /** What the store held before and lost. */
  replacedRecords: number;
}

/**
 * Replaces the user's data with the staged import in one transaction, then
 * drops the staging tables. Collection counters are recounted from the
 * records; 1.5 collection timestamps come from the collection lines.
 */
export function importCommit(sql: SqlPort, p: CommitParams): CommitResult {
  return sql.transaction(() => {
    const dialect = checkToken(sql, p.token);
    const staged = Number(sql.one<{ n: number }>(SQL.stagedCount)?.n ?? 0);
    if (staged !== p.expectRecords) {
      throw new TransferError(`the file announces ${p.expectRecords} records but ${staged} arrived`);
    }
    const before = Number(sql.one<{ n: number }>(SQL.storedRecords)?.n ?? 0);
    const oldClock = meta(sql, "last_modified");
    const oldStorage = Math.max(
      meta(sql, "storage_tombstone"),
      Number(sql.one<{ m: number }>(SQL.maxCollectionModified)?.m ?? 0),
    );
    for (const q of SQL.clear) sql.run(q);
    sql.run(SQL.moveRecords, numbersInserts(sql) || dialect === "1.1" ? 1 : 0);
    for (const q of RECOUNT) sql.run(q);
    sql.run(SQL.moveCollections);
    const newest = Number(sql.one<{ m: number }>(SQL.maxRecordModified)?.m ?? 0);
    const newestCollection = Number(sql.one<{ m: number }>(SQL.maxCollectionModified)?.m ?? 0);
    setMeta(sql, "last_modified", Math.max(oldClock, p.lastModified, newest, newestCollection, oldStorage));
    // Clients of a store that held data must not see its timestamp move back.
    const tombstone = Math.max(p.storageTombstone, before > 0 || oldStorage > 0 ? oldStorage : 0);
    if (tombstone > 0) setMeta(sql, "storage_tombstone", tombstone);
    const collections = Number(sql.one<{ n: number }>(SQL.collectionCount)?.n ?? 0);
    for (const s of DROP_STAGING) sql.run(s);
    return { records: staged, collections, replacedRecords: before };
  });
}

/** Drops an unfinished import (only the given one, unless `token` is null). */
export function importAbort(sql: SqlPort, token: string | null): boolean {
  return sql.transaction(() => {
    if (!tableExists(sql, "transfer_state")) return false;
    if (token !== null) checkToken(sql, token);
    for (const s of DROP_STAGING) sql.run(s);
    return true;
  });
}

// ------------------------------------------------------------------ one RPC entry point

export type AdminStoreOp =
  | { op: "stats"; now: number }
  | { op: "export-state" }
  | { op: "export-page"; after: ExportCursor; maxRecords: number; maxBytes: number }
  | { op: "import-begin"; token: string; dialect: Dialect }
  | { op: "import-stage"; token: string; collections: TransferCollection[]; records: TransferRecord[] }
  /** `dialect` tells the shell whether to arm the 1.5 expiry purge afterwards. */
  | ({ op: "import-commit"; dialect: Dialect } & CommitParams)
  | { op: "import-abort"; token: string | null }
  | { op: "purge"; now: number };

export type AdminStoreResult = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * Runs one operation; expected failures ({@link TransferError}) come back as
 * data so their message survives the Durable Object RPC boundary.
 */
export function runAdminOp(sql: SqlPort, o: AdminStoreOp): AdminStoreResult {
  try {
    switch (o.op) {
      case "stats":
        return { ok: true, value: storeStats(sql, o.now) };
      case "export-state":
        return { ok: true, value: exportState(sql) };
      case "export-page":
        return { ok: true, value: exportPage(sql, o.after, o.maxRecords, o.maxBytes) };
      case "import-begin":
        importBegin(sql, o.token, o.dialect);
        return { ok: true, value: null };
      case "import-stage":
        return { ok: true, value: importStage(sql, o.token, o.collections, o.records) };
      case "import-commit":
        return { ok: true, value: importCommit(sql, o) };
      case "import-abort":
        return { ok: true, value: importAbort(sql, o.token) };
      case "purge":
        return { ok: true, value: purgeExpiredNow(sql, o.now) };
    }
  } catch (err) {
    if (err instanceof TransferError) return { ok: false, error: err.message };
    throw err;
  }
}
