/**
 * @module engine
 * The storage engine: one user's collections of records. It knows nothing of
 * HTTP; it runs on a {@link SqlPort}, and where the two protocols differ it
 * follows the store's {@link Profile}, fixed when the engine is built. There
 * is one method per operation, and every operation is one run of
 * {@link StorageEngine.unit}: stamp the time, run the checks (preconditions
 * and the operation's own) in the profile's order, do the work, stamp the
 * touched collection, record the time, all in one synchronous transaction,
 * so a check and the write it guards can never be separated and a request's
 * writes land all together or not at all.
 *
 * Time: one timestamp `T` per request, in integer ms (multiple of 10). A
 * write's T is strictly greater than anything stored before (storage-1.5
 * §5.4, an improvement storage-1.1 §17 allows), so `newer=` never misses a
 * write. A read's T is never below the last write.
 */
import { nowTick } from "../lib/timestamp";
import { Batches } from "./batches";
import { FOOTPRINT, occupied, purgeExpiredRecords, settle, storedFootprint, Tally, type Delta, type Footprint, type StoredFootprint } from "./counters";
import { profileForCode, type CheckName, type Order, type Profile } from "./profile";
import { migrate, RECORD_OVERHEAD, recordSize } from "./schema";
import { jsonRuns, passesJson, type SqlPort, type SqlValue } from "./sql";
import type {
  DeleteParams,
  DeleteResult,
  Failure,
  GetResult,
  InfoParams,
  InfoResult,
  ListCursor,
  ListParams,
  ListResult,
  PostParams,
  PostResult,
  Preconditions,
  PutParams,
  PutResult,
  RecordFields,
  RecordFilter,
  RecordParams,
  Result,
  StoredRecord,
} from "./types";

export { BATCH_LIFETIME_MS } from "./batches";

const LAST_MODIFIED_KEY = "last_modified";
/** With collection stamps: when a collection or the whole store was last deleted (storage-1.5 §5.3). */
const STORAGE_TOMBSTONE_KEY = "storage_tombstone";
/** The profile this store serves (`Profile.code`). */
const PROTOCOL_KEY = "protocol";
/** Expired records are physically removed this long after they expire. */
export const PURGE_GRACE_MS = 24 * 3600 * 1000;

/** Flags of the upsert statement. */
const HAS_PAYLOAD = 1;
const HAS_SORTINDEX = 2;
const HAS_PARENTID = 4;
const HAS_PREDECESSORID = 8;
const SET_MODIFIED = 16;
const SET_EXPIRY = 32;
/** An expired row is replaced as if absent (its unsupplied fields take the inserted defaults). */
const REPLACE_EXPIRED = 64;

/** Longest record id of either protocol (storage-1.1 §5.2, storage-1.5 §4.1). */
const MAX_ID_UNITS = 64;

const RECORD_COLUMNS = "id, modified, payload, sortindex, parentid, predecessorid";
/** Columns in {@link RECORD_COLUMNS} (rows are read by position: {@link toRecord}). */
const RECORD_COLUMN_COUNT = 6;

