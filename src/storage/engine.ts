/**
 * @module engine
 * The storage engine: one user's collections of records, with the rules both
 * protocols share. It knows nothing of HTTP; it runs on a {@link SqlPort} and
 * every public operation is one synchronous transaction, so a precondition
 * check and the write it guards can never be separated, and a request's writes
 * land all together or not at all.
 *
 * Time: one timestamp `T` per request, in integer ms (multiple of 10). A
 * write's T is strictly greater than anything stored before (storage-1.5
 * §5.4, an improvement storage-1.1 §17 allows), so `newer=` never misses a
 * write. A read's T is never below the last write.
 *
 * Rules that differ between protocols are selected by {@link Dialect}.
 */
import { nowTick } from "../lib/timestamp";
import { migrate } from "./schema";
import type { SqlPort, SqlValue } from "./sql";
import type {
  DeleteCollectionParams,
  DeleteParams,
  DeleteResult,
  Dialect,
  Failure,
  GetParams,
  GetResult,
  InfoParams,
  InfoResult,
  ListParams,
  Preconditions,
  QueryParams,
  QueryResult,
  PostParams,
  PostResult,
  PutParams,
  PutResult,
  RecordFields,
  RecordFilter,
  Result,
  StoredRecord,
} from "./types";

const LAST_MODIFIED_KEY = "last_modified";
/** 1.5: when a collection or the whole store was last deleted (storage-1.5 §5.3). */
const STORAGE_TOMBSTONE_KEY = "storage_tombstone";
/** A 1.5 batch must be committed within this long of its creation (storage-1.5 §9.4). */
export const BATCH_LIFETIME_MS = 2 * 3600 * 1000;
/** Expired records are physically removed this long after they expire. */
export const PURGE_GRACE_MS = 24 * 3600 * 1000;

const encoder = new TextEncoder();

/** Presence bits of the upsert statement. */
const HAS_PAYLOAD = 1;
const HAS_SORTINDEX = 2;
const HAS_PARENTID = 4;
const HAS_PREDECESSORID = 8;
const SET_MODIFIED = 16;
const HAS_TTL = 32;

/** A 1.5 record is live at T iff it has no expiry or expires after T (storage-1.5 §4.2). */
const LIVE = `(expiry IS NULL OR expiry > ?4)`;

