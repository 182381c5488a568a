/**
 * Schema upgrades of the per-user store (src/storage/schema.ts): for every
 * older version in the migration list, a Durable Object is rolled back to
 * exactly that version, filled with data, evicted, and opened again; it must
 * come back at the current version with every row it held, and its records
 * must read back unchanged through the real Worker (Storage 1.5, Hawk).
 *
 * The list is read from MIGRATIONS, so a new migration is covered by adding
 * it: each table of an older version gets synthesized rows (every column
 * filled by type), plus the realistic records seeded below from version 1
 * on. If a new table has constraints the synthesizer cannot satisfy, the
 * test fails and names it: add its rows to EXTRA_SEEDS then.
 */
import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Principal } from "../../src/env";
import { storageName } from "../../src/env";
import { StorageEngine } from "../../src/storage/engine";
import { PROFILE_1_1, PROFILE_1_5, type Profile } from "../../src/storage/profile";
import { MIGRATIONS, migrate, recordSize, SCHEMA_VERSION_KEY } from "../../src/storage/schema";
import { durableObjectSql, type Row, type SqlPort } from "../../src/storage/sql";
import { Client15 } from "../helpers/sync15";

const CURRENT = Math.max(...MIGRATIONS.map((m) => m.version));
const OLDER = MIGRATIONS.map((m) => m.version).filter((v) => v < CURRENT).sort((a, b) => a - b);

/** Realistic records as version 1 stored them (times in ms, sizes in UTF-8 bytes). */
const NOW = Date.now() - 60_000;
const RECORDS = [
  { id: "rec-a", sortindex: 10, payload: '{"ciphertext":"aaa"}', modified: NOW - 2000 },
  { id: "rec-b", sortindex: null, payload: "x".repeat(300), modified: NOW - 1000 },
  { id: "rec-ü", sortindex: -5, payload: "héllo wörld", modified: NOW },
];

/** Extra rows for tables the generic filler cannot fill, keyed by the version that created the table. */
const EXTRA_SEEDS: Record<number, (sql: SqlPort) => void> = {};

function seedRecords(sql: SqlPort): void {
  for (const r of RECORDS) {
    sql.run(
      `INSERT INTO bso (collection, id, sortindex, modified, payload, payload_size, expiry) VALUES ('bookmarks', ?, ?, ?, ?, ?, NULL)`,
      r.id,
      r.sortindex,
      r.modified,
      r.payload,
      new TextEncoder().encode(r.payload).length,
    );
  }
  sql.run(`UPDATE collections SET modified = ? WHERE name = 'bookmarks'`, NOW);
}