/** Every fixed statement of the engine, in one place (batches: src/storage/batches.ts). */
const SQL = {
  getMeta: `SELECT value FROM meta WHERE key = ?`,
  /** The last write (meta key 1), and the storage's stamp: the latest collection stamp or the tombstone (meta key 2). */
  lastAndStorageStamp: `SELECT (SELECT value FROM meta WHERE key = ?) AS last,
    MAX((SELECT COALESCE(MAX(modified), 0) FROM collections), COALESCE((SELECT value FROM meta WHERE key = ?), 0)) AS level`,
  /** The last write, and a collection's stamp. */
  lastAndCollectionStamp: `SELECT (SELECT value FROM meta WHERE key = ?) AS last, (SELECT modified FROM collections WHERE name = ?) AS level`,
  /** The last write, and a collection's newest record, expired included. */
  lastAndCollectionMax: `SELECT (SELECT value FROM meta WHERE key = ?) AS last, (SELECT MAX(modified) FROM bso WHERE collection = ?) AS level`,
  setMeta: `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  /** Newest record of each collection holding rows, expired included (storage-1.1 §8.1). */
  collectionMaxima: `SELECT c.name AS name, (SELECT MAX(b.modified) FROM bso b WHERE b.collection = c.name) AS modified
                     FROM collections c WHERE c.records > 0 ORDER BY c.name`,
  /** Collections with their own timestamp (storage-1.5 §6.1); 0 = never stamped. */
  collectionStamps: `SELECT name, modified FROM collections WHERE modified > 0 ORDER BY name`,
  collectionStamp: `SELECT modified FROM collections WHERE name = ?`,
  maxCollectionStamp: `SELECT COALESCE(MAX(modified), 0) AS modified FROM collections`,
  touchCollection: `INSERT INTO collections (name, modified) VALUES (?, ?)
                    ON CONFLICT (name) DO UPDATE SET modified = excluded.modified`,
  collectionTotals: `SELECT name, records, bytes FROM collections WHERE records > 0 ORDER BY name`,
  expiredTotals: `SELECT collection, COUNT(*) AS records, COALESCE(SUM(payload_size), 0) AS bytes
                  FROM bso WHERE expiry IS NOT NULL AND expiry <= ? GROUP BY collection`,
  /** Quota units stored, expired rows included, per `Profile.quotaCounts`. */
  totalUnits: {
    payload: `SELECT COALESCE(SUM(bytes), 0) AS units FROM collections`,
    record: `SELECT COALESCE(SUM(size), 0) AS units FROM collections`,
  },
  /** Quota units of expired rows, per `Profile.quotaCounts`. */
  expiredUnits: {
    payload: `SELECT COALESCE(SUM(payload_size), 0) AS units FROM bso WHERE expiry IS NOT NULL AND expiry <= ?`,
    record: `SELECT COALESCE(SUM(${recordSize("bso")}), 0) AS units FROM bso WHERE expiry IS NOT NULL AND expiry <= ?`,
  },
  getRecord: `SELECT ${RECORD_COLUMNS} FROM bso WHERE collection = ? AND id = ? AND (expiry IS NULL OR expiry > ?)`,
  liveModified: `SELECT modified FROM bso WHERE collection = ? AND id = ? AND (expiry IS NULL OR expiry > ?)`,
  rowExists: `SELECT 1 AS n FROM bso WHERE collection = ? AND id = ?`,
  /** The first insertion number above every record (profiles that order by it). */
  nextSeq: `SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM bso WHERE seq IS NOT NULL`,
  /**
   * Writes one record at T. ?1-?9: the row as inserted (unsupplied fields
   * already carry the profile's defaults), ?10: flags, ?11: the visibility
   * instant, ?12: its insertion number (kept by an update).
   */
  upsert: `INSERT INTO bso (collection, id, parentid, predecessorid, sortindex, modified, payload, payload_size, expiry, seq)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?12) ${upsertConflict("?10", "?11")}`,
  /**
   * Writes the records of ?2, a JSON array of rows `[id, parentid,
   * predecessorid, sortindex, modified, payload, payload_size, expiry, seq]`
   * as {@link SQL.upsert} takes them, into collection ?1 at T, all with the
   * flags ?3 (visibility instant ?4): one statement for a POST's records
   * instead of one per record.
   */
  upsertRows: `INSERT INTO bso (collection, id, parentid, predecessorid, sortindex, modified, payload, payload_size, expiry, seq)
               SELECT ?1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8
               FROM json_each(?2) WHERE true ${upsertConflict("?3", "?4")}`,
  /** The last write and the stored state of record (?2, ?3), expired included (all NULL when absent). */
  lastAndRow: `SELECT (SELECT value FROM meta WHERE key = ?1) AS last, b.modified AS modified, b.expiry AS expiry,
                 b.payload_size AS bytes, ${recordSize("b")} AS size
               FROM (SELECT 1) LEFT JOIN bso b ON b.collection = ?2 AND b.id = ?3`,
  /** The same with the collection's newest record, expired included (the level without collection stamps). */
  lastMaxAndRow: `SELECT (SELECT value FROM meta WHERE key = ?1) AS last, (SELECT MAX(modified) FROM bso WHERE collection = ?2) AS level,
                    b.modified AS modified, b.expiry AS expiry, b.payload_size AS bytes, ${recordSize("b")} AS size
                  FROM (SELECT 1) LEFT JOIN bso b ON b.collection = ?2 AND b.id = ?3`,
  deleteRecord: `DELETE FROM bso WHERE collection = ? AND id = ? RETURNING ${FOOTPRINT}`,
  deleteCollectionRecords: `DELETE FROM bso WHERE collection = ?`,
  deleteCollectionRow: `DELETE FROM collections WHERE name = ?`,
  deleteAllRecords: `DELETE FROM bso`,
  deleteAllCollections: `DELETE FROM collections`,
  nextExpiry: `SELECT MIN(expiry) AS expiry FROM bso WHERE expiry IS NOT NULL`,
} as const;

/**
 * The conflict clause of the upserts: each field is taken from the new row
 * when supplied (its flag in `flags`), or when the stored row is expired at
 * `visibleAt` and REPLACE_EXPIRED is set.
 */
function upsertConflict(flags: string, visibleAt: string): string {
  const gone = `(${flags} & ${REPLACE_EXPIRED} AND expiry IS NOT NULL AND expiry <= ${visibleAt})`;
  const take = (flag: number, column: string) => `${column} = CASE WHEN ${flags} & ${flag} OR ${gone} THEN excluded.${column} ELSE ${column} END`;
  return `ON CONFLICT (collection, id) DO UPDATE SET
    ${take(HAS_PARENTID, "parentid")}, ${take(HAS_PREDECESSORID, "predecessorid")}, ${take(HAS_SORTINDEX, "sortindex")},
    ${take(HAS_PAYLOAD, "payload")}, ${take(HAS_PAYLOAD, "payload_size")}, ${take(SET_MODIFIED, "modified")}, ${take(SET_EXPIRY, "expiry")}`;
}

/** What an operation addresses: the storage, a collection, or a record. */
type Target = { collection?: undefined; id?: undefined } | { collection: string; id?: string };

/** The state of one unit of work, shared by its checks and its body. */
interface UnitContext {
  /** The request's timestamp. */
  readonly ts: number;
  /** The instant visibility and TTLs are judged at (profile). */
  readonly visibleAt: number;
  /** Set by the quota check. */
  usedBefore?: number;
  /** Whether the unit records T as the store's last write (writes that changed nothing clear it). */
  stamp: boolean;
  /** The target record's stored state before the unit (null: absent), when the unit asked for it ({@link UnitSpec.row}). */
  row?: StoredFootprint | null;
}

interface UnitSpec<R> {
  write: boolean;
  target: Target;
  pre: Preconditions;
  /** Read the target record's stored state with the level (one statement), into {@link UnitContext.row}. */
  row?: boolean;
  /** Check order; "precondition" is the built-in one. Default: preconditions only. */
  order?: readonly CheckName[];
  checks?: Partial<Record<Exclude<CheckName, "precondition">, (cx: UnitContext) => Failure | null>>;
  /** The work. May throw {@link Refusal} to undo everything it wrote. */
  run(cx: UnitContext, lastModified: number): R;
}

/** Thrown inside a unit to refuse the operation after it has begun writing: the transaction rolls back. */
class Refusal extends Error {
  constructor(readonly failure: Failure) {
    super(`refused: ${failure.kind}`);
    this.name = "Refusal";
  }
}

export interface CollectionTotals {
  name: string;
  records: number;
  bytes: number;
}

export interface EngineOptions {
  /** False: every record is written with its own statement (the same result; for tests). Default true. */
  rowsAsJson?: boolean;
}

export class StorageEngine {
  readonly profile: Profile;
  private readonly batches: Batches;
  /** Whether a listing order breaks ties by insertion (`bso.seq`): inserts then number their records. */
  private readonly numbersInserts: boolean;
  /** Set when a write may have given a record an expiry the purge alarm must cover. */
  private purgeDue = false;

  /**
   * @param profile the profile the store's name implies; a profile already
   *   recorded in the store wins and must agree with it. Null: the recorded
   *   one (a store that has none cannot be used).
   */
  /** Whether a request's records may be written with one statement (rows as JSON); tests compare both ways. */
  private readonly rowsAsJson: boolean;

  constructor(
    private readonly sql: SqlPort,
    profile: Profile | null,
    private readonly clock: () => number = Date.now,
    options: EngineOptions = {},
  ) {
    migrate(sql);
    this.profile = this.settleProfile(profile);
    this.rowsAsJson = options.rowsAsJson ?? true;
    this.batches = new Batches(sql, this.rowsAsJson);
    this.numbersInserts = Object.values(this.profile.order).some((o) => o.tie === "seq");
  }

  private settleProfile(named: Profile | null): Profile {
    const code = this.sql.one<{ value: number }>(SQL.getMeta, PROTOCOL_KEY)?.value;
    if (code !== undefined) {
      const recorded = profileForCode(code);
      if (!recorded) throw new Error(`store records unknown protocol ${code}`);
      if (named && named !== recorded) throw new Error(`store records protocol ${recorded.protocol}, its name says ${named.protocol}`);
      return recorded;
    }
    if (!named) throw new Error("store has no protocol profile");
    this.sql.transaction(() => this.sql.run(SQL.setMeta, PROTOCOL_KEY, named.code));
    return named;
  }

  // ---------------------------------------------------------------- the unit of work

  /**
   * One operation: T (writes: strictly above every earlier write), the level
   * the preconditions address, the checks in order (the first failure is the
   * result and nothing is written), the work, then T recorded as the last
   * write. All in one transaction.
   */
  private unit<R extends object>(spec: UnitSpec<R>): Result<Omit<R, "lastModified"> & { ts: number; lastModified: number }> {
    let ts = 0;
    const body = () => {
      const { last, level: known, row }: { last: number; level?: number | null; row?: StoredFootprint | null } = spec.row
        ? this.lastLevelAndRow(spec.target)
        : this.lastAndLevel(spec.target);
      const now = this.clock();
      ts = spec.write ? Math.max(nowTick(now), last + 10) : Math.max(nowTick(now), last);
      const cx: UnitContext = { ts, visibleAt: this.profile.visibleAt(ts, now), stamp: spec.write };
      if (row !== undefined) cx.row = row;
      const level = known !== undefined ? known : row !== undefined ? liveModified(row, cx.visibleAt) : this.recordLevel(spec.target, cx);
      for (const name of spec.order ?? ["precondition"]) {
        const failure = name === "precondition" ? conditionFailure(spec.pre, level) : (spec.checks?.[name]?.(cx) ?? null);
        if (failure) return { ok: false as const, failure, ts };
      }
      const out = spec.run(cx, level ?? 0);
      if (cx.stamp) this.sql.run(SQL.setMeta, LAST_MODIFIED_KEY, ts);
      return { ok: true as const, ts, lastModified: level ?? 0, ...out };
    };
    try {
      // A read writes nothing and runs synchronously in the object's single
      // thread: no other request can interleave, so it needs no transaction.
      return spec.write ? this.sql.transaction(body) : body();
    } catch (err) {
      if (err instanceof Refusal) return { ok: false, failure: err.failure, ts };
      throw err;
    }
  }

  /**
   * The last-modified time preconditions are checked against (null: never
   * modified), with the store's last write, in one statement. With collection
   * stamps (storage-1.5 §5.3): the storage's is the latest collection stamp
   * or tombstone, a collection's its own stamp, a record's its modified while
   * live. Without (storage-1.1 §10): the collection's newest record, expired
   * included, answers for the collection and its records; the storage's is
   * the last write. A record's level depends on T, so `level` is undefined
   * for a record ({@link recordLevel} reads it once T is known).
   */
  private lastAndLevel(t: Target): { last: number; level?: number | null } {
    type Row = { last: number | null; level: number | null };
    const stamps = this.profile.collectionStamps;
    if (t.collection === undefined) {
      if (!stamps) {
        const last = this.lastWrite();
        return { last, level: last };
      }
      const r = this.sql.one<Row>(SQL.lastAndStorageStamp, LAST_MODIFIED_KEY, STORAGE_TOMBSTONE_KEY);
      return { last: r?.last ?? 0, level: r?.level ?? 0 };
    }
    if (t.id !== undefined && stamps) return { last: this.lastWrite() };
    const r = this.sql.one<Row>(stamps ? SQL.lastAndCollectionStamp : SQL.lastAndCollectionMax, LAST_MODIFIED_KEY, t.collection);
    return { last: r?.last ?? 0, level: r?.level ?? null };
  }

  /**
   * {@link lastAndLevel} of a record together with the record's stored state,
   * in one statement (with collection stamps the level is then the record's
   * modified while live, left to the caller once T is known).
   */
  private lastLevelAndRow(t: Target): { last: number; level?: number | null; row: StoredFootprint | null } {
    if (t.collection === undefined || t.id === undefined) throw new Error("lastLevelAndRow: not a record");
    type Row = { last: number | null; level?: number | null; modified: number | null; expiry: number | null; bytes: number | null; size: number | null };
    const stamps = this.profile.collectionStamps;
    const r = this.sql.one<Row>(stamps ? SQL.lastAndRow : SQL.lastMaxAndRow, LAST_MODIFIED_KEY, t.collection, t.id);
    const row = r === null || r.bytes === null ? null : storedFootprint(r);
    return stamps ? { last: r?.last ?? 0, row } : { last: r?.last ?? 0, level: r?.level ?? null, row };
  }

  /** A record's level with collection stamps: its modified while live at T (see {@link lastAndLevel}). */
  private recordLevel(t: Target, cx: UnitContext): number | null {
    if (t.collection === undefined || t.id === undefined) throw new Error("recordLevel: not a record");
    return this.sql.one<{ modified: number }>(SQL.liveModified, t.collection, t.id, cx.visibleAt)?.modified ?? null;
  }

  /** The latest timestamp any write of this user carried. */
  private lastWrite(): number {
    return this.sql.one<{ value: number }>(SQL.getMeta, LAST_MODIFIED_KEY)?.value ?? 0;
  }

  private storageStamp(): number {
    const c = this.sql.one<{ modified: number }>(SQL.maxCollectionStamp)?.modified ?? 0;
    const t = this.sql.one<{ value: number }>(SQL.getMeta, STORAGE_TOMBSTONE_KEY)?.value ?? 0;
    return Math.max(c, t);
  }

  private collectionStamp(collection: string): number | null {
    return this.sql.one<{ modified: number }>(SQL.collectionStamp, collection)?.modified ?? null;
  }

  /** A write touched the collection: with collection stamps, it carries T from now on. */
  private touch(collection: string, cx: UnitContext): void {
    if (this.profile.collectionStamps) this.sql.run(SQL.touchCollection, collection, cx.ts);
  }

  /** A collection or the storage was deleted: with collection stamps, the storage's timestamp stays at T. */
  private tombstone(cx: UnitContext): void {
    if (this.profile.collectionStamps) this.sql.run(SQL.setMeta, STORAGE_TOMBSTONE_KEY, cx.ts);
  }

  /**
   * The write is refused when the store already holds `quota` units or more:
   * live records plus what open batches have staged, except the batch this
   * request commits (its staging was accepted already), so the write that
   * crosses the quota is accepted and the next one refused.
   */
  private quotaCheck(quota: number | null, cx: UnitContext, committing?: string): Failure | null {
    if (quota === null) return null;
    const staged = this.batches.stagedBytes(cx.ts) - (committing === undefined ? 0 : this.batches.totals(committing).bytes);
    cx.usedBefore = this.usedUnits(cx) + staged;
    return cx.usedBefore >= quota ? { kind: "over-quota" } : null;
  }

  // ---------------------------------------------------------------- reads

  /** `info/collections`, `collection_counts`, `collection_usage`, `quota`, checked against the storage level. */
  info(p: InfoParams): Result<InfoResult> {
    return this.unit({
      write: false,
      target: {},
      pre: p,
      run: (cx): Partial<InfoResult> => {
        switch (p.view) {
          case "collections": {
            const query = this.profile.collectionStamps ? SQL.collectionStamps : SQL.collectionMaxima;
            const rows = this.sql.all<{ name: string; modified: number | null }>(query);
            return { collections: rows.map((r) => [r.name, r.modified] as [string, number | null]) };
          }
          case "counts":
          case "usage":
            return { totals: this.totalsAt(cx) };
          case "quota":
            return { used: this.usedUnits(cx) };
        }
      },
    });
  }

  /**
   * Live records of a collection matching the filter, in the requested order
   * (ties as the profile breaks them), checked against the collection level.
   * At most `min(limit, pageCap)` rows, fewer when `pageBytes` stops the page
   * first; when more match, `nextOffset` is the skip count of the next page.
   */
  list(p: ListParams): Result<ListResult> {
    return this.unit({ write: false, target: { collection: p.collection }, pre: p, run: (cx) => this.page(p, cx) });
  }

  /** One live record, checked against the record level; absent or expired: "not-found". */
  get(p: RecordParams): Result<GetResult> {
    return this.unit({
      write: false,
      target: { collection: p.collection, id: p.id },
      pre: p,
      run: (cx) => {
        const [row] = this.sql.each(SQL.getRecord, p.collection, p.id, cx.visibleAt);
        if (!row) throw new Refusal({ kind: "not-found" });
        return { record: toRecord(row) };
      },
    });
  }

  // ---------------------------------------------------------------- writes

  /** PUT of one record: the profile's check order (or the precondition first), then the upsert. */
  put(p: PutParams): Result<PutResult> {
    const order = this.profile.checks.put;
    return this.unit({
      write: true,
      target: { collection: p.collection, id: p.record.id },
      pre: p,
      row: true,
      order: p.preconditionFirst ? ["precondition", ...order.filter((c) => c !== "precondition")] : order,
      checks: { quota: (cx) => this.quotaCheck(p.quota, cx), verdict: () => rejected(p.rejectAfterChecks) },
      run: (cx) => {
        const row = cx.row ?? null;
        this.write(p.collection, [p.record], cx, "put", row === null ? { records: 0, bytes: 0, size: 0 } : { records: 1, ...row });
        return { modified: this.modifiedAfter(p.record, row, cx, "put"), usedBefore: cx.usedBefore, lastModified: cx.ts };
      },
    });
  }

  /**
   * POST of a list of records, checked against the collection level: write
   * them at T, or stage them into a new or existing batch (nothing visible
   * changes, no timestamp moves), or stage them and commit the whole batch at T.
   */
  post(p: PostParams): Result<PostResult> {
    const batch = p.batch && (p.batch.id !== null || !p.batch.commit) ? p.batch : undefined;
    return this.unit({
      write: true,
      target: { collection: p.collection },
      pre: p,
      order: this.profile.checks.post,
      checks: {
        verdict: () => rejected(p.rejectAfterChecks),
        batch: (cx) =>
          batch?.id != null && !this.batches.isOpen(batch.id, p.collection, cx.ts) ? { kind: "batch-not-found" } : null,
        quota: (cx) => this.quotaCheck(p.quota, cx, batch?.commit ? (batch.id ?? undefined) : undefined),
      },
      run: (cx): Omit<PostResult, "ts" | "lastModified"> & { lastModified?: number } => {
        const success = p.records.map((r) => r.id);
        if (batch) {
          const id = batch.id ?? this.batches.open(p.collection, cx.ts);
          this.batches.stage(id, p.records, this.profile.payloadSize);
          if (p.batchLimits && exceeds(this.batches.totals(id), p.batchLimits)) throw new Refusal({ kind: "too-large" });
          if (!batch.commit) {
            cx.stamp = false;
            return { success, usedBefore: cx.usedBefore, batch: id };
          }
          // Staged ttls of earlier requests take effect now.
          this.batches.commit(id, p.collection, cx.ts, this.profile.collectionStamps ? cx.ts : null);
          this.expiryWritten();
        } else {
          this.write(p.collection, p.records, cx, "post");
        }
        return { success, usedBefore: cx.usedBefore, lastModified: cx.ts };
      },
    });
  }

  /**
   * Deletes the records of a collection selected as a listing would select
   * them (filters, sort, limit, offset), expired ones included, checked
   * against the collection level. Selecting nothing in particular deletes
   * the collection: its records, its pending batches and (with collection
   * stamps) its timestamp, leaving a tombstone. With collection stamps, a
   * collection that does not exist is left alone and the result carries the
   * storage level.
   */
  deleteRecords(p: DeleteParams): Result<DeleteResult> {
    return this.unit({
      write: true,
      target: { collection: p.collection },
      pre: p,
      run: (cx) => {
        const whole = selectsAll(p);
        if (whole) this.batches.dropCollection(p.collection);
        if (this.profile.collectionStamps && this.collectionStamp(p.collection) === null) {
          cx.stamp = false;
          return { lastModified: this.storageStamp() };
        }
        if (whole) {
          this.sql.run(SQL.deleteCollectionRecords, p.collection);
          this.sql.run(SQL.deleteCollectionRow, p.collection);
          this.tombstone(cx);
        } else {
          const { where, bindings } = this.filterClause(p, null);
          const tally = new Tally();
          const gone = this.sql.all<Footprint & Record<string, SqlValue>>(
            `DELETE FROM bso WHERE collection = ? AND id IN (
               SELECT id FROM bso WHERE ${where.join(" AND ")} ${this.orderClause(p)} ${limitClause(p.limit, p.offset)})
             RETURNING ${FOOTPRINT}`,
            p.collection,
            ...bindings,
          );
          tally.removed(p.collection, gone);
          tally.flush(this.sql);
          this.touch(p.collection, cx);
        }
        return { lastModified: cx.ts };
      },
    });
  }

  /** Deletes one record, checked against the record level; a missing one is "not-found" if the profile says so. */
  deleteRecord(p: RecordParams): Result<DeleteResult> {
    return this.unit({
      write: true,
      target: { collection: p.collection, id: p.id },
      pre: p,
      run: (cx) => {
        if (this.profile.absentDeleteFails && !this.isPresent(p.collection, p.id, cx)) throw new Refusal({ kind: "not-found" });
        const tally = new Tally();
        tally.removed(p.collection, this.sql.all<Footprint & Record<string, SqlValue>>(SQL.deleteRecord, p.collection, p.id));
        tally.flush(this.sql);
        this.touch(p.collection, cx);
        return { lastModified: cx.ts };
      },
    });
  }

  /**
   * Deletes every record, collection and batch, checked against the storage
   * level, which the result carries as it was before the deletion; with
   * collection stamps the tombstone keeps it monotonic afterwards.
   */
  deleteStorage(p: Preconditions): Result<DeleteResult> {
    return this.unit({
      write: true,
      target: {},
      pre: p,
      run: (cx) => {
        this.sql.run(SQL.deleteAllRecords);
        this.sql.run(SQL.deleteAllCollections);
        this.batches.dropAll();
        this.tombstone(cx);
        return {};
      },
    });
  }

  // ---------------------------------------------------------------- upkeep

  /** True once after a write that needs the purge alarm re-armed (profiles that purge only). */
  takePurgeDue(): boolean {
    const due = this.purgeDue;
    this.purgeDue = false;
    return due;
  }

  /** Removes up to `max` records that expired before `PURGE_GRACE_MS` ago. Returns how many. */
  purgeExpired(max = 5000): number {
    if (!this.profile.purgesExpired) return 0;
    return this.sql.transaction(() => purgeExpiredRecords(this.sql, this.clock() - PURGE_GRACE_MS, max));
  }

  /** When the next purge has something to do (ms), or null. */
  nextPurgeTime(): number | null {
    if (!this.profile.purgesExpired) return null;
    const e = this.sql.one<{ expiry: number | null }>(SQL.nextExpiry)?.expiry ?? null;
    return e === null ? null : e + PURGE_GRACE_MS;
  }

  // ---------------------------------------------------------------- helpers

  private expiryWritten(): void {
    if (this.profile.purgesExpired) this.purgeDue = true;
  }

  private isPresent(collection: string, id: string, cx: UnitContext): boolean {
    if (this.profile.expiredCountAsPresent) return this.sql.one(SQL.rowExists, collection, id) !== null;
    return this.sql.one(SQL.liveModified, collection, id, cx.visibleAt) !== null;
  }

  /**
   * Writes records of one collection at T with the profile's upsert rules,
   * counters and (with collection stamps) the collection's stamp included.
   * `before`: what the records {@link occupied} before the write, when the
   * caller read it already.
   */
  private write(
    collection: string,
    records: readonly RecordFields[],
    cx: UnitContext,
    op: "put" | "post",
    before: Delta = occupied(this.sql, collection, records.map((r) => r.id)),
  ): void {
    const ids = records.map((r) => r.id);
    // Numbers only when something may be inserted: fewer of the ids exist than are named.
    const inserts = this.numbersInserts && before.records < new Set(ids).size;
    const seq = inserts ? (this.sql.one<{ seq: number }>(SQL.nextSeq)?.seq ?? 1) : null;
    this.upsertAll(collection, records, cx, op, seq);
    settle(this.sql, collection, ids, before, this.profile.collectionStamps ? cx.ts : null);
  }

  /**
   * A record's `modified` after {@link upsert} wrote `rec` over `stored` (null:
   * absent): what the upsert statement's rules give, without reading it back.
   */
  private modifiedAfter(rec: RecordFields, stored: StoredFootprint | null, cx: UnitContext, op: "put" | "post"): number | null {
    const u = this.profile.upsert;
    const stamps = u.stamps(rec, op);
    const replaced = stored === null || (u.replaceExpired && stored.expiry !== null && stored.expiry <= cx.visibleAt);
    if (replaced) return stamps || u.stampsInserts ? cx.ts : null;
    return stamps ? cx.ts : stored.modified;
  }

  /**
   * Writes records with the profile's upsert rules; the i-th record that is
   * inserted gets insertion number `seq + i` (an update keeps its number, so
   * numbers may be skipped: only their order matters). Records with distinct
   * ids whose text JSON carries unchanged are written with one statement per
   * set of flags and run of at most {@link JSON_ROWS_MAX_BYTES} ({@link
   * SQL.upsertRows}; a larger record on its own); otherwise one statement
   * each, in order.
   */
  private upsertAll(collection: string, records: readonly RecordFields[], cx: UnitContext, op: "put" | "post", seq: number | null): void {
    const rows = records.map((rec, i) => this.upsertRow(rec, cx, op, seq === null ? null : seq + i));
    if (this.rowsAsJson && records.length > 1 && rows.every((r) => r.viaJson) && new Set(records.map((r) => r.id)).size === records.length) {
      const byFlags = new Map<number, SqlValue[][]>();
      for (const r of rows) {
        const group = byFlags.get(r.flags);
        if (group) group.push(r.values);
        else byFlags.set(r.flags, [r.values]);
      }
      for (const [flags, group] of byFlags) {
        for (const run of jsonRuns(group)) {
          if ("json" in run) this.sql.run(SQL.upsertRows, collection, run.json, flags, cx.visibleAt);
          else this.upsertOne(collection, run.row, flags, cx);
        }
      }
      return;
    }
    for (const r of rows) this.upsertOne(collection, r.values, r.flags, cx);
  }

  /** {@link SQL.upsert} of one row as {@link upsertRow} makes it. */
  private upsertOne(collection: string, values: readonly SqlValue[], flags: number, cx: UnitContext): void {
    const [id, parentid, predecessorid, sortindex, modified, payload, payloadSize, expiry, seq] = values;
    this.sql.run(SQL.upsert, collection, id!, parentid!, predecessorid!, sortindex!, modified!, payload!, payloadSize!, expiry!, flags, cx.visibleAt, seq!);
  }

  /**
   * One record as the upserts take it: the row as inserted (`id, parentid,
   * predecessorid, sortindex, modified, payload, payload_size, expiry, seq`),
   * its flags, and whether its values pass through JSON unchanged.
   */
  private upsertRow(rec: RecordFields, cx: UnitContext, op: "put" | "post", seq: number | null): { values: SqlValue[]; flags: number; viaJson: boolean } {
    const u = this.profile.upsert;
    const stamps = u.stamps(rec, op);
    let flags = 0;
    if (rec.payload !== undefined) flags |= HAS_PAYLOAD;
    if (rec.sortindex !== undefined) flags |= HAS_SORTINDEX;
    if (rec.parentid !== undefined) flags |= HAS_PARENTID;
    if (rec.predecessorid !== undefined) flags |= HAS_PREDECESSORID;
    if (stamps) flags |= SET_MODIFIED;
    if (rec.ttl !== undefined || u.resetsExpiry) flags |= SET_EXPIRY;
    if (u.replaceExpired) flags |= REPLACE_EXPIRED;
    if (rec.ttl !== undefined) this.expiryWritten();
    const payload = rec.payload ?? u.defaultPayload;
    const values: SqlValue[] = [
      rec.id,
      rec.parentid ?? null,
      rec.predecessorid ?? null,
      rec.sortindex ?? null,
      stamps || u.stampsInserts ? cx.ts : null,
      payload,
      payload === null ? 0 : this.profile.payloadSize(payload),
      rec.ttl === undefined ? null : cx.visibleAt + rec.ttl * 1000,
      seq,
    ];
    return { values, flags, viaJson: values.every(passesJson) };
  }

  /** Live record counts and payload units per collection (collections without live records omitted). */
  private totalsAt(cx: UnitContext): CollectionTotals[] {
    const expired = new Map<string, { records: number; bytes: number }>();
    for (const r of this.sql.all<{ collection: string; records: number; bytes: number }>(SQL.expiredTotals, cx.visibleAt)) {
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

  /** Quota units of all live records. */
  private usedUnits(cx: UnitContext): number {
    const counts = this.profile.quotaCounts;
    const total = this.sql.one<{ units: number }>(SQL.totalUnits[counts])?.units ?? 0;
    const expired = this.sql.one<{ units: number }>(SQL.expiredUnits[counts], cx.visibleAt)?.units ?? 0;
    return total - expired;
  }

  private page(p: ListParams, cx: UnitContext): Omit<ListResult, "ts" | "lastModified"> {
    const order = this.profile.order[p.sort ?? "default"];
    const { where, bindings } = this.filterClause(p, cx.visibleAt);
    if (p.offsetBound !== undefined && p.sort !== "index") {
      where.push(p.sort === "oldest" ? "modified >= ?" : "modified <= ?");
      bindings.push(p.offsetBound);
    }
    const selected = { where: [...where], bindings: [...bindings] };
    if (p.after) keysetAfter(order, p.after, where, bindings);
    // Without a modified range, a profile ordering by insertion reads its insertion index (partial: rows with a number).
    if (order.column === null && order.tie === "seq" && p.newer === undefined && p.older === undefined) where.push("seq IS NOT NULL");
    const offset = clampCount(p.offset ?? 0);
    const pageSize = clampCount(Math.min(p.limit ?? Infinity, p.pageCap ?? Infinity));
    // An ids-only page of ids at their longest may still pass the budget only when the cap is configured very high.
    const budget =
      p.pageBytes !== undefined && pageSize > 0 && (p.full || pageSize * (MAX_ID_UNITS + RECORD_OVERHEAD) > p.pageBytes) ? p.pageBytes : null;
    const cols = [p.full ? RECORD_COLUMNS : "id", `${order.tie} AS tie_`];
    if (order.column) cols.push(`${order.column} AS key_`);
    if (budget !== null) cols.push(`${p.full ? recordSize() : `length(id) + ${RECORD_OVERHEAD}`} AS size_`);
    // One query, read as it streams: one row more than the page tells whether another page follows;
    // a page of large records stops within the byte budget (at least one record).
    const query = `SELECT ${cols.join(", ")} FROM bso WHERE ${where.join(" AND ")} ${orderBy(order, p.ids !== undefined)} ${limitClause(pageSize === Infinity ? Infinity : pageSize + 1, offset)}`;
    // Rows as arrays (no keyed object per row): columns by position, as `cols` lists them.
    const tieAt = p.full ? RECORD_COLUMN_COUNT : 1;
    const keyAt = order.column ? tieAt + 1 : -1;
    const sizeAt = tieAt + (order.column ? 2 : 1);
    const page: SqlValue[][] = [];
    let more = false;
    let units = 0;
    for (const row of this.sql.each(query, ...bindings)) {
      if (budget !== null) {
        units += Number(row[sizeAt] ?? 0);
        if (page.length > 0 && units > budget) {
          more = true;
          break;
        }
      }
      if (page.length === pageSize) {
        more = pageSize > 0;
        break;
      }
      page.push(row);
    }
    const records = p.full ? page.map(toRecord) : page.map(idRecord);
    const last = page[page.length - 1];
    if (!more || !last) return { records };
    const cursor: ListCursor = { key: keyAt < 0 ? null : ((last[keyAt] as number | null | undefined) ?? null), tie: last[tieAt] as number | string };
    const out: Omit<ListResult, "ts" | "lastModified"> = { records, nextOffset: offset + page.length, cursor };
    if (p.count) {
      const n = this.sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM bso WHERE ${selected.where.join(" AND ")}`, ...selected.bindings)?.n ?? 0;
      out.total = Math.max(0, Math.min(p.limit === undefined ? Infinity : clampCount(p.limit), n - offset));
    }
    return out;
  }

  /** A deletion's order: only a limit or an offset makes it matter. */
  private orderClause(f: RecordFilter): string {
    if (f.limit === undefined && f.offset === undefined) return "";
    return orderBy(this.profile.order[f.sort ?? "default"], f.ids !== undefined);
  }

  private filterClause(f: RecordFilter, visibleAt: number | null): { where: string[]; bindings: SqlValue[] } {
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
    for (const [key, test] of SCALAR_FILTERS) {
      const v = f[key];
      if (v === undefined) continue;
      // NaN bounds (sortindex) select nothing, as a comparison with NaN never holds.
      if (typeof v === "number" && Number.isNaN(v)) {
        where.push("0");
        continue;
      }
      where.push(test);
      bindings.push(typeof v === "number" ? clampReal(v) : v);
    }
    return { where, bindings };
  }
}

