/**
 * @module counters
 * The per-collection counters `collections.records`, `bytes` and `size`
 * (docs/storage-schema.md), kept exact by whoever writes `bso`: every write
 * statement's effect is summed here and applied with one statement per
 * collection, instead of a trigger firing per row. What a statement changed
 * is learnt from its RETURNING rows (deletes) or from the rows' footprints
 * before and after it (upserts, batch commits). Upserts carry no RETURNING:
 * in workerd's SQLite a RETURNING upsert wrote about four statement-journal
 * pages per record to a temporary file (bench/pages.mjs counts them).
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
  /** Footprints of the named rows of one collection (?1 collection, ?2 JSON array of ids). */
  footprints: `SELECT id, modified, ${FOOTPRINT} FROM bso WHERE collection = ?1 AND id IN (SELECT value FROM json_each(?2))`,
  /** The same for one id (?2), the common PUT. */
  footprint: `SELECT id, modified, ${FOOTPRINT} FROM bso WHERE collection = ?1 AND id = ?2`,
  /**
   * Deletes up to ?2 records expired at or before ?1 (the oldest expiries
   * first), returning what each occupied.
   */
  purge: `DELETE FROM bso WHERE (collection, id) IN (
            SELECT collection, id FROM bso WHERE expiry IS NOT NULL AND expiry <= ?1 ORDER BY expiry LIMIT ?2)
          RETURNING collection, ${FOOTPRINT}`,
} as const;

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

  /** The named rows of a collection went from `before` to `after` ({@link footprints} of the same ids). */
  changed(collection: string, before: ReadonlyMap<string, Footprint>, after: ReadonlyMap<string, Footprint>): void {
    const sum = (m: ReadonlyMap<string, Footprint>) => {
      let bytes = 0;
      let size = 0;
      for (const f of m.values()) {
        bytes += f.bytes;
        size += f.size;
      }
      return { bytes, size };
    };
    const b = sum(before);
    const a = sum(after);
    this.add(collection, after.size - before.size, a.bytes - b.bytes, a.size - b.size);
  }

  /** Writes the summed changes (one statement per collection that changed) and forgets them. */
  flush(sql: SqlPort): void {
    for (const [name, d] of this.deltas) {
      if (d.records !== 0 || d.bytes !== 0 || d.size !== 0) sql.run(SQL.apply, name, d.records, d.bytes, d.size);
    }
    this.deltas.clear();
  }
}

/** The footprints (and `modified`) of the named records of a collection that exist (expired included), by id. */
export function footprints(sql: SqlPort, collection: string, ids: readonly string[]): Map<string, Footprint & { modified: number | null }> {
  const out = new Map<string, Footprint & { modified: number | null }>();
  if (ids.length === 0) return out;
  type Row = { id: string; modified: number | null; bytes: number; size: number };
  const rows = ids.length === 1 ? sql.all<Row>(SQL.footprint, collection, ids[0]!) : sql.all<Row>(SQL.footprints, collection, JSON.stringify(ids));
  for (const r of rows) {
    out.set(String(r.id), { modified: r.modified === null ? null : Number(r.modified), bytes: Number(r.bytes), size: Number(r.size) });
  }
  return out;
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