/** Every fixed statement of the engine, in one place. */
const SQL = {
  getMeta: `SELECT value FROM meta WHERE key = ?`,
  setMeta: `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  /** 1.1 info/collections: max modified over all rows, expired included (storage-1.1 §8.1). */
  collectionMaxima: `SELECT c.name AS name, (SELECT MAX(b.modified) FROM bso b WHERE b.collection = c.name) AS modified
                     FROM collections c WHERE c.records > 0 ORDER BY c.name`,
  collectionMax: `SELECT MAX(modified) AS modified FROM bso WHERE collection = ?`,
  collectionTotals: `SELECT name, records, bytes FROM collections WHERE records > 0 ORDER BY name`,
  expiredTotals: `SELECT collection, COUNT(*) AS records, COALESCE(SUM(payload_size), 0) AS bytes
                  FROM bso WHERE expiry IS NOT NULL AND expiry <= ? GROUP BY collection`,
  totalBytes: `SELECT COALESCE(SUM(bytes), 0) AS bytes FROM collections`,
  expiredBytes: `SELECT COALESCE(SUM(payload_size), 0) AS bytes FROM bso WHERE expiry IS NOT NULL AND expiry <= ?`,
  getRecord: `SELECT id, modified, payload, sortindex, parentid, predecessorid FROM bso
              WHERE collection = ? AND id = ? AND (expiry IS NULL OR expiry > ?)`,
  upsert: `INSERT INTO bso (collection, id, parentid, predecessorid, sortindex, modified, payload, payload_size, expiry)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
           ON CONFLICT (collection, id) DO UPDATE SET
             parentid = CASE WHEN ?10 & ${HAS_PARENTID} THEN excluded.parentid ELSE parentid END,
             predecessorid = CASE WHEN ?10 & ${HAS_PREDECESSORID} THEN excluded.predecessorid ELSE predecessorid END,
             sortindex = CASE WHEN ?10 & ${HAS_SORTINDEX} THEN excluded.sortindex ELSE sortindex END,
             payload = CASE WHEN ?10 & ${HAS_PAYLOAD} THEN excluded.payload ELSE payload END,
             payload_size = CASE WHEN ?10 & ${HAS_PAYLOAD} THEN excluded.payload_size ELSE payload_size END,
             modified = CASE WHEN ?10 & ${SET_MODIFIED} THEN excluded.modified ELSE modified END,
             expiry = excluded.expiry
           RETURNING modified`,
  deleteRecord: `DELETE FROM bso WHERE collection = ? AND id = ? RETURNING 1 AS n`,
  deleteAllRecords: `DELETE FROM bso`,
  deleteAllCollections: `DELETE FROM collections`,
  purgeExpired: `DELETE FROM bso WHERE rowid IN (SELECT rowid FROM bso WHERE expiry IS NOT NULL AND expiry <= ? LIMIT ?) RETURNING 1 AS n`,
  nextExpiry: `SELECT MIN(expiry) AS expiry FROM bso WHERE expiry IS NOT NULL`,

  // -------- 1.5: collection timestamps live in collections.modified (0: never written by 1.5)
  collectionModified: `SELECT modified FROM collections WHERE name = ?`,
  collectionList: `SELECT name, modified FROM collections WHERE modified > 0 ORDER BY name`,
  maxCollectionModified: `SELECT COALESCE(MAX(modified), 0) AS modified FROM collections`,
  touchCollection: `INSERT INTO collections (name, modified) VALUES (?, ?)
                    ON CONFLICT (name) DO UPDATE SET modified = excluded.modified`,
  deleteCollectionRow: `DELETE FROM collections WHERE name = ?`,
  deleteCollectionRecords: `DELETE FROM bso WHERE collection = ?`,
  deleteIds: `DELETE FROM bso WHERE collection = ? AND id IN (SELECT value FROM json_each(?))`,
  liveModified: `SELECT modified FROM bso WHERE collection = ? AND id = ? AND (expiry IS NULL OR expiry > ?)`,
  /**
   * 1.5 upsert (storage-1.5 §8.1 step 6): a live record keeps the fields not
   * supplied (flags); an absent or expired one is created from the supplied
   * values and the defaults bound in VALUES. ?4 is T.
   */
  upsert15: `INSERT INTO bso (collection, id, sortindex, modified, payload, payload_size, expiry)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (collection, id) DO UPDATE SET
               sortindex = CASE WHEN ?8 & ${HAS_SORTINDEX} OR NOT ${LIVE} THEN excluded.sortindex ELSE sortindex END,
               payload = CASE WHEN ?8 & ${HAS_PAYLOAD} OR NOT ${LIVE} THEN excluded.payload ELSE payload END,
               payload_size = CASE WHEN ?8 & ${HAS_PAYLOAD} OR NOT ${LIVE} THEN excluded.payload_size ELSE payload_size END,
               modified = CASE WHEN ?8 & ${SET_MODIFIED} OR NOT ${LIVE} THEN excluded.modified ELSE modified END,
               expiry = CASE WHEN ?8 & ${HAS_TTL} OR NOT ${LIVE} THEN excluded.expiry ELSE expiry END`,

  // -------- 1.5 batches (storage-1.5 §9)
  findBatch: `SELECT id FROM batches WHERE id = ? AND collection = ? AND created > ?`,
  insertBatch: `INSERT INTO batches (id, collection, created) VALUES (?, ?, ?)`,
  /** Later stagings of an id override earlier ones field by field (§9.6 step 2). */
  stageItem: `INSERT INTO batch_items (batch_id, id, sortindex, payload, payload_size, ttl) VALUES (?, ?, ?, ?, ?, ?)
              ON CONFLICT (batch_id, id) DO UPDATE SET
                sortindex = COALESCE(excluded.sortindex, sortindex),
                payload = COALESCE(excluded.payload, payload),
                payload_size = COALESCE(excluded.payload_size, payload_size),
                ttl = COALESCE(excluded.ttl, ttl)`,
  /** Commit, part 1: staged ids with no live record are created (or replace an expired one). ?1 collection, ?2 batch, ?3 T. */
  commitCreate: `INSERT INTO bso (collection, id, sortindex, modified, payload, payload_size, expiry)
                 SELECT ?1, b.id, b.sortindex, ?3, COALESCE(b.payload, ''), COALESCE(b.payload_size, 0),
                        CASE WHEN b.ttl IS NULL THEN NULL ELSE ?3 + b.ttl * 1000 END
                 FROM batch_items b
                 WHERE b.batch_id = ?2 AND NOT EXISTS (
                   SELECT 1 FROM bso WHERE collection = ?1 AND id = b.id AND (expiry IS NULL OR expiry > ?3))
                 ORDER BY b.rowid
                 ON CONFLICT (collection, id) DO UPDATE SET
                   sortindex = excluded.sortindex, modified = excluded.modified, payload = excluded.payload,
                   payload_size = excluded.payload_size, expiry = excluded.expiry, parentid = NULL, predecessorid = NULL`,
  /**
   * Commit, part 2: live records take the supplied fields and T. Rows part 1
   * just wrote match too and are left as they are (every value is the same).
   */
  commitUpdate: `UPDATE bso SET
                   sortindex = COALESCE(b.sortindex, bso.sortindex),
                   payload = COALESCE(b.payload, bso.payload),
                   payload_size = COALESCE(b.payload_size, bso.payload_size),
                   modified = ?3,
                   expiry = CASE WHEN b.ttl IS NULL THEN bso.expiry ELSE ?3 + b.ttl * 1000 END
                 FROM batch_items b
                 WHERE b.batch_id = ?2 AND bso.collection = ?1 AND bso.id = b.id
                   AND (bso.expiry IS NULL OR bso.expiry > ?3)`,
  deleteBatchItems: `DELETE FROM batch_items WHERE batch_id = ?`,
  deleteBatch: `DELETE FROM batches WHERE id = ?`,
  deleteStaleBatchItems: `DELETE FROM batch_items WHERE batch_id IN (SELECT id FROM batches WHERE created <= ?)`,
  deleteStaleBatches: `DELETE FROM batches WHERE created <= ?`,
  deleteCollectionBatchItems: `DELETE FROM batch_items WHERE batch_id IN (SELECT id FROM batches WHERE collection = ?)`,
  deleteCollectionBatches: `DELETE FROM batches WHERE collection = ?`,
  deleteAllBatchItems: `DELETE FROM batch_items`,
  deleteAllBatches: `DELETE FROM batches`,
} as const;

export interface CollectionTotals {
  name: string;
  records: number;
  bytes: number;
}

export class StorageEngine {
  constructor(
    private readonly sql: SqlPort,
    private readonly clock: () => number = Date.now,
  ) {
    migrate(sql);
  }

  // ---------------------------------------------------------------- time

  /** The latest timestamp any write of this user carried. */
  lastModified(): number {
    return this.sql.one<{ value: number }>(SQL.getMeta, LAST_MODIFIED_KEY)?.value ?? 0;
  }

  private readStamp(): number {
    return Math.max(nowTick(this.clock()), this.lastModified());
  }

  private writeStamp(): number {
    return Math.max(nowTick(this.clock()), this.lastModified() + 10);
  }

  private commitStamp(ts: number): void {
    this.sql.run(SQL.setMeta, LAST_MODIFIED_KEY, ts);
  }

  /**
   * The instant TTLs count from and visibility is judged at. 1.1: whole
   * seconds of wall clock (storage-1.1 §12); 1.5: the request's T (storage-1.5 §4.2).
   */
  private ttlNow(dialect: Dialect, ts: number): number {
    return dialect === "1.1" ? Math.floor(this.clock() / 1000) * 1000 : ts;
  }

  private payloadSize(dialect: Dialect, payload: string): number {
    return dialect === "1.1" ? payload.length : encoder.encode(payload).length;
  }

  // ---------------------------------------------------------------- reads

  /** 1.1 info/collections: `[name, max modified incl. expired rows]` for collections holding rows. */
  collectionTimestamps(): { ts: number; collections: Array<[string, number | null]> } {
    return this.sql.transaction(() => {
      const ts = this.readStamp();
      const rows = this.sql.all<{ name: string; modified: number | null }>(SQL.collectionMaxima);
      return { ts, collections: rows.map((r) => [r.name, r.modified] as [string, number | null]) };
    });
  }

  /** Live record counts and payload units per collection (collections without live records omitted). */
  collectionTotals(dialect: Dialect): { ts: number; totals: CollectionTotals[] } {
    return this.sql.transaction(() => {
      const ts = this.readStamp();
      return { ts, totals: this.totalsAt(dialect, ts) };
    });
  }

  private totalsAt(dialect: Dialect, ts: number): CollectionTotals[] {
    {
      const expired = new Map<string, { records: number; bytes: number }>();
      for (const r of this.sql.all<{ collection: string; records: number; bytes: number }>(
        SQL.expiredTotals,
        this.ttlNow(dialect, ts),
      )) {
        expired.set(r.collection, r);
      }
      const totals: CollectionTotals[] = [];
      for (const r of this.sql.all<{ name: string; records: number; bytes: number }>(SQL.collectionTotals)) {
        const e = expired.get(r.name);
        const records = r.records - (e?.records ?? 0);
        if (records > 0) totals.push({ name: r.name, records, bytes: r.bytes - (e?.bytes ?? 0) });
      }
      return totals;
    }
  }

  /** Payload units of all live records. */
  usage(dialect: Dialect): { ts: number; used: number } {
    return this.sql.transaction(() => {
      const ts = this.readStamp();
      return { ts, used: this.usedUnits(dialect, ts) };
    });
  }

  private usedUnits(dialect: Dialect, ts: number): number {
    const total = this.sql.one<{ bytes: number }>(SQL.totalBytes)?.bytes ?? 0;
    const expired = this.sql.one<{ bytes: number }>(SQL.expiredBytes, this.ttlNow(dialect, ts))?.bytes ?? 0;
    return total - expired;
  }

  /** Live records of a collection matching the filter, in the requested order. */
  list(p: ListParams): { ts: number; records: StoredRecord[] } {
    return this.sql.transaction(() => {
      const ts = this.readStamp();
      const { where, bindings } = this.filterClause(p, this.ttlNow(p.dialect, ts));
      const cols = p.full ? "id, modified, payload, sortindex, parentid, predecessorid" : "id";
      const rows = this.sql.all<Record<string, SqlValue>>(
        `SELECT ${cols} FROM bso WHERE ${where} ${orderClause(p)} ${limitClause(p)}`,
        ...bindings,
      );
      return { ts, records: rows.map((r) => toRecord(r)) };
    });
  }

  /** One live record, or null. */
  get(dialect: Dialect, collection: string, id: string): { ts: number; record: StoredRecord | null } {
    return this.sql.transaction(() => {
      const ts = this.readStamp();
      const row = this.sql.one<Record<string, SqlValue>>(SQL.getRecord, collection, id, this.ttlNow(dialect, ts));
      return { ts, record: row ? toRecord(row) : null };
    });
  }

  // ---------------------------------------------------------------- writes

  private preconditionFailure(collection: string, ifUnmodifiedSince: number | undefined): Failure | null {
    if (ifUnmodifiedSince === undefined) return null;
    const last = this.sql.one<{ modified: number | null }>(SQL.collectionMax, collection)?.modified ?? null;
    if (last !== null && last > ifUnmodifiedSince) return { kind: "precondition-failed", lastModified: last };
    return null;
  }

  private quotaFailure(dialect: Dialect, ts: number, quota: number | null): { failure: Failure | null; used?: number } {
    if (quota === null) return { failure: null };
    const used = this.usedUnits(dialect, ts);
    return { failure: used >= quota ? { kind: "over-quota" } : null, used };
  }

  /**
   * Writes one record with 1.1 upsert semantics (storage-1.1 §8.7): supplied
   * fields are written, others kept (update) or NULL (insert); `modified`
   * becomes T when a payload is supplied or `alwaysStamp` is set; the expiry
   * is recomputed from `ttl` (absent: never), also on partial updates.
   */
  private upsert11(collection: string, rec: RecordFields, ts: number, ttlNow: number, alwaysStamp: boolean): number | null {
    let flags = 0;
    if (rec.payload !== undefined) flags |= HAS_PAYLOAD;
    if (rec.sortindex !== undefined) flags |= HAS_SORTINDEX;
    if (rec.parentid !== undefined) flags |= HAS_PARENTID;
    if (rec.predecessorid !== undefined) flags |= HAS_PREDECESSORID;
    const stamp = alwaysStamp || rec.payload !== undefined;
    if (stamp) flags |= SET_MODIFIED;
    const row = this.sql.one<{ modified: number | null }>(
      SQL.upsert,
      collection,
      rec.id,
      rec.parentid ?? null,
      rec.predecessorid ?? null,
      rec.sortindex ?? null,
      stamp ? ts : null,
      rec.payload ?? null,
      rec.payload === undefined ? 0 : this.payloadSize("1.1", rec.payload),
      rec.ttl === undefined ? null : ttlNow + rec.ttl * 1000,
      flags,
    );
    return row?.modified ?? null;
  }

  /**
   * PUT of one record. Check order of 1.1: quota, precondition, then the
   * adapter's body verdict (precondition first when `preconditionFirst`).
   */
  put(p: PutParams): Result<PutResult> {
    if (p.dialect === "1.5") return this.put15(p);
    return this.sql.transaction((): Result<PutResult> => {
      const ts = this.writeStamp();
      const pre = this.preconditionFailure(p.collection, p.ifUnmodifiedSince);
      if (pre && p.preconditionFirst) return { ok: false, failure: pre, ts };
      const q = this.quotaFailure(p.dialect, ts, p.quota);
      if (q.failure) return { ok: false, failure: q.failure, ts };
      if (pre) return { ok: false, failure: pre, ts };
      if (p.rejectAfterChecks !== undefined) return { ok: false, failure: { kind: "rejected", code: p.rejectAfterChecks }, ts };
      const modified = this.upsert11(p.collection, p.record, ts, this.ttlNow(p.dialect, ts), false);
      this.commitStamp(ts);
      return { ok: true, ts, modified, usedBefore: q.used };
    });
  }

  /** POST of a list of records. Check order of 1.1: precondition, body verdict, quota (storage-1.1 §8.8). */
  post(p: PostParams): Result<PostResult> {
    if (p.dialect === "1.5") return this.post15(p);
    return this.sql.transaction((): Result<PostResult> => {
      const ts = this.writeStamp();
      const pre = this.preconditionFailure(p.collection, p.ifUnmodifiedSince);
      if (pre) return { ok: false, failure: pre, ts };
      if (p.rejectAfterChecks !== undefined) return { ok: false, failure: { kind: "rejected", code: p.rejectAfterChecks }, ts };
      const q = this.quotaFailure(p.dialect, ts, p.quota);
      if (q.failure) return { ok: false, failure: q.failure, ts };
      const ttlNow = this.ttlNow(p.dialect, ts);
      const success: string[] = [];
      for (const rec of p.records) {
        this.upsert11(p.collection, rec, ts, ttlNow, true);
        success.push(rec.id);
      }
      this.commitStamp(ts);
      return { ok: true, ts, success, failed: p.failed, usedBefore: q.used };
    });
  }

  /**
   * Deletes the records of a collection selected exactly as a listing would
   * select them (filters, sort, limit, offset), expired ones included.
   */
  deleteRecords(p: DeleteParams): Result<{ ts: number; deleted: number }> {
    return this.sql.transaction((): Result<{ ts: number; deleted: number }> => {
      const ts = this.writeStamp();
      const pre = this.preconditionFailure(p.collection, p.ifUnmodifiedSince);
      if (pre) return { ok: false, failure: pre, ts };
      const { where, bindings } = this.filterClause(p, null);
      const deleted = this.sql.all(
        `DELETE FROM bso WHERE rowid IN (SELECT rowid FROM bso WHERE ${where} ${orderClause(p)} ${limitClause(p)}) RETURNING 1 AS n`,
        ...bindings,
      ).length;
      this.commitStamp(ts);
      return { ok: true, ts, deleted };
    });
  }

  /** Deletes one record (expired or not); a missing record is not an error in 1.1. */
  deleteRecord(p: { collection: string; id: string; ifUnmodifiedSince?: number }): Result<{ ts: number; deleted: number }> {
    return this.sql.transaction((): Result<{ ts: number; deleted: number }> => {
      const ts = this.writeStamp();
      const pre = this.preconditionFailure(p.collection, p.ifUnmodifiedSince);
      if (pre) return { ok: false, failure: pre, ts };
      const deleted = this.sql.all(SQL.deleteRecord, p.collection, p.id).length;
      this.commitStamp(ts);
      return { ok: true, ts, deleted };
    });
  }

  /** Deletes every record and collection of the user; the timestamp stays monotonic. */
  deleteAll(): { ts: number } {
    return this.sql.transaction(() => {
      const ts = this.writeStamp();
      this.sql.run(SQL.deleteAllRecords);
      this.sql.run(SQL.deleteAllCollections);
      this.commitStamp(ts);
      return { ts };
    });
  }

  // ---------------------------------------------------------------- 1.5

  /**
   * Storage 1.5 keeps three levels of last-modified (storage-1.5 §5.3): the
   * record's `modified`, the collection's `collections.modified` (set by every
   * write that touches it, kept after its records go, removed with the
   * collection) and the storage's: the latest collection timestamp or
   * deletion tombstone, so it never moves backwards. Every 1.5 operation
   * checks X-If-Modified-Since / X-If-Unmodified-Since against its level
   * inside its own transaction, before doing anything.
   */
  storageModified(): number {
    const c = this.sql.one<{ modified: number }>(SQL.maxCollectionModified)?.modified ?? 0;
    const t = this.sql.one<{ value: number }>(SQL.getMeta, STORAGE_TOMBSTONE_KEY)?.value ?? 0;
    return Math.max(c, t);
  }

  private collectionModified(collection: string): number | null {
    return this.sql.one<{ modified: number }>(SQL.collectionModified, collection)?.modified ?? null;
  }

  private liveModified(collection: string, id: string, ts: number): number | null {
    return this.sql.one<{ modified: number }>(SQL.liveModified, collection, id, ts)?.modified ?? null;
  }

  private touchCollection(collection: string, ts: number): void {
    this.sql.run(SQL.touchCollection, collection, ts);
  }

  private tombstone(ts: number): void {
    this.sql.run(SQL.setMeta, STORAGE_TOMBSTONE_KEY, ts);
  }

  /** 304 when not modified since, 412 when modified since (storage-1.5 §12.1, §12.2). */
  private conditionFailure(p: Preconditions, lastModified: number): Failure | null {
    if (p.ifModifiedSince !== undefined && lastModified <= p.ifModifiedSince) return { kind: "not-modified", lastModified };
    if (p.ifUnmodifiedSince !== undefined && lastModified > p.ifUnmodifiedSince) {
      return { kind: "precondition-failed", lastModified };
    }
    return null;
  }

  /** `info/collections`, `collection_counts`, `collection_usage`, `quota`, checked against the storage timestamp. */
  info(p: InfoParams): Result<InfoResult> {
    return this.sql.transaction((): Result<InfoResult> => {
      const ts = this.readStamp();
      const lastModified = this.storageModified();
      const failure = this.conditionFailure(p, lastModified);
      if (failure) return { ok: false, failure, ts };
      switch (p.view) {
        case "collections": {
          const rows = this.sql.all<{ name: string; modified: number }>(SQL.collectionList);
          return { ok: true, ts, lastModified, collections: rows.map((r) => [r.name, r.modified] as [string, number]) };
        }
        case "counts":
        case "usage":
          return { ok: true, ts, lastModified, totals: this.totalsAt("1.5", ts) };
        case "quota":
          return { ok: true, ts, lastModified, used: this.usedUnits("1.5", ts) };
      }
    });
  }

  /**
   * A page of a collection's live records (storage-1.5 §7), checked against
   * the collection timestamp. At most `min(limit, pageCap)` rows; when more
   * match, `nextOffset` is the skip count of the next page (§7.3).
   */
  query(p: QueryParams): Result<QueryResult> {
    return this.sql.transaction((): Result<QueryResult> => {
      const ts = this.readStamp();
      const lastModified = this.collectionModified(p.collection) ?? 0;
      const failure = this.conditionFailure(p, lastModified);
      if (failure) return { ok: false, failure, ts };
      const f = { ...p, dialect: "1.5" as const };
      const { where, bindings } = this.filterClause(f, ts);
      let bound = "";
      if (p.offsetBound !== undefined && p.sort !== "index") {
        bound = p.sort === "oldest" ? " AND modified >= ?" : " AND modified <= ?";
        bindings.push(p.offsetBound);
      }
      let pageSize = Math.max(0, Math.min(p.limit ?? p.pageCap, p.pageCap));
      const offset = Math.max(0, p.offset ?? 0);
      const select = (cols: string, n: number) =>
        this.sql.all<Record<string, SqlValue>>(
          `SELECT ${cols} FROM bso WHERE ${where}${bound} ${orderClause(f)} LIMIT ? OFFSET ?`,
          ...bindings,
          n,
          offset,
        );
      let more = false;
      if (p.full && p.pageBytes !== undefined && pageSize > 0) {
        // Sizes first (cheap), so that a page of large records stops within the byte budget.
        const sizes = select("payload_size", pageSize);
        let total = 0;
        for (let i = 0; i < sizes.length; i++) {
          total += Number(sizes[i]?.payload_size ?? 0);
          if (i > 0 && total > p.pageBytes) {
            pageSize = i;
            more = true;
            break;
          }
        }
      }
      const cols = p.full ? "id, modified, payload, sortindex" : "id";
      // One row more than the page tells whether another page follows.
      const rows = select(cols, pageSize + 1);
      more = more || (pageSize > 0 && rows.length > pageSize);
      const records = rows.slice(0, pageSize).map((r) => toRecord(r));
      return { ok: true, ts, lastModified, records, ...(more ? { nextOffset: offset + pageSize } : {}) };
    });
  }

  /** One live record, checked against its own timestamp (0 when absent). */
  getOne(p: GetParams): Result<GetResult> {
    return this.sql.transaction((): Result<GetResult> => {
      const ts = this.readStamp();
      const row = this.sql.one<Record<string, SqlValue>>(SQL.getRecord, p.collection, p.id, ts);
      const record = row ? toRecord(row) : null;
      const failure = this.conditionFailure(p, record?.modified ?? 0);
      if (failure) return { ok: false, failure, ts };
      if (!record) return { ok: false, failure: { kind: "not-found" }, ts };
      return { ok: true, ts, lastModified: record.modified ?? 0, record };
    });
  }

  /** Writes one record with 1.5 upsert semantics at T; see SQL.upsert15. */
  private upsert15(collection: string, rec: RecordFields, ts: number): void {
    let flags = 0;
    if (rec.payload !== undefined) flags |= HAS_PAYLOAD;
    if (rec.sortindex !== undefined) flags |= HAS_SORTINDEX;
    if (rec.ttl !== undefined) flags |= HAS_TTL;
    // A ttl-only update keeps `modified` (storage-1.5 §4.2).
    if (rec.payload !== undefined || rec.sortindex !== undefined) flags |= SET_MODIFIED;
    this.sql.run(
      SQL.upsert15,
      collection,
      rec.id,
      rec.sortindex ?? null,
      ts,
      rec.payload ?? "",
      rec.payload === undefined ? 0 : this.payloadSize("1.5", rec.payload),
      rec.ttl === undefined ? null : ts + rec.ttl * 1000,
      flags,
    );
  }

  /** 1.5 PUT (storage-1.5 §8.1): preconditions on the record, quota, upsert, collection stamped. */
  private put15(p: PutParams): Result<PutResult> {
    return this.sql.transaction((): Result<PutResult> => {
      const ts = this.writeStamp();
      const failure = this.conditionFailure(p, this.liveModified(p.collection, p.record.id, ts) ?? 0);
      if (failure) return { ok: false, failure, ts };
      const q = this.quotaFailure("1.5", ts, p.quota);
      if (q.failure) return { ok: false, failure: q.failure, ts };
      this.upsert15(p.collection, p.record, ts);
      this.touchCollection(p.collection, ts);
      this.commitStamp(ts);
      return { ok: true, ts, modified: ts, usedBefore: q.used };
    });
  }

  /**
   * 1.5 POST (storage-1.5 §8.2, §9): preconditions on the collection; then
   * either write the records at T, or stage them into a new or existing
   * batch (nothing visible changes), or stage them and commit the whole
   * batch at T.
   */
  private post15(p: PostParams): Result<PostResult> {
    return this.sql.transaction((): Result<PostResult> => {
      const ts = this.writeStamp();
      const current = this.collectionModified(p.collection) ?? 0;
      const failure = this.conditionFailure(p, current);
      if (failure) return { ok: false, failure, ts };
      const batch = p.batch && (p.batch.id !== null || !p.batch.commit) ? p.batch : undefined;
      if (batch?.id != null && !this.sql.one(SQL.findBatch, batch.id, p.collection, ts - BATCH_LIFETIME_MS)) {
        return { ok: false, failure: { kind: "batch-not-found" }, ts };
      }
      const q = this.quotaFailure("1.5", ts, p.quota);
      if (q.failure) return { ok: false, failure: q.failure, ts };
      const success = p.records.map((r) => r.id);

      if (batch) {
        let id = batch.id;
        if (id === null) {
          // Expired batches are dropped whenever a new one starts.
          this.sql.run(SQL.deleteStaleBatchItems, ts - BATCH_LIFETIME_MS);
          this.sql.run(SQL.deleteStaleBatches, ts - BATCH_LIFETIME_MS);
          id = newBatchId();
          this.sql.run(SQL.insertBatch, id, p.collection, ts);
        }
        for (const r of p.records) {
          this.sql.run(
            SQL.stageItem,
            id,
            r.id,
            r.sortindex ?? null,
            r.payload ?? null,
            r.payload === undefined ? null : this.payloadSize("1.5", r.payload),
            r.ttl ?? null,
          );
        }
        if (!batch.commit) {
          return { ok: true, ts, success, failed: p.failed, usedBefore: q.used, batch: id, lastModified: current };
        }
        this.sql.run(SQL.commitCreate, p.collection, id, ts);
        this.sql.run(SQL.commitUpdate, p.collection, id, ts);
        this.sql.run(SQL.deleteBatchItems, id);
        this.sql.run(SQL.deleteBatch, id);
      } else {
        for (const r of p.records) this.upsert15(p.collection, r, ts);
      }
      this.touchCollection(p.collection, ts);
      this.commitStamp(ts);
      return { ok: true, ts, success, failed: p.failed, usedBefore: q.used, lastModified: ts };
    });
  }

  /**
   * 1.5 DELETE of a collection (storage-1.5 §10.1), checked against the
   * collection timestamp. Without ids: the records, the collection and its
   * pending batches go and the storage tombstone moves to T. With ids: those
   * records go and the collection is stamped T. A collection that does not
   * exist is left alone; the result then carries the storage timestamp.
   */
  deleteCollection(p: DeleteCollectionParams): Result<DeleteResult> {
    return this.sql.transaction((): Result<DeleteResult> => {
      const ts = this.writeStamp();
      const current = this.collectionModified(p.collection);
      const failure = this.conditionFailure(p, current ?? 0);
      if (failure) return { ok: false, failure, ts };
      if (p.ids === undefined) {
        this.sql.run(SQL.deleteCollectionBatchItems, p.collection);
        this.sql.run(SQL.deleteCollectionBatches, p.collection);
      }
      if (current === null) return { ok: true, ts, lastModified: this.storageModified() };
      if (p.ids === undefined) {
        this.sql.run(SQL.deleteCollectionRecords, p.collection);
        this.sql.run(SQL.deleteCollectionRow, p.collection);
        this.tombstone(ts);
      } else {
        this.sql.run(SQL.deleteIds, p.collection, JSON.stringify(p.ids));
        this.touchCollection(p.collection, ts);
      }
      this.commitStamp(ts);
      return { ok: true, ts, lastModified: ts };
    });
  }

  /** 1.5 DELETE of one live record (storage-1.5 §10.2); absent or expired: "not-found". */
  deleteOne(p: GetParams): Result<DeleteResult> {
    return this.sql.transaction((): Result<DeleteResult> => {
      const ts = this.writeStamp();
      const modified = this.liveModified(p.collection, p.id, ts);
      const failure = this.conditionFailure(p, modified ?? 0);
      if (failure) return { ok: false, failure, ts };
      if (modified === null) return { ok: false, failure: { kind: "not-found" }, ts };
      this.sql.run(SQL.deleteRecord, p.collection, p.id);
      this.touchCollection(p.collection, ts);
      this.commitStamp(ts);
      return { ok: true, ts, lastModified: ts };
    });
  }

  /**
   * 1.5 DELETE of everything (storage-1.5 §6.6), checked against the storage
   * timestamp, which the result carries as it was before the deletion; the
   * tombstone keeps it monotonic afterwards.
   */
  deleteStorage(p: Preconditions): Result<DeleteResult> {
    return this.sql.transaction((): Result<DeleteResult> => {
      const ts = this.writeStamp();
      const lastModified = this.storageModified();
      const failure = this.conditionFailure(p, lastModified);
      if (failure) return { ok: false, failure, ts };
      this.sql.run(SQL.deleteAllRecords);
      this.sql.run(SQL.deleteAllCollections);
      this.sql.run(SQL.deleteAllBatchItems);
      this.sql.run(SQL.deleteAllBatches);
      this.tombstone(ts);
      this.commitStamp(ts);
      return { ok: true, ts, lastModified };
    });
  }

  // ---------------------------------------------------------------- upkeep

  /** Removes up to `max` records that expired before `PURGE_GRACE_MS` ago. Returns how many. */
  purgeExpired(max = 5000): number {
    // Counted with RETURNING: rowsWritten would include the triggers' writes.
    return this.sql.transaction(() => this.sql.all(SQL.purgeExpired, this.clock() - PURGE_GRACE_MS, max).length);
  }

  /** When the next purge has something to do (ms), or null. */
  nextPurgeTime(): number | null {
    const e = this.sql.one<{ expiry: number | null }>(SQL.nextExpiry)?.expiry ?? null;
    return e === null ? null : e + PURGE_GRACE_MS;
  }

  // ---------------------------------------------------------------- helpers

  private filterClause(f: RecordFilter, visibleAt: number | null): { where: string; bindings: SqlValue[] } {
    const where = ["collection = ?"];
    const bindings: SqlValue[] = [f.collection];
    if (visibleAt !== null) {
      where.push("(expiry IS NULL OR expiry > ?)");
      bindings.push(visibleAt);
    }
    if (f.ids !== undefined) {
      where.push("id IN (SELECT value FROM json_each(?))");
      bindings.push(JSON.stringify(f.ids));
    }
    if (f.parentid !== undefined) {
      where.push("parentid = ?");
      bindings.push(f.parentid);
    }
    if (f.predecessorid !== undefined) {
      where.push("predecessorid = ?");
      bindings.push(f.predecessorid);
    }
    if (f.newer !== undefined) {
      where.push("modified > ?");
      bindings.push(f.newer);
    }
    if (f.older !== undefined) {
      where.push("modified < ?");
      bindings.push(f.older);
    }
    if (f.indexAbove !== undefined) {
      where.push(Number.isNaN(f.indexAbove) ? "0" : "sortindex > ?");
      if (!Number.isNaN(f.indexAbove)) bindings.push(clampReal(f.indexAbove));
    }
    if (f.indexBelow !== undefined) {
      where.push(Number.isNaN(f.indexBelow) ? "0" : "sortindex < ?");
      if (!Number.isNaN(f.indexBelow)) bindings.push(clampReal(f.indexBelow));
    }
    return { where: where.join(" AND "), bindings };
  }
}

/** 22 random URL-safe characters (128 bits), storage-1.5 §9.3. */
function newBatchId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** ±Infinity bound as the largest finite doubles: every integer sortindex compares the same way. */
function clampReal(x: number): number {
  if (x === Infinity) return Number.MAX_VALUE;
  if (x === -Infinity) return -Number.MAX_VALUE;
  return x;
}

function orderClause(f: RecordFilter & { dialect: Dialect }): string {
  switch (f.sort) {
    case "oldest":
      return f.dialect === "1.1" ? "ORDER BY modified ASC, rowid ASC" : "ORDER BY modified ASC, id ASC";
    case "newest":
      return f.dialect === "1.1" ? "ORDER BY modified DESC, rowid ASC" : "ORDER BY modified DESC, id DESC";
    case "index":
      return f.dialect === "1.1" ? "ORDER BY sortindex DESC, rowid ASC" : "ORDER BY sortindex DESC, id ASC";
    default:
      // 1.1: first-insertion order, as the SQLite reference returns rows.
      return f.dialect === "1.1" ? "ORDER BY rowid ASC" : "ORDER BY modified DESC, id DESC";
  }
}

function limitClause(f: RecordFilter): string {
  const clamp = (n: number) => Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.floor(n)));
  const limit = f.limit !== undefined ? clamp(f.limit) : -1;
  const offset = f.offset !== undefined ? clamp(f.offset) : 0;
  if (limit < 0 && offset === 0) return "";
  return `LIMIT ${limit} OFFSET ${offset}`;
}

function toRecord(r: Record<string, SqlValue>): StoredRecord {
  return {
    id: String(r.id),
    modified: (r.modified as number | null | undefined) ?? null,
    payload: (r.payload as string | null | undefined) ?? null,
    sortindex: (r.sortindex as number | null | undefined) ?? null,
    parentid: (r.parentid as string | null | undefined) ?? null,
    predecessorid: (r.predecessorid as string | null | undefined) ?? null,
  };
}
