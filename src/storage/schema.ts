/**
 * @module schema
 * Numbered, append-only migrations of a user's Durable Object SQLite
 * database, run from the constructor in one transaction, with the applied
 * version recorded in `meta`. Never edit an applied migration: add one.
 * The stored format is documented in docs/storage-schema.md.
 */
import type { SqlPort } from "./sql";

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/** Units every record occupies beyond its text fields: its numbers (modified, sortindex, expiry) and row bookkeeping. */
export const RECORD_OVERHEAD = 16;

/**
 * What a record occupies, in the units of its `payload_size`: the payload,
 * the characters of its id, parentid and predecessorid, and
 * {@link RECORD_OVERHEAD}. SQL over the row named `row` (a table or NEW/OLD).
 * Part of the stored format: changing it needs a migration that recomputes
 * `collections.size`.
 */
export function recordSize(row?: string): string {
  const c = (name: string) => (row === undefined ? name : `${row}.${name}`);
  return `(${c("payload_size")} + length(${c("id")}) + COALESCE(length(${c("parentid")}), 0) + COALESCE(length(${c("predecessorid")}), 0) + ${RECORD_OVERHEAD})`;
}

/**
 * The fields of a stored record, as `bso` holds them from version 4 on and
 * as the import staging table (`transfer_bso`, src/storage/transfer.ts)
 * holds them: declared once so the two cannot drift. Part of migration 4:
 * changing it needs a new migration.
 */
export const RECORD_FIELDS = [
  ["collection", "TEXT NOT NULL"],
  ["id", "TEXT NOT NULL"],
  ["parentid", "TEXT"],
  ["predecessorid", "TEXT"],
  ["sortindex", "INTEGER"],
  ["modified", "INTEGER"],
  ["payload", "TEXT"],
  ["payload_size", "INTEGER NOT NULL DEFAULT 0"],
  ["expiry", "INTEGER"],
] as const;

/** `collection, id, …, expiry`: the names of {@link RECORD_FIELDS}, for column lists. */
export const RECORD_FIELD_NAMES = RECORD_FIELDS.map(([name]) => name).join(", ");
/** The column definitions of {@link RECORD_FIELDS}, for CREATE TABLE. */
export const RECORD_FIELD_DEFS = RECORD_FIELDS.map(([name, type]) => `${name} ${type}`).join(",\n         ");

/** `meta.protocol` of a Storage 1.5 store (`PROFILE_1_5.code`), which never uses `bso.seq`. */
const PROTOCOL_CODE_15 = 15;

/**
 * Per-collection counters (`collections.records`, `bytes`, `size`) recomputed
 * from the records: for stores whose counters were not maintained statement
 * by statement (an import). Collections with no records keep their row with
 * zero counters.
 */
