/**
 * @module bench/layouts/worker
 * Candidate layouts of the records table, each in its own Durable Object
 * (named `<layout>-<size>`), doing only the SQL work of the two scale
 * operations: a POST of 100 records scattered over the user's ids (upserts
 * in one transaction) and an incremental read (`modified > t`, full rows).
 * Driven by bench/layouts.mjs, which seeds each store, counts system calls
 * and compares CPU at 1,000 and 100,000 records.
 *
 * Routes (store = `<layout>-<size>`): POST /<store>/seed?n=N (seed N
 * records, 100 per timestamp; answers the timestamp before the last 100),
 * POST /<store>/post (JSON array of {id, sortindex, payload}),
 * GET /<store>/newer?t=T, GET /<store>/all (first-insertion order),
 * GET /<store>/newest (newest first), GET /<store>/stats (database size),
 * GET /<any>/pragmas (what this runtime answers to cache-related pragmas),
 * GET /<any>/implicit[?write=1[&throw=1]] (a row inserted outside
 * transactionSync, then optionally an exception; answers the row count:
 * whether a write survives the event throwing).
 */

/** Each layout: its schema, the write of one record at T, the incremental read. */
const LAYOUTS = {
  // Today's (schema 4 and the floor): clustered by (collection, id), plus (collection, modified).
  pkmod: {
    schema: `CREATE TABLE IF NOT EXISTS bso (coll TEXT NOT NULL, id TEXT NOT NULL, modified INTEGER, sortindex INTEGER, payload TEXT,
               seq INTEGER, PRIMARY KEY (coll, id)) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS bso_modified ON bso (coll, modified);
             CREATE INDEX IF NOT EXISTS bso_seq ON bso (coll, seq);`,
    write: [
      `INSERT INTO bso (coll, id, modified, sortindex, payload, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
       ON CONFLICT (coll, id) DO UPDATE SET modified = excluded.modified, sortindex = excluded.sortindex, payload = excluded.payload`,
    ],
    read: `SELECT id, modified, sortindex, payload FROM bso WHERE coll = ? AND modified > ? ORDER BY seq`,
    all: `SELECT id, modified, sortindex, payload FROM bso WHERE coll = ? ORDER BY seq`,
    newest: `SELECT id, modified, sortindex, payload FROM bso WHERE coll = ? ORDER BY modified DESC`,
  },
  // The lower bound of any layout that updates a record where it is: the primary key alone (reads scan).
  pkonly: {
    schema: `CREATE TABLE IF NOT EXISTS bso (coll TEXT NOT NULL, id TEXT NOT NULL, modified INTEGER, sortindex INTEGER, payload TEXT,
               seq INTEGER, PRIMARY KEY (coll, id)) WITHOUT ROWID;`,
    write: [
      `INSERT INTO bso (coll, id, modified, sortindex, payload, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
       ON CONFLICT (coll, id) DO UPDATE SET modified = excluded.modified, sortindex = excluded.sortindex, payload = excluded.payload`,
    ],
    read: `SELECT id, modified, sortindex, payload FROM bso WHERE coll = ? AND modified > ? ORDER BY seq`,
  },
  // Clustered by write time: (collection, modified, id), plus a unique (collection, id) for lookups by id.
  // A write moves the row: delete where it was, insert at the end.
  bymod: {
    schema: `CREATE TABLE IF NOT EXISTS bso (coll TEXT NOT NULL, modified INTEGER NOT NULL, id TEXT NOT NULL, sortindex INTEGER, payload TEXT,
               seq INTEGER, PRIMARY KEY (coll, modified, id)) WITHOUT ROWID;
             CREATE UNIQUE INDEX IF NOT EXISTS bso_id ON bso (coll, id);`,
    write: [
      `DELETE FROM bso WHERE coll = ?1 AND id = ?2`,
      `INSERT INTO bso (coll, id, modified, sortindex, payload, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)`,
    ],
    read: `SELECT id, modified, sortindex, payload FROM bso WHERE coll = ? AND modified > ? ORDER BY seq`,
  },
  // Records in write order (a rowid table; a write appends a new row and deletes the old one),
  // a narrow unique (collection, id) and (collection, modified).
  append: {
    schema: `CREATE TABLE IF NOT EXISTS bso (coll TEXT NOT NULL, id TEXT NOT NULL, modified INTEGER, sortindex INTEGER, payload TEXT, seq INTEGER);
             CREATE UNIQUE INDEX IF NOT EXISTS bso_id ON bso (coll, id);
             CREATE INDEX IF NOT EXISTS bso_modified ON bso (coll, modified);`,
    write: [
      `DELETE FROM bso WHERE coll = ?1 AND id = ?2`,
      `INSERT INTO bso (coll, id, modified, sortindex, payload, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)`,
    ],
    read: `SELECT id, modified, sortindex, payload FROM bso WHERE coll = ? AND modified > ? ORDER BY seq`,
  },
  // Today's records table without the modified index, plus an append-only log of writes (collection, modified, id)
  // that an update does not remove from: a read joins the log's range with the records and skips entries whose
  // record has been written again since (left for a later clean-up, not measured here).
  log: {
    schema: `CREATE TABLE IF NOT EXISTS bso (coll TEXT NOT NULL, id TEXT NOT NULL, modified INTEGER, sortindex INTEGER, payload TEXT,
               seq INTEGER, PRIMARY KEY (coll, id)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS writes (coll TEXT NOT NULL, modified INTEGER NOT NULL, id TEXT NOT NULL,
               PRIMARY KEY (coll, modified, id)) WITHOUT ROWID;`,
    write: [
      `INSERT INTO bso (coll, id, modified, sortindex, payload, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
       ON CONFLICT (coll, id) DO UPDATE SET modified = excluded.modified, sortindex = excluded.sortindex, payload = excluded.payload`,
      `INSERT INTO writes (coll, modified, id) VALUES (?1, ?3, ?2)`,
    ],
    read: `SELECT b.id, b.modified, b.sortindex, b.payload FROM writes w JOIN bso b ON b.coll = w.coll AND b.id = w.id AND b.modified = w.modified
           WHERE w.coll = ? AND w.modified > ? ORDER BY b.seq`,
  },
  // Records where they are (rowid table, rowid never changes), narrow (collection, id) and (collection, modified):
  // the classic layout (schema 1-3), for comparison.
  rowid: {
    all: `SELECT id, modified, sortindex, payload FROM bso WHERE coll = ? ORDER BY rowid`,
    newest: `SELECT id, modified, sortindex, payload FROM bso WHERE coll = ? ORDER BY modified DESC`,
    schema: `CREATE TABLE IF NOT EXISTS bso (coll TEXT NOT NULL, id TEXT NOT NULL, modified INTEGER, sortindex INTEGER, payload TEXT, seq INTEGER);
             CREATE UNIQUE INDEX IF NOT EXISTS bso_id ON bso (coll, id);
             CREATE INDEX IF NOT EXISTS bso_modified ON bso (coll, modified);`,
    write: [
      `INSERT INTO bso (coll, id, modified, sortindex, payload, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
       ON CONFLICT (coll, id) DO UPDATE SET modified = excluded.modified, sortindex = excluded.sortindex, payload = excluded.payload`,
    ],
    read: `SELECT id, modified, sortindex, payload FROM bso WHERE coll = ? AND modified > ? ORDER BY seq`,
  },
};