/** Filters that compare one column with one value. */
const SCALAR_FILTERS: ReadonlyArray<[keyof RecordFilter & ("parentid" | "predecessorid" | "newer" | "older" | "indexAbove" | "indexBelow"), string]> = [
  ["parentid", "parentid = ?"],
  ["predecessorid", "predecessorid = ?"],
  ["newer", "modified > ?"],
  ["older", "modified < ?"],
  ["indexAbove", "sortindex > ?"],
  ["indexBelow", "sortindex < ?"],
];

/** A stored record's level at `visibleAt`: its modified while live, null when absent or expired. */
function liveModified(row: StoredFootprint | null, visibleAt: number): number | null {
  return row !== null && (row.expiry === null || row.expiry > visibleAt) ? row.modified : null;
}

/** 304 when not modified since, 412 when modified since (storage-1.5 §12.1, §12.2; storage-1.1 §10). Null: never modified. */
function conditionFailure(p: Preconditions, lastModified: number | null): Failure | null {
  if (p.ifModifiedSince !== undefined && (lastModified ?? 0) <= p.ifModifiedSince) {
    return { kind: "not-modified", lastModified: lastModified ?? 0 };
  }
  if (p.ifUnmodifiedSince !== undefined && lastModified !== null && lastModified > p.ifUnmodifiedSince) {
    return { kind: "precondition-failed", lastModified };
  }
  return null;
}