function userTables(sql: SqlPort): string[] {
  return sql
    .all<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name`)
    .map((r) => r.name);
}

function columns(sql: SqlPort, table: string): { name: string; type: string }[] {
  return sql.all<{ name: string; type: string }>(`SELECT name, type FROM pragma_table_info(?) ORDER BY cid`, table);
}

/** Integers of synthesized rows: ten years ahead (as ms, or as s), so no time-based clean-up may drop them. */
const FUTURE = Date.now() + 10 * 365 * 86_400_000;

/** Two rows per table, every column filled according to its declared type. */
function fillGeneric(sql: SqlPort, table: string): void {
  if (table === "meta") return;
  const cols = columns(sql, table);
  for (const n of [1, 2]) {
    const values = cols.map((c, i) => (/INT/i.test(c.type) ? FUTURE + 100 * n + i : `${table}-${c.name}-${n}`));
    try {
      sql.run(`INSERT INTO "${table}" (${cols.map((c) => `"${c.name}"`).join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`, ...values);
    } catch (e) {
      throw new Error(`cannot synthesize a row for table ${table}: add it to EXTRA_SEEDS (${(e as Error).message})`);
    }
  }
}

type Snapshot = Record<string, { columns: string[]; rows: Row[] }>;

function snapshot(sql: SqlPort, only?: Snapshot): Snapshot {
  const out: Snapshot = {};
  for (const table of only ? Object.keys(only) : userTables(sql)) {
    const cols = only ? only[table]!.columns : columns(sql, table).map((c) => c.name);
    const list = cols.map((c) => `"${c}"`).join(", ");
    // The recorded schema version is the one value an upgrade must change.
    const where = table === "meta" ? `WHERE key <> '${SCHEMA_VERSION_KEY}'` : "";
    out[table] = { columns: cols, rows: sql.all(`SELECT ${list} FROM "${table}" ${where} ORDER BY ${list}`) };
  }
  return out;
}

describe("schema upgrades of the per-user store", () => {
  it("the migration list is what this test iterates over", () => {
    expect(CURRENT).toBeGreaterThanOrEqual(1);
    expect(new Set(MIGRATIONS.map((m) => m.version)).size).toBe(MIGRATIONS.length);
  });

  for (const version of OLDER) {
    it(`a store at version ${version} opens at version ${CURRENT} with its data intact`, async () => {
      const client = await Client15.create();
      const principal = { kind: "token", uid: client.uid, fxaUid: "f".repeat(32), expired: false } as unknown as Principal;
      const stub = env.USER_STORE.get(env.USER_STORE.idFromName(storageName(principal)));

      // Roll the (freshly created, current) store back to `version` and fill it.
      const before = await runInDurableObject(stub, (_instance, state) => {
        const sql = durableObjectSql(state.storage);
        for (const t of userTables(sql)) sql.run(`DROP TABLE "${t}"`);
        expect(userTables(sql)).toEqual([]);
        expect(migrate(sql, MIGRATIONS.filter((m) => m.version <= version))).toBe(version);
        sql.transaction(() => {
          seedRecords(sql);
          for (const t of userTables(sql)) fillGeneric(sql, t);
          for (const [v, seed] of Object.entries(EXTRA_SEEDS)) if (Number(v) <= version) seed(sql);
        });
        return snapshot(sql);
      });
      expect(before.bso!.rows.length).toBe(RECORDS.length + 2);

      // Open it again, as the next request does (the store migrates when it is opened).
      await evictDurableObject(stub);
      const full = await client.get("/storage/bookmarks?full=1&sort=oldest");
      expect(full.status).toBe(200);
      const got = (full.json as { id: string; payload: string; sortindex?: number; modified: number }[]).map((r) => ({
        id: r.id,
        payload: r.payload,
        sortindex: r.sortindex ?? null,
        modified: Math.round(r.modified * 1000),
      }));
      // The records read back through the Worker as a client would read them.
      expect(got).toEqual(RECORDS.map((r) => ({ id: r.id, payload: r.payload, sortindex: r.sortindex, modified: Math.round(r.modified / 10) * 10 })));

      const after = await runInDurableObject(stub, (_instance, state) => {
        const sql = durableObjectSql(state.storage);
        return {
          version: sql.one<{ value: number }>(`SELECT value FROM meta WHERE key = ?`, SCHEMA_VERSION_KEY)?.value,
          tables: userTables(sql),
          data: snapshot(sql, before),
        };
      });
      expect(after.version).toBe(CURRENT);
      // Every row of every old table is still there, with the values of its old columns
      // (an upgrade may add rows, e.g. new settings, but never lose or change one).
      for (const [t, { rows }] of Object.entries(before)) {
        expect(after.tables, `table ${t} survives`).toContain(t);
        const kept = new Set(after.data[t]!.rows.map((r) => JSON.stringify(r)));
        for (const r of rows) expect(kept.has(JSON.stringify(r)), `${t} row ${JSON.stringify(r)}`).toBe(true);
      }

      const info = await client.get("/info/collections");
      expect((info.json as Record<string, number>).bookmarks).toBe(Math.round(NOW / 10) / 100);
      // The upgraded store takes writes.
      expect((await client.put("/storage/bookmarks/rec-new", { payload: "after upgrade" })).status).toBe(200);
    });
  }
});

/**
 * Version 4 rebuilt `bso` (clustered by collection and id, `seq` for 1.1's
 * insertion order, counters kept by the engine instead of triggers). A store
 * filled at version 3 the way the engine of then filled it (rowid order
 * scrambled by updates, deletes and re-inserts; ties in `modified`; 1.1
 * parentid / predecessorid; live, expired and future expiries) must list,
 * count and measure exactly as before.
 */
describe("schema upgrade 3 → 4 of a store with data", () => {
  const T = 1_700_000_000_000;
  /** [collection, id, modified, sortindex, payload, parentid, predecessorid, expiry] in insertion order. */
  type Seed = [string, string, number | null, number | null, string | null, string | null, string | null, number | null];
  const SEEDS: Seed[] = [
    ["bookmarks", "zz", T + 20, 3, "{\"a\":1}", "menu", null, null],
    ["bookmarks", "aa", T + 20, 3, "payload ü", "menu", "zz", null],
    ["history", "h1", T + 10, null, "x".repeat(40), null, null, T + 3_600_000],
    ["bookmarks", "mm", T + 10, -1, null, null, null, null],
    ["history", "h0", T + 30, 100, "", null, null, T - 1000],
    ["tabs", "t", T + 30, null, "tab", null, null, T + 1000],
    ["bookmarks", "bb", null, null, null, "toolbar", null, null],
    ["history", "h2", T + 10, 7, "y", "p", "q", null],
    ["bookmarks", "cc", T + 40, 3, "c", null, null, T - 5],
  ];

  async function upgrade(profile: Profile) {
    const stub = env.USER_STORE.get(env.USER_STORE.idFromName(`${profile.protocol === "1.1" ? "acct" : "uid"}:upgrade-${crypto.randomUUID()}`));
    return runInDurableObject(stub, (_instance, state) => {
      const sql = durableObjectSql(state.storage);
      for (const t of userTables(sql)) sql.run(`DROP TABLE "${t}"`);
      expect(migrate(sql, MIGRATIONS.filter((m) => m.version <= 3))).toBe(3);
      sql.run(`INSERT INTO meta (key, value) VALUES ('protocol', ?)`, profile.code);
      const size = (p: string | null) => (p === null ? 0 : profile.payloadSize(p));
      sql.transaction(() => {
        for (const [c, id, modified, sortindex, payload, parentid, predecessorid, expiry] of SEEDS) {
          sql.run(
            `INSERT INTO bso (collection, id, modified, sortindex, payload, payload_size, parentid, predecessorid, expiry) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            c, id, modified, sortindex, payload, size(payload), parentid, predecessorid, expiry,
          );
        }
        // Scramble the rowid order as the engine of version 3 would have: an update in place keeps
        // its rowid, a deletion and re-insert takes a new one.
        sql.run(`UPDATE bso SET payload = 'updated', payload_size = 7, modified = ? WHERE collection = 'bookmarks' AND id = 'zz'`, T + 50);
        sql.run(`DELETE FROM bso WHERE collection = 'bookmarks' AND id = 'aa'`);
        sql.run(`INSERT INTO bso (collection, id, modified, sortindex, payload, payload_size, parentid) VALUES ('bookmarks', 'aa', ?, 3, 'again', 5, 'menu')`, T + 20);
        if (profile.collectionStamps) sql.run(`UPDATE collections SET modified = ?`, T + 50);
      });
      const now = T + 100;
      const live = `(expiry IS NULL OR expiry > ${now})`;
      const orders = Object.entries(profile.order).map(([sort, o]) => {
        const tie = `${o.tie === "seq" ? "rowid" : "id"} ${o.tieDir}`;
        return { sort, by: o.column === null ? tie : `${o.column} ${o.dir}, ${tie}` };
      });
      const collections = ["bookmarks", "history", "tabs"];
      // What the engine of version 3 listed (its ORDER BY, ties by rowid or id) and counted.
      const before = {
        lists: collections.flatMap((c) =>
          orders.map(({ sort, by }) => ({
            c,
            sort,
            rows: sql.all(`SELECT id, modified, payload, sortindex, parentid, predecessorid FROM bso WHERE collection = ? AND ${live} ORDER BY ${by}`, c),
          })),
        ),
        counters: sql.all(`SELECT name, modified, records, bytes, size FROM collections ORDER BY name`),
        maxima: sql.all(`SELECT collection, MAX(modified) AS m FROM bso GROUP BY collection ORDER BY collection`),
      };

      const e = new StorageEngine(sql, profile, () => now);
      expect(sql.one<{ value: number }>(`SELECT value FROM meta WHERE key = ?`, SCHEMA_VERSION_KEY)?.value).toBe(CURRENT);
      for (const { c, sort, rows } of before.lists) {
        const r = e.list({ collection: c, full: true, ...(sort === "default" ? {} : { sort: sort as "index" }) });
        expect(r.ok && r.records, `${c} sort=${sort}`).toEqual(rows);
      }
      expect(sql.all(`SELECT name, modified, records, bytes, size FROM collections ORDER BY name`)).toEqual(before.counters);
      const counted = sql.all(`SELECT collection AS name, COUNT(*) AS records, SUM(payload_size) AS bytes, SUM(${recordSize()}) AS size FROM bso GROUP BY collection ORDER BY collection`);
      expect(before.counters.map(({ modified: _m, ...rest }) => rest)).toEqual(counted);
      expect(sql.all(`SELECT collection, MAX(modified) AS m FROM bso GROUP BY collection ORDER BY collection`)).toEqual(before.maxima);
      // Counters stay exact through the engine's writes after the upgrade; 1.1 numbers new records after the old ones.
      e.post({ collection: "bookmarks", records: [{ id: "new", payload: "n" }, { id: "mm", payload: "changed" }], quota: null });
      e.deleteRecords({ collection: "history", ids: ["h2"] });
      const after = e.list({ collection: "bookmarks", full: false });
      return {
        lastId: after.ok ? after.records.map((r) => r.id) : [],
        counters: sql.all(`SELECT name, records, bytes, size FROM collections WHERE records > 0 ORDER BY name`),
        recount: sql.all(`SELECT collection AS name, COUNT(*) AS records, SUM(payload_size) AS bytes, SUM(${recordSize()}) AS size FROM bso GROUP BY collection ORDER BY collection`),
        seqs: sql.all<{ n: number }>(`SELECT COUNT(seq) AS n FROM bso`)[0]?.n,
      };
    });
  }

  it("Storage 1.1: listings in every order (insertion-order ties), counts, bytes and sizes are unchanged", async () => {
    const r = await upgrade(PROFILE_1_1);
    expect(r.counters).toEqual(r.recount);
    // zz kept its first place (updated in place), aa went after bb (re-inserted), "new" comes last.
    expect(r.lastId).toEqual(["zz", "mm", "bb", "aa", "new"]);
  });

  it("Storage 1.5: listings in every order (id ties), counts, bytes and sizes are unchanged; no insertion numbers kept", async () => {
    const r = await upgrade(PROFILE_1_5);
    expect(r.counters).toEqual(r.recount);
    expect(r.seqs).toBe(0);
  });
});