// Today's layout, its POST written without `transactionSync` (no savepoint: workerd's implicit transaction only).
LAYOUTS.pkmodnosp = { ...LAYOUTS.pkmod, noSavepoint: true };

const PRAGMAS = ["cache_size", "cache_size = -65536", "mmap_size", "mmap_size = 268435456", "page_size", "page_count", "journal_mode", "wal_autocheckpoint", "synchronous", "cache_spill", "temp_store", "optimize"];

/** The highest `?N` of a statement: how many bindings it takes. */
const arity = (s) => Math.max(...[...s.matchAll(/\?(\d+)/g)].map((m) => Number(m[1])));

const json = (body) => new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });

export class LayoutStore {
  constructor(ctx) {
    this.ctx = ctx;
    this.sql = ctx.storage.sql;
    this.last = 0;
  }

  now() {
    const t = Math.max(Date.now(), this.last + 10);
    this.last = t;
    return t;
  }

  layout(name) {
    const l = LAYOUTS[name.split("-")[0]];
    if (!l) throw new Error(`unknown layout ${name}`);
    if (!this.ready) {
      this.sql.exec(l.schema);
      this.ready = true;
      this.seq = Number(this.sql.exec("SELECT COALESCE(MAX(seq), 0) AS s FROM bso").one().s);
    }
    return l;
  }