export const RECOUNT: readonly string[] = [
  `UPDATE collections SET records = 0, bytes = 0, size = 0`,
  // (`WHERE true` lets SQLite parse the upsert after a SELECT.)
  `INSERT INTO collections (name, records, bytes, size)
   SELECT collection, COUNT(*), SUM(payload_size), SUM(${recordSize()}) FROM bso WHERE true GROUP BY collection
   ON CONFLICT (name) DO UPDATE SET records = excluded.records, bytes = excluded.bytes, size = excluded.size`,
];

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "records, collections, meta",
    statements: [
      `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID`,
      `CREATE TABLE bso (
         collection TEXT NOT NULL,
         id TEXT NOT NULL,
         parentid TEXT,
         predecessorid TEXT,
         sortindex INTEGER,
         modified INTEGER,
         payload TEXT,
         payload_size INTEGER NOT NULL DEFAULT 0,
         expiry INTEGER,
         PRIMARY KEY (collection, id)
       )`,
      `CREATE INDEX bso_modified ON bso (collection, modified)`,
      `CREATE INDEX bso_sortindex ON bso (collection, sortindex)`,
      `CREATE INDEX bso_expiry ON bso (expiry) WHERE expiry IS NOT NULL`,
      `CREATE TABLE collections (
         name TEXT PRIMARY KEY,
         modified INTEGER NOT NULL DEFAULT 0,
         records INTEGER NOT NULL DEFAULT 0,
         bytes INTEGER NOT NULL DEFAULT 0
       ) WITHOUT ROWID`,
      // Per-collection record count and payload size, kept exact by triggers
      // so quota and usage never scan the records.
      `CREATE TRIGGER bso_insert AFTER INSERT ON bso BEGIN
         INSERT INTO collections (name, records, bytes) VALUES (NEW.collection, 1, NEW.payload_size)
         ON CONFLICT (name) DO UPDATE SET records = records + 1, bytes = bytes + NEW.payload_size;
       END`,
      `CREATE TRIGGER bso_delete AFTER DELETE ON bso BEGIN
         UPDATE collections SET records = records - 1, bytes = bytes - OLD.payload_size WHERE name = OLD.collection;
       END`,
      `CREATE TRIGGER bso_update AFTER UPDATE OF payload_size ON bso BEGIN
         UPDATE collections SET bytes = bytes - OLD.payload_size + NEW.payload_size WHERE name = NEW.collection;
       END`,
    ],
  },
  {
    version: 2,
    name: "1.5 batch uploads",
    statements: [
      // A pending batch upload (storage-1.5 §9): valid for 2 hours after
      // `created` (ms), only for the collection it was created in.
      `CREATE TABLE batches (
         id TEXT PRIMARY KEY,
         collection TEXT NOT NULL,
         created INTEGER NOT NULL
       ) WITHOUT ROWID`,
      `CREATE INDEX batches_created ON batches (created)`,
      `CREATE INDEX batches_collection ON batches (collection)`,
      // Staged records, merged field by field per id (NULL: not supplied);
      // rowid keeps first-staging order. ttl in seconds, applied at commit.
      `CREATE TABLE batch_items (
         batch_id TEXT NOT NULL,
         id TEXT NOT NULL,
         sortindex INTEGER,
         payload TEXT,
         payload_size INTEGER,
         ttl INTEGER,
         UNIQUE (batch_id, id)
       )`,
    ],
  },
  {
    version: 3,
    name: "record occupancy per collection (the 1.1 quota)",
    statements: [
      // collections.size = Σ RECORD_SIZE over the collection's rows, expired
      // included, kept by the triggers like records and bytes.
      `ALTER TABLE collections ADD COLUMN size INTEGER NOT NULL DEFAULT 0`,
      `UPDATE collections SET size = COALESCE((SELECT SUM(${recordSize("bso")}) FROM bso WHERE bso.collection = collections.name), 0)`,
      `DROP TRIGGER bso_insert`,
      `CREATE TRIGGER bso_insert AFTER INSERT ON bso BEGIN
         INSERT INTO collections (name, records, bytes, size) VALUES (NEW.collection, 1, NEW.payload_size, ${recordSize("NEW")})
         ON CONFLICT (name) DO UPDATE SET records = records + 1, bytes = bytes + NEW.payload_size, size = size + ${recordSize("NEW")};
       END`,
      `DROP TRIGGER bso_delete`,
      `CREATE TRIGGER bso_delete AFTER DELETE ON bso BEGIN
         UPDATE collections SET records = records - 1, bytes = bytes - OLD.payload_size, size = size - ${recordSize("OLD")}
         WHERE name = OLD.collection;
       END`,
      `DROP TRIGGER bso_update`,
      `CREATE TRIGGER bso_update AFTER UPDATE OF payload_size, parentid, predecessorid ON bso BEGIN
         UPDATE collections SET bytes = bytes - OLD.payload_size + NEW.payload_size,
                                size = size - ${recordSize("OLD")} + ${recordSize("NEW")}
         WHERE name = NEW.collection;
       END`,
    ],
  },
  {
    version: 4,
    name: "records clustered by (collection, id); counters kept by the engine",
    statements: [
      // The records become the primary key's B-tree itself, so a write
      // updates one structure fewer and a listing in id or index order reads
      // rows where the index points. `seq` replaces the rowid where Storage
      // 1.1 orders by first insertion: the old rowid here, then assigned by
      // the engine; NULL in 1.5 stores, which never order by it.
      `CREATE TABLE bso_v4 (
         ${RECORD_FIELD_DEFS},
         seq INTEGER,
         PRIMARY KEY (collection, id)
       ) WITHOUT ROWID`,
      `INSERT INTO bso_v4 (${RECORD_FIELD_NAMES}, seq)
       SELECT ${RECORD_FIELD_NAMES},
              CASE WHEN (SELECT value FROM meta WHERE key = 'protocol') = ${PROTOCOL_CODE_15} THEN NULL ELSE rowid END
       FROM bso ORDER BY collection, id`,
      // Drops the triggers and indexes with it. collections.records, bytes
      // and size stay as the triggers left them (exact); from now on the
      // engine updates them once per statement.
      `DROP TABLE bso`,
      `ALTER TABLE bso_v4 RENAME TO bso`,
      // (collection, modified, id): newer/older scans and the modified
      // orders, both directions, without a sort.
      `CREATE INDEX bso_modified ON bso (collection, modified)`,
      // (collection, seq, id) of the rows that have a seq: Storage 1.1's
      // default order without a sort.
      `CREATE INDEX bso_seq ON bso (collection, seq) WHERE seq IS NOT NULL`,
      // (seq) alone: the next number to give, and exports in first-insertion
      // order across collections. Both only grow at their end.
      `CREATE INDEX bso_seq_all ON bso (seq) WHERE seq IS NOT NULL`,
      `CREATE INDEX bso_expiry ON bso (expiry) WHERE expiry IS NOT NULL`,
      ],
    },
    {
    version: 5,
    name: "access record (credential fingerprint, disabled, lock mirror)",
    statements: [
      // One row (id = 1) per store: what the Worker's credential fast path is
      // checked against inside the same call that serves the request
      // (src/storage/access.ts). fp: hex SHA-256 of the account's current
      // password hash string (never the hash itself), NULL = no fast path;
      // gen: bumped by every change, so a grant computed from an older read is
      // refused; pending_until (ms): a change is in progress, grants refused;
      // disabled: 0 active, 1 disabled, 2 deleted (a tombstone that outlives
      // every token and in-flight request); locked_until (ms): mirror of the
      // login throttle's locks (conservative: any lock of the account).
      `CREATE TABLE IF NOT EXISTS access (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         fp TEXT,
         gen INTEGER NOT NULL DEFAULT 0,
         pending_until INTEGER NOT NULL DEFAULT 0,
         disabled INTEGER NOT NULL DEFAULT 0,
         locked_until INTEGER NOT NULL DEFAULT 0
       )`,
      // Client addresses a fast path is allowed from: each one completed the
      // full, throttled check and registered this account with the address's
      // throttle instance, which pushes its locks here (src/objects/login-throttle.ts).
      `CREATE TABLE IF NOT EXISTS access_permits (address TEXT PRIMARY KEY, until INTEGER NOT NULL) WITHOUT ROWID`,
    ],
  },
];

export const SCHEMA_VERSION_KEY = "schema_version";

/** Applies every migration above the recorded version, atomically. Returns the resulting version. */
export function migrate(sql: SqlPort, migrations: readonly Migration[] = MIGRATIONS): number {
  const seen = new Set<number>();
  for (const m of migrations) {
    if (seen.has(m.version)) throw new Error(`duplicate migration version ${m.version}`);
    seen.add(m.version);
  }
  return sql.transaction(() => {
    sql.run(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID`);
    const row = sql.one<{ value: number }>(`SELECT value FROM meta WHERE key = ?`, SCHEMA_VERSION_KEY);
    let version = row?.value ?? 0;
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (m.version <= version) continue;
      for (const s of m.statements) sql.run(s);
      version = m.version;
    }
    sql.run(
      `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      SCHEMA_VERSION_KEY,
      version,
    );
    return version;
  });
}