/**
 * ORDER BY of a listing order. `sortFound`: the rows are few and found by
 * key (`ids=`), so they are sorted after the primary key finds them; the
 * unary `+` keeps the planner from walking a whole ordered index instead.
 */
function orderBy(o: Order, sortFound = false): string {
  const k = sortFound ? "+" : "";
  return o.column === null ? `ORDER BY ${k}${o.tie} ${o.tieDir}` : `ORDER BY ${k}${o.column} ${o.dir}, ${k}${o.tie} ${o.tieDir}`;
}

/**
 * Narrows a listing to the rows after `c` in order `o` (keyset paging).
 * NULL sort values come first in ascending order and last in descending.
 */
function keysetAfter(o: Order, c: ListCursor, where: string[], bindings: SqlValue[]): void {
  const tieAfter = `${o.tie} ${o.tieDir === "ASC" ? ">" : "<"} ?`;
  if (o.column === null) {
    where.push(tieAfter);
    bindings.push(c.tie);
  } else if (c.key === null) {
    where.push(`((${o.column} IS NULL AND ${tieAfter})${o.dir === "ASC" ? ` OR ${o.column} IS NOT NULL` : ""})`);
    bindings.push(c.tie);
  } else {
    const after = `${o.column} ${o.dir === "ASC" ? ">" : "<"} ? OR (${o.column} = ? AND ${tieAfter})`;
    where.push(`(${after}${o.dir === "DESC" ? ` OR ${o.column} IS NULL` : ""})`);
    bindings.push(c.key, c.key, c.tie);
  }
}