  write(l, records, t) {
    for (const r of records) {
      this.seq++;
      const args = ["history", r.id, t, r.sortindex ?? null, r.payload, this.seq];
      for (const s of l.write) this.sql.exec(s, ...args.slice(0, arity(s)));
    }
  }

  async fetch(request) {
    const url = new URL(request.url);
    const [, name, op] = url.pathname.split("/");
    if (op === "pragmas") {
      const out = {};
      for (const p of PRAGMAS) {
        try {
          out[p] = this.sql.exec(`PRAGMA ${p}`).toArray();
        } catch (e) {
          out[p] = `refused: ${e.message}`;
        }
      }
      return json(out);
    }
    if (op === "implicit") {
      // Does workerd roll back the implicit transaction's writes when the event throws? (?throw=1)
      this.sql.exec("CREATE TABLE IF NOT EXISTS probe (n INTEGER)");
      if (url.searchParams.get("write")) {
        this.sql.exec("INSERT INTO probe VALUES (1)");
        if (url.searchParams.get("throw")) throw new Error("thrown after a write");
      }
      return json(this.sql.exec("SELECT COUNT(*) AS n FROM probe").one().n);
    }
    const l = this.layout(name);
    if (op === "seed") {
      const n = Number(url.searchParams.get("n"));
      const payload = await request.text();
      let before = 0;
      for (let s = 0; s < n; s += 1000) {
        this.ctx.storage.transactionSync(() => {
          for (let g = s; g < Math.min(n, s + 1000); g += 100) {
            const t = this.now();
            if (g + 100 >= n) before = this.last - 10;
            const recs = [];
            for (let i = g; i < Math.min(n, g + 100); i++) recs.push({ id: "h" + i.toString(36).padStart(11, "0"), sortindex: i % 100, payload });
            this.write(l, recs, t);
          }
        });
      }
      return json({ before });
    }
    if (op === "post") {
      const records = await request.json();
      const t = this.now();
      if (l.noSavepoint) this.write(l, records, t);
      else this.ctx.storage.transactionSync(() => this.write(l, records, t));
      return json({ modified: t / 1000, success: records.map((r) => r.id), failed: {} });
    }
    if (op === "newer") {
      const rows = this.sql.exec(l.read, "history", Number(url.searchParams.get("t"))).toArray();
      return json(rows);
    }
    if (op === "all" || op === "newest") {
      return json(this.sql.exec(l[op] ?? `SELECT id, modified, sortindex, payload FROM bso WHERE coll = ? ORDER BY modified DESC`, "history").toArray());
    }
    if (op === "stats") {
      return json({ size: this.ctx.storage.sql.databaseSize });
    }
    return new Response("not found", { status: 404 });
  }
}

export default {
  async fetch(request, env) {
    const name = new URL(request.url).pathname.split("/")[1];
    if (!name) return new Response("ok");
    return env.LAYOUT.get(env.LAYOUT.idFromName(name)).fetch(request);
  },
};
