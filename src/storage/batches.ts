/**
 * @module batches
 * Pending batch uploads (storage-1.5 §9): records staged across requests and
 * applied together by a commit. Every function runs inside the caller's
 * engine transaction; nothing here stamps time or checks preconditions.
 * Stored format: `batches` and `batch_items`, docs/storage-schema.md.
 */
import { settleStaged, type Delta } from "./counters";
import { recordSize } from "./schema";
import { jsonRuns, passesJson, type SqlPort, type SqlValue } from "./sql";
import type { RecordFields } from "./types";

/** A batch must be committed within this long of its creation (storage-1.5 §9.4). */
export const BATCH_LIFETIME_MS = 2 * 3600 * 1000;

const SQL = {
  find: `SELECT id FROM batches WHERE id = ? AND collection = ? AND created > ?`,
  insert: `INSERT INTO batches (id, collection, created) VALUES (?, ?, ?)`,
  /** Later stagings of an id override earlier ones field by field (§9.6 step 2). */
  stage: `INSERT INTO batch_items (batch_id, id, sortindex, payload, payload_size, ttl) VALUES (?, ?, ?, ?, ?, ?)
          ON CONFLICT (batch_id, id) DO UPDATE SET
            sortindex = COALESCE(excluded.sortindex, sortindex),
            payload = COALESCE(excluded.payload, payload),
            payload_size = COALESCE(excluded.payload_size, payload_size),
            ttl = COALESCE(excluded.ttl, ttl)`,
  /** {@link SQL.stage} of the rows of ?2, a JSON array of `[id, sortindex, payload, payload_size, ttl]`, in order, into batch ?1. */
  stageRows: `INSERT INTO batch_items (batch_id, id, sortindex, payload, payload_size, ttl)
              SELECT ?1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?2) WHERE true
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
  /** What the batch's records (?2) of collection ?1 add to its counters before the commit, expired included. */
  footprint: `SELECT COUNT(*) AS records, COALESCE(SUM(payload_size), 0) AS bytes, COALESCE(SUM(${recordSize()}), 0) AS size
              FROM bso WHERE collection = ?1 AND id IN (SELECT id FROM batch_items WHERE batch_id = ?2)`,
  totals: `SELECT COUNT(*) AS records, COALESCE(SUM(payload_size), 0) AS bytes FROM batch_items WHERE batch_id = ?`,
  stagedBytes: `SELECT COALESCE(SUM(i.payload_size), 0) AS bytes FROM batch_items i JOIN batches b ON b.id = i.batch_id WHERE b.created > ?`,
  deleteItems: `DELETE FROM batch_items WHERE batch_id = ?`,
  delete: `DELETE FROM batches WHERE id = ?`,
  deleteStaleItems: `DELETE FROM batch_items WHERE batch_id IN (SELECT id FROM batches WHERE created <= ?)`,
  deleteStale: `DELETE FROM batches WHERE created <= ?`,
  deleteCollectionItems: `DELETE FROM batch_items WHERE batch_id IN (SELECT id FROM batches WHERE collection = ?)`,
  deleteCollection: `DELETE FROM batches WHERE collection = ?`,
  deleteAllItems: `DELETE FROM batch_items`,
  deleteAll: `DELETE FROM batches`,
} as const;

/** The staging area of one store. */
export class Batches {
  /** @param rowsAsJson whether a request's records may be staged with one statement (see {@link stage}). */
  constructor(
    private readonly sql: SqlPort,
    private readonly rowsAsJson = true,
  ) {}

  /** Whether `id` is a batch of `collection` still valid at T. */
  isOpen(id: string, collection: string, ts: number): boolean {
    return this.sql.one(SQL.find, id, collection, ts - BATCH_LIFETIME_MS) !== null;
  }

  /** Starts a batch in `collection` at T and returns its id; expired batches are dropped whenever one starts. */
  open(collection: string, ts: number): string {
    this.sql.run(SQL.deleteStaleItems, ts - BATCH_LIFETIME_MS);
    this.sql.run(SQL.deleteStale, ts - BATCH_LIFETIME_MS);
    const id = newBatchId();
    this.sql.run(SQL.insert, id, collection, ts);
    return id;
  }

  /**
   * Stages records into a batch, merging with what earlier requests staged
   * for the same ids, in order: in one statement per run of at most
   * JSON_ROWS_MAX_BYTES when every value passes through JSON unchanged
   * (a larger record on its own), otherwise one per record.
   */
  stage(id: string, records: readonly RecordFields[], payloadSize: (payload: string) => number): void {
    const rows = records.map((r): SqlValue[] => [
      r.id,
      r.sortindex ?? null,
      r.payload ?? null,
      r.payload === undefined ? null : payloadSize(r.payload),
      r.ttl ?? null,
    ]);
    if (this.rowsAsJson && rows.length > 1 && rows.every((row) => row.every(passesJson))) {
      for (const run of jsonRuns(rows)) {
        if ("json" in run) this.sql.run(SQL.stageRows, id, run.json);
        else this.sql.run(SQL.stage, id, ...run.row);
      }
      return;
    }
    for (const row of rows) this.sql.run(SQL.stage, id, ...row);
  }

  /** Distinct records and payload units staged in a batch so far (later stagings of an id replace earlier ones). */
  totals(id: string): { records: number; bytes: number } {
    return this.sql.one<{ records: number; bytes: number }>(SQL.totals, id) ?? { records: 0, bytes: 0 };
  }

  /** Payload units staged in every batch still valid at T: they count toward the quota before they are committed. */
  stagedBytes(ts: number): number {
    return this.sql.one<{ bytes: number }>(SQL.stagedBytes, ts - BATCH_LIFETIME_MS)?.bytes ?? 0;
  }

  /**
   * Applies a batch to `collection` at T (storage-1.5 §9.6): staged ids with
   * no live record are created with defaults for unsupplied fields, live
   * records take the supplied fields, every record gets `modified = T`; the
   * batch is gone afterwards. The collection's counters change by the
   * batch's records' footprint after minus before (only they change), and
   * its stamp becomes `stamp` unless that is null.
   */
  commit(id: string, collection: string, ts: number, stamp: number | null): void {
    const before = this.sql.one<{ records: number; bytes: number; size: number }>(SQL.footprint, collection, id) ?? { records: 0, bytes: 0, size: 0 };
    this.sql.run(SQL.commitCreate, collection, id, ts);
    this.sql.run(SQL.commitUpdate, collection, id, ts);
    settleStaged(this.sql, collection, id, before, stamp);
    this.sql.run(SQL.deleteItems, id);
    this.sql.run(SQL.delete, id);
  }

  /** Drops the batches of one collection (its deletion, storage-1.5 §10.1). */
  dropCollection(collection: string): void {
    this.sql.run(SQL.deleteCollectionItems, collection);
    this.sql.run(SQL.deleteCollection, collection);
  }

  /** Drops every batch (deletion of the storage). */
  dropAll(): void {
    this.sql.run(SQL.deleteAllItems);
    this.sql.run(SQL.deleteAll);
  }
}

/** 22 random URL-safe characters (128 bits), storage-1.5 §9.3. */
function newBatchId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
