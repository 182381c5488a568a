/**
 * @module counters
 * The per-collection counters `collections.records`, `bytes` and `size`
 * (docs/storage-schema.md), kept exact by whoever writes `bso`: every write
 * statement's effect is summed here and applied with one statement per
 * collection, instead of a trigger firing per row. What a statement changed
 * is learnt from its RETURNING rows (deletes) or from the rows' footprints
 * before and after it (upserts, batch commits). Upserts carry no RETURNING:
 * in workerd's SQLite a RETURNING upsert wrote about four statement-journal
 * pages per record to a temporary file (bench/pages.mjs counts them). After
 * upserts, reading the footprints, applying the change and stamping the
 * collection are one statement ({@link settle}).
 */
import { recordSize } from "./schema";
import type { SqlPort } from "./sql";

/** A change of one collection's counters. */
export interface Delta {
  records: number;
  bytes: number;
  size: number;
}

/** What one stored record adds to its collection's counters: `payload_size` and `recordSize`. */
export interface Footprint {
  bytes: number;
  size: number;
}

/** `payload_size AS bytes, <recordSize> AS size`: a row's {@link Footprint}, for SELECT or RETURNING. */
export const FOOTPRINT = `payload_size AS bytes, ${recordSize()} AS size`;

const SQL = {
  apply: `INSERT INTO collections (name, records, bytes, size) VALUES (?, ?, ?, ?)
          ON CONFLICT (name) DO UPDATE SET records = records + excluded.records, bytes = bytes + excluded.bytes,
                                           size = size + excluded.size`,
  /** How many of the named rows of one collection exist and what they occupy (?1 collection, ?2 JSON array of ids). */
  occupied: `SELECT COUNT(*) AS records, COALESCE(SUM(payload_size), 0) AS bytes, COALESCE(SUM(${recordSize()}), 0) AS size
             FROM bso WHERE collection = ?1 AND id IN (SELECT value FROM json_each(?2))`,
  settleMany: settleSql("id IN (SELECT value FROM json_each(?2))"),
  settleOne: settleSql("id = ?2"),
  /** After a batch commit: the rows staged in batch ?2. */
  settleStaged: settleSql("id IN (SELECT id FROM batch_items WHERE batch_id = ?2)"),
  /**
   * Deletes up to ?2 records expired at or before ?1 (the oldest expiries
   * first), returning what each occupied.
   */
  purge: `DELETE FROM bso WHERE (collection, id) IN (
            SELECT collection, id FROM bso WHERE expiry IS NOT NULL AND expiry <= ?1 ORDER BY expiry LIMIT ?2)
          RETURNING collection, ${FOOTPRINT}`,
} as const;

/**
 * The counters of collection ?1 moved by what the rows named by `ids` (?2)
 * occupy now minus what they occupied before (?4 records, ?5 bytes, ?6
 * size), and its stamp set to ?3 unless that is NULL, in one statement that
 * writes nothing when nothing changed and there is no stamp.
 */
function settleSql(ids: string): string {
  return `INSERT INTO collections (name, modified, records, bytes, size)
          SELECT ?1, COALESCE(?3, 0), COUNT(*) - ?4, COALESCE(SUM(payload_size), 0) - ?5, COALESCE(SUM(${recordSize()}), 0) - ?6
          FROM bso WHERE collection = ?1 AND ${ids}
          HAVING ?3 IS NOT NULL OR COUNT(*) <> ?4 OR COALESCE(SUM(payload_size), 0) <> ?5 OR COALESCE(SUM(${recordSize()}), 0) <> ?6
          ON CONFLICT (name) DO UPDATE SET records = records + excluded.records, bytes = bytes + excluded.bytes,
            size = size + excluded.size, modified = CASE WHEN ?3 IS NULL THEN modified ELSE excluded.modified END`;
}

/** Counter changes of the statements of one transaction, applied together by {@link Tally.flush}. */
export class Tally {
  private readonly deltas = new Map<string, Delta>();

  add(collection: string, records: number, bytes: number, size: number): void {
    const d = this.deltas.get(collection);
    if (d) {
      d.records += records;
      d.bytes += bytes;
      d.size += size;
    } else {
      this.deltas.set(collection, { records, bytes, size });
    }
  }

  /** Rows a statement removed (its RETURNING {@link FOOTPRINT} rows). */
  removed(collection: string, rows: readonly Footprint[]): void {
    let bytes = 0;
    let size = 0;
    for (const r of rows) {
      bytes += Number(r.bytes);
      size += Number(r.size);
    }
    this.add(collection, -rows.length, -bytes, -size);
  }

  /** Writes the summed changes (one statement per collection that changed) and forgets them. */
  flush(sql: SqlPort): void {
    for (const [name, d] of this.deltas) {
      if (d.records !== 0 || d.bytes !== 0 || d.size !== 0) sql.run(SQL.apply, name, d.records, d.bytes, d.size);
    }
    this.deltas.clear();
  }
}

/** A stored record's {@link Footprint}, with its `modified` and `expiry`. */
export interface StoredFootprint extends Footprint {
  modified: number | null;
  expiry: number | null;
}

/** A row's columns `modified, expiry, bytes, size` (as {@link FOOTPRINT} names them) as a {@link StoredFootprint}. */
export function storedFootprint(r: { modified: unknown; expiry: unknown; bytes: unknown; size: unknown }): StoredFootprint {
  return {
    modified: r.modified === null ? null : Number(r.modified),
    expiry: r.expiry === null ? null : Number(r.expiry),
    bytes: Number(r.bytes),
    size: Number(r.size),
  };
}

/** How many of the named records of a collection exist (expired included), and their summed footprints: one row read. */
export function occupied(sql: SqlPort, collection: string, ids: readonly string[]): Delta {
  if (ids.length === 0) return { records: 0, bytes: 0, size: 0 };
  const r = sql.one<{ records: number; bytes: number; size: number }>(SQL.occupied, collection, JSON.stringify(ids));
  return { records: Number(r?.records ?? 0), bytes: Number(r?.bytes ?? 0), size: Number(r?.size ?? 0) };
}

/**
 * After upserts of the named records of a collection, which {@link occupied}
 * `before` them: applies the change of its counters and, when `stamp` is not
 * null, sets its stamp, in one statement (none when `ids` is empty and there
 * is no stamp).
 */
export function settle(sql: SqlPort, collection: string, ids: readonly string[], before: Delta, stamp: number | null): void {
  if (ids.length === 0 && stamp === null) return;
  if (ids.length === 1) sql.run(SQL.settleOne, collection, ids[0]!, stamp, before.records, before.bytes, before.size);
  else sql.run(SQL.settleMany, collection, JSON.stringify(ids), stamp, before.records, before.bytes, before.size);
}

/** {@link settle} after a batch commit: the rows are those staged in `batch` (still staged), `before` what they occupied. */
export function settleStaged(sql: SqlPort, collection: string, batch: string, before: Delta, stamp: number | null): void {
  sql.run(SQL.settleStaged, collection, batch, stamp, before.records, before.bytes, before.size);
}

/**
 * Removes up to `max` records that expired at or before `before`, counters
 * included, inside the caller's transaction. Returns how many.
 */
export function purgeExpiredRecords(sql: SqlPort, before: number, max: number): number {
  const rows = sql.all<{ collection: string; bytes: number; size: number }>(SQL.purge, before, max);
  const tally = new Tally();
  for (const r of rows) tally.add(String(r.collection), -1, -Number(r.bytes), -Number(r.size));
  tally.flush(sql);
  return rows.length;
}
