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
  DeleteParams,
  Dialect,
  Failure,
  ListParams,
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
/** Expired records are physically removed this long after they expire. */
export const PURGE_GRACE_MS = 24 * 3600 * 1000;

const encoder = new TextEncoder();

/** Presence bits of the upsert statement. */
const HAS_PAYLOAD = 1;
const HAS_SORTINDEX = 2;
const HAS_PARENTID = 4;
const HAS_PREDECESSORID = 8;
const SET_MODIFIED = 16;

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
      return { ts, totals };
    });
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

  /** PUT of one record. Check order of 1.1: quota, precondition, then the adapter's body verdict. */
  put(p: PutParams): Result<PutResult> {
    return this.sql.transaction((): Result<PutResult> => {
      const ts = this.writeStamp();
      const q = this.quotaFailure(p.dialect, ts, p.quota);
      if (q.failure) return { ok: false, failure: q.failure, ts };
      const pre = this.preconditionFailure(p.collection, p.ifUnmodifiedSince);
      if (pre) return { ok: false, failure: pre, ts };
      if (p.rejectAfterChecks !== undefined) return { ok: false, failure: { kind: "rejected", code: p.rejectAfterChecks }, ts };
      const modified = this.upsert11(p.collection, p.record, ts, this.ttlNow(p.dialect, ts), false);
      this.commitStamp(ts);
      return { ok: true, ts, modified, usedBefore: q.used };
    });
  }

  /** POST of a list of records. Check order of 1.1: precondition, body verdict, quota (storage-1.1 §8.8). */
  post(p: PostParams): Result<PostResult> {
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