function exceeds(t: { records: number; bytes: number }, max: { records: number; bytes: number }): boolean {
  return t.records > max.records || t.bytes > max.bytes;
}

function rejected(code: number | undefined): Failure | null {
  return code === undefined ? null : { kind: "rejected", code };
}

/** True when a deletion names no records in particular: the whole collection goes. */
function selectsAll(f: RecordFilter): boolean {
  return (
    f.ids === undefined &&
    f.parentid === undefined &&
    f.predecessorid === undefined &&
    f.newer === undefined &&
    f.older === undefined &&
    f.indexAbove === undefined &&
    f.indexBelow === undefined &&
    f.limit === undefined &&
    f.offset === undefined
  );
}

/** ±Infinity bound as the largest finite doubles: every integer sortindex compares the same way. */
function clampReal(x: number): number {
  if (x === Infinity) return Number.MAX_VALUE;
  if (x === -Infinity) return -Number.MAX_VALUE;
  return x;
}

/** A row count from client input: whole, not negative, Infinity kept, otherwise at most MAX_SAFE_INTEGER. */
function clampCount(n: number): number {
  if (n === Infinity) return n;
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.floor(n)));
}

function limitClause(limit: number | undefined, offset: number | undefined): string {
  const l = limit === undefined || limit === Infinity ? -1 : clampCount(limit);
  const o = offset === undefined ? 0 : clampCount(offset);
  if (l < 0 && o === 0) return "";
  return `LIMIT ${l} OFFSET ${o}`;
}

/** A record from a row of {@link RECORD_COLUMNS}, by position. */
function toRecord(r: SqlValue[]): StoredRecord {
  return {
    id: String(r[0]),
    modified: (r[1] as number | null | undefined) ?? null,
    payload: (r[2] as string | null | undefined) ?? null,
    sortindex: (r[3] as number | null | undefined) ?? null,
    parentid: (r[4] as string | null | undefined) ?? null,
    predecessorid: (r[5] as string | null | undefined) ?? null,
  };
}

/** An ids-only listing's record: the id first in the row, every other field null. */
function idRecord(r: SqlValue[]): StoredRecord {
  return { id: String(r[0]), modified: null, payload: null, sortindex: null, parentid: null, predecessorid: null };
}
