// The syncstorage importer against real database servers: the same fixture
// data is loaded into SQLite and into a throw-away PostgreSQL (Python
// server-syncstorage schema, tokenserver `users` in the same database; and
// syncstorage-rs's PostgreSQL schema, tokenserver-postgres in its own
// database) and MariaDB (syncstorage-rs MySQL schema, tokenserver in its own
// database);
// the importer must write identical files from each (apart from the header's
// source and time), bad rows reported the same way; then the files go into a
// self-hosted server (`npm run serve`) with `admin import`, and Firefox with
// the migrated token state gets the same uid and sees its old collections
// and timestamps on its first request. Skipped, with the reason, when the
// database servers are not installed.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assert, assertEqual, freePort } from "./harness.mjs";
import { cli } from "../../scripts/admin-roundtrip.mjs";
import { Client15 } from "./client15.mjs";
import { startServe, tempDir } from "./selfhost-server.mjs";
import { firstRequestSeesOldData, syncstorageDb } from "./support/import-fixtures.mjs";
import { startMariadb, startPostgres } from "./support/sql-servers.mjs";

function importer(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--no-warnings", join(process.cwd(), "tools", "import", "syncstorage.mjs"), ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** File name → its lines without the header (source and time differ by backend). */
function outputs(dir) {
  const m = {};
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".ndjson"))) m[f] = readFileSync(join(dir, f), "utf8").split("\n").slice(1);
  return m;
}

async function sqliteRows(path, table) {
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(path, { readOnly: true });
  const rows = db.prepare(`SELECT * FROM ${table}`).all();
  db.close();
  return rows;
}

/** Inserts rows in batches with the target's placeholders. */
async function insertAll(query, kind, table, columns, rows) {
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    let n = 0;
    const ph = chunk.map(() => `(${columns.map(() => (kind === "pg" ? `$${++n}` : "?")).join(", ")})`).join(", ");
    await query(`INSERT INTO ${table} (${columns.join(", ")}) VALUES ${ph}`, chunk.flatMap((r) => columns.map((c) => r[c] ?? null)));
  }
}

const isIntLike = (v) => v === null || typeof v === "number" || typeof v === "bigint";

/** Needs no shared wrangler dev (see run.mjs). */
export const ownServer = true;

export default function suite({ test, log, fxa, after }) {
  const dir = mkdtempSync(join(tmpdir(), "weave-admin-sql-"));
  // One self-hosted server (npm run serve) the imported files go into, started on first use.
  const TOKEN = `sql-admin-${randomBytes(12).toString("hex")}`;
  let srv = null;
  after(async () => {
    if (!srv) return;
    srv.signalGroup("SIGTERM");
    await srv.exited;
  });
  /** `admin import` of an importer's files, then Firefox's first requests with the migrated token state. */
  const importAndSync = async (outDir, acct) => {
    srv ??= await startServe({ port: await freePort(), data: tempDir("weave-admin-sql-serve-"), config: { FXA_OAUTH_SERVER_URL: fxa.url, ADMIN_TOKEN: TOKEN } });
    const files = readdirSync(outDir).filter((f) => f.endsWith(".ndjson")).map((f) => join(outDir, f));
    const im = await cli(["import", ...files, "--json"], { url: srv.url, token: TOKEN });
    assertEqual(im.code, 0, im.stderr);
    await firstRequestSeesOldData({ Client15, url: srv.url, fxa, account: acct, n, assertEqual });
  };
  const n = Number(process.env.ADMIN_E2E_SQL_RECORDS ?? 2000);
  const account = { uid: 5001, fxaUid: fxa.randomUid(), generation: 1_700_000_000_000, keysChangedAt: 1_700_000_000_000, clientState: randomBytes(16).toString("hex") };
  const other = { uid: 5002, fxaUid: randomBytes(16).toString("hex"), generation: 1, keysChangedAt: 1, clientState: "00".repeat(16), replacedAt: 1 };

  test("PostgreSQL (Python server-syncstorage schema): same files as from SQLite", async () => {
    const pgSrv = await startPostgres();
    if (pgSrv.skipped) return pgSrv;
    try {
      const fx = await syncstorageDb(dir, { n, accounts: [account, other], flavor: "python" });
      const fromSqlite = await importer([fx.path, "--out", join(dir, "py-sqlite")]);
      assertEqual(fromSqlite.code, 0, fromSqlite.stderr);
      await pgSrv.createDb("storage");
      const pg = (await import("pg")).default;
      const c = new pg.Client({ connectionString: pgSrv.url("storage") });
      await c.connect();
      const q = (sql, args) => c.query(sql, args);
      await q(`CREATE TABLE collections (collectionid INTEGER PRIMARY KEY, name VARCHAR(32) NOT NULL UNIQUE)`);
      await q(`CREATE TABLE user_collections (userid INTEGER NOT NULL, collection INTEGER NOT NULL, last_modified BIGINT NOT NULL, PRIMARY KEY (userid, collection))`);
      await q(`CREATE TABLE bso (userid INTEGER NOT NULL, collection INTEGER NOT NULL, id VARCHAR(64) NOT NULL, sortindex INTEGER, modified BIGINT NOT NULL,
                 payload TEXT NOT NULL DEFAULT '', payload_size INTEGER NOT NULL DEFAULT 0, ttl INTEGER DEFAULT 2100000000, PRIMARY KEY (userid, collection, id))`);
      await q(`CREATE TABLE users (uid BIGSERIAL PRIMARY KEY, service INTEGER NOT NULL, email VARCHAR(255) NOT NULL, generation BIGINT NOT NULL,
                 client_state VARCHAR(32) NOT NULL, created_at BIGINT NOT NULL, replaced_at BIGINT, nodeid BIGINT NOT NULL, keys_changed_at BIGINT)`);
      await insertAll(q, "pg", "collections", ["collectionid", "name"], await sqliteRows(fx.path, "collections"));
      await insertAll(q, "pg", "user_collections", ["userid", "collection", "last_modified"], await sqliteRows(fx.path, "user_collections"));
      // An INTEGER column cannot hold the fixture's text sortindex: that bad row exists only in SQLite.
      const bsos = (await sqliteRows(fx.path, "bso")).filter((r) => isIntLike(r.sortindex));
      await insertAll(q, "pg", "bso", ["userid", "collection", "id", "sortindex", "modified", "payload", "payload_size", "ttl"], bsos);
      await insertAll(q, "pg", "users", ["uid", "service", "email", "generation", "client_state", "created_at", "replaced_at", "nodeid", "keys_changed_at"], await sqliteRows(fx.path, "users"));
      await c.end();
      const fromPg = await importer([pgSrv.url("storage"), "--out", join(dir, "py-pg")]);
      assertEqual(fromPg.code, 0, fromPg.stderr);
      assert(fromPg.stderr.includes("was replaced") && fromPg.stderr.includes("no tokenserver row") && fromPg.stderr.includes("collection id has no name"), fromPg.stderr);
      const a = outputs(join(dir, "py-sqlite"));
      const b = outputs(join(dir, "py-pg"));
      assertEqual(Object.keys(b), ["uid-5001.ndjson"], "one user file");
      assertEqual(b["uid-5001.ndjson"].length, a["uid-5001.ndjson"].length, "same number of lines");
      for (let i = 0; i < a["uid-5001.ndjson"].length; i++) assertEqual(b["uid-5001.ndjson"][i], a["uid-5001.ndjson"][i], `line ${i + 2}`);
      await importAndSync(join(dir, "py-pg"), account);
      log(`PostgreSQL: ${n + 2} records, identical to the SQLite import; Firefox sees them on its first request`);
    } finally {
      pgSrv.stop();
    }
  });

  test("PostgreSQL (syncstorage-rs PostgreSQL schema: bsos, TIMESTAMPTZ times; tokenserver-postgres database apart): same files as from SQLite", async () => {
    const pgSrv = await startPostgres();
    if (pgSrv.skipped) return pgSrv;
    try {
      const sub = join(dir, "pg-rs");
      mkdirSync(sub, { recursive: true });
      const rsAccount = { ...account, uid: 8001, fxaUid: fxa.randomUid() };
      const fx = await syncstorageDb(sub, { n, accounts: [rsAccount, { ...other, uid: 8002 }], flavor: "rs" });
      const fromSqlite = await importer([fx.path, "--out", join(dir, "pgrs-sqlite")]);
      assertEqual(fromSqlite.code, 0, fromSqlite.stderr);
      await pgSrv.createDb("syncstorage");
      await pgSrv.createDb("tokenserver");
      const pg = (await import("pg")).default;
      const c = new pg.Client({ connectionString: pgSrv.url("syncstorage") });
      await c.connect();
      const q = (sql, args) => c.query(sql, args);
      // The tables and column types of syncstorage-rs's syncstorage-postgres migration (2025-10-20 create_schema).
      await q(`CREATE TABLE user_collections (user_id BIGINT NOT NULL, collection_id INTEGER NOT NULL, modified TIMESTAMPTZ NOT NULL, count BIGINT,
                 total_bytes BIGINT, PRIMARY KEY (user_id, collection_id))`);
      await q(`CREATE TABLE bsos (user_id BIGINT NOT NULL, collection_id INTEGER NOT NULL, bso_id TEXT NOT NULL, sortindex INTEGER, payload TEXT NOT NULL,
                 modified TIMESTAMPTZ NOT NULL, expiry TIMESTAMPTZ NOT NULL, PRIMARY KEY (user_id, collection_id, bso_id),
                 FOREIGN KEY (user_id, collection_id) REFERENCES user_collections (user_id, collection_id) ON DELETE CASCADE)`);
      await q(`CREATE TABLE collections (collection_id INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name VARCHAR(32) NOT NULL UNIQUE)`);
      await q(`CREATE TABLE batches (user_id BIGINT NOT NULL, collection_id INTEGER NOT NULL, batch_id UUID NOT NULL, expiry TIMESTAMPTZ NOT NULL,
                 PRIMARY KEY (user_id, collection_id, batch_id), FOREIGN KEY (user_id, collection_id) REFERENCES user_collections (user_id, collection_id) ON DELETE CASCADE)`);
      await q(`CREATE TABLE batch_bsos (user_id BIGINT NOT NULL, collection_id INTEGER NOT NULL, batch_id UUID NOT NULL, batch_bso_id TEXT NOT NULL,
                 sortindex INTEGER, payload TEXT, ttl BIGINT, PRIMARY KEY (user_id, collection_id, batch_id, batch_bso_id),
                 FOREIGN KEY (user_id, collection_id, batch_id) REFERENCES batches (user_id, collection_id, batch_id) ON DELETE CASCADE)`);
      await insertAll(q, "pg", "collections", ["collection_id", "name"], (await sqliteRows(fx.path, "collections")).map((r) => ({ collection_id: r.id, name: r.name })));
      // Every stored record has its user_collections row (the foreign key); times as timestamps.
      const ts = (ms) => new Date(Number(ms)).toISOString();
      const ucs = new Map();
      for (const r of await sqliteRows(fx.path, "user_collections")) ucs.set(`${r.userid}/${r.collection}`, { user_id: r.userid, collection_id: r.collection, modified: ts(r.last_modified) });
      const bsos = (await sqliteRows(fx.path, "bso")).filter((r) => isIntLike(r.sortindex));
      for (const r of bsos) {
        const k = `${r.userid}/${r.collection}`;
        if (!ucs.has(k)) ucs.set(k, { user_id: r.userid, collection_id: r.collection, modified: ts(r.modified) });
      }
      await insertAll(q, "pg", "user_collections", ["user_id", "collection_id", "modified"], [...ucs.values()]);
      await insertAll(
        q,
        "pg",
        "bsos",
        ["user_id", "collection_id", "bso_id", "sortindex", "payload", "modified", "expiry"],
        bsos.map((r) => ({ user_id: r.userid, collection_id: r.collection, bso_id: r.id, sortindex: r.sortindex, payload: r.payload, modified: ts(r.modified), expiry: ts(r.ttl) })),
      );
      // A pending batch upload is not moved (clients retry it).
      await q(`INSERT INTO batches VALUES (8001, 7, '00000000-0000-0000-0000-000000000001', now() + interval '1 hour')`);
      await q(`INSERT INTO batch_bsos VALUES (8001, 7, '00000000-0000-0000-0000-000000000001', 'pending', NULL, 'not committed', NULL)`);
      await c.end();
      // tokenserver-postgres (2025-09-02 create_schema): services, nodes, users.
      const t = new pg.Client({ connectionString: pgSrv.url("tokenserver") });
      await t.connect();
      await t.query(`CREATE TABLE services (id INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, service VARCHAR(30) UNIQUE, pattern VARCHAR(128))`);
      await t.query(`CREATE TABLE nodes (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, service INTEGER NOT NULL, node VARCHAR(64) NOT NULL,
                       available INTEGER NOT NULL, current_load INTEGER NOT NULL, capacity INTEGER NOT NULL, downed INTEGER NOT NULL, backoff INTEGER NOT NULL, UNIQUE (service, node))`);
      await t.query(`CREATE TABLE users (uid BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, service INTEGER NOT NULL, email VARCHAR(255) NOT NULL,
                       generation BIGINT NOT NULL, client_state VARCHAR(32) NOT NULL, created_at BIGINT NOT NULL, replaced_at BIGINT, nodeid BIGINT NOT NULL, keys_changed_at BIGINT)`);
      await t.query(`INSERT INTO services (service, pattern) VALUES ('sync-1.5', '{node}/1.5/{uid}')`);
      await t.query(`INSERT INTO nodes (service, node, available, current_load, capacity, downed, backoff) VALUES (1, 'https://old.example.com', 1, 0, 100, 0, 0)`);
      await insertAll((sql, args) => t.query(sql, args), "pg", "users", ["uid", "service", "email", "generation", "client_state", "created_at", "replaced_at", "nodeid", "keys_changed_at"], await sqliteRows(fx.path, "users"));
      await t.end();
      const fromPg = await importer([pgSrv.url("syncstorage"), "--tokenserver", pgSrv.url("tokenserver"), "--out", join(dir, "pgrs-pg")]);
      assertEqual(fromPg.code, 0, fromPg.stderr);
      assert(fromPg.stderr.includes("was replaced") && fromPg.stderr.includes("no tokenserver row") && fromPg.stderr.includes("collection id has no name"), fromPg.stderr);
      const a = outputs(join(dir, "pgrs-sqlite"));
      const b = outputs(join(dir, "pgrs-pg"));
      assertEqual(Object.keys(b), ["uid-8001.ndjson"], "one user file");
      assert(!b["uid-8001.ndjson"].some((l) => l.includes('"pending"')), "the pending batch is not moved");
      assertEqual(b["uid-8001.ndjson"].length, a["uid-8001.ndjson"].length, "same number of lines");
      for (let i = 0; i < a["uid-8001.ndjson"].length; i++) assertEqual(b["uid-8001.ndjson"][i], a["uid-8001.ndjson"][i], `line ${i + 2}`);
      await importAndSync(join(dir, "pgrs-pg"), rsAccount);
      log(`PostgreSQL (syncstorage-rs schema): ${n + 2} records, identical to the SQLite import; Firefox sees them on its first request`);
    } finally {
      pgSrv.stop();
    }
  });

  test("MariaDB (syncstorage-rs MySQL schema, tokenserver database apart): same files as from SQLite", async () => {
    const my = await startMariadb();
    if (my.skipped) return my;
    try {
      const myAccount = { ...account, uid: 6001, fxaUid: fxa.randomUid() };
      const fx = await syncstorageDb(join(dir), { n, accounts: [myAccount], flavor: "rs" });
      const fromSqlite = await importer([fx.path, "--out", join(dir, "rs-sqlite")]);
      assertEqual(fromSqlite.code, 0, fromSqlite.stderr);
      await my.createDb("syncstorage");
      await my.createDb("tokenserver");
      const mysql = await import("mysql2/promise");
      const s = await mysql.createConnection({ uri: my.url("syncstorage") });
      const q = (sql, args) => s.query(sql, args);
      await q(`CREATE TABLE collections (id INT PRIMARY KEY NOT NULL AUTO_INCREMENT, name VARCHAR(32) UNIQUE NOT NULL) ENGINE = InnoDB DEFAULT CHARSET = latin1`);
      await q(`CREATE TABLE user_collections (userid BIGINT NOT NULL, collection INT NOT NULL, last_modified BIGINT NOT NULL, total_bytes BIGINT, count INT,
                 PRIMARY KEY (userid, collection)) ENGINE = InnoDB DEFAULT CHARSET = latin1`);
      await q(`CREATE TABLE bso (userid BIGINT NOT NULL, collection INT NOT NULL, id VARCHAR(64) NOT NULL, sortindex INT, payload MEDIUMTEXT NOT NULL,
                 payload_size BIGINT DEFAULT 0, modified BIGINT NOT NULL, expiry BIGINT DEFAULT 3153600000000 NOT NULL,
                 PRIMARY KEY (userid, collection, id)) ENGINE = InnoDB DEFAULT CHARSET = latin1`);
      await insertAll(q, "mysql", "collections", ["id", "name"], await sqliteRows(fx.path, "collections"));
      await insertAll(q, "mysql", "user_collections", ["userid", "collection", "last_modified"], await sqliteRows(fx.path, "user_collections"));
      const bsos = (await sqliteRows(fx.path, "bso")).filter((r) => isIntLike(r.sortindex)).map((r) => ({ ...r, expiry: r.ttl }));
      await insertAll(q, "mysql", "bso", ["userid", "collection", "id", "sortindex", "payload", "payload_size", "modified", "expiry"], bsos);
      await s.end();
      const t = await mysql.createConnection({ uri: my.url("tokenserver") });
      await t.query(`CREATE TABLE users (uid BIGINT PRIMARY KEY AUTO_INCREMENT, service INT NOT NULL, email VARCHAR(255) NOT NULL, generation BIGINT NOT NULL,
                       client_state VARCHAR(32) NOT NULL, created_at BIGINT NOT NULL, replaced_at BIGINT, nodeid BIGINT NOT NULL, keys_changed_at BIGINT)`);
      await insertAll((sql, args) => t.query(sql, args), "mysql", "users", ["uid", "service", "email", "generation", "client_state", "created_at", "replaced_at", "nodeid", "keys_changed_at"], await sqliteRows(fx.path, "users"));
      await t.end();
      const fromMy = await importer([my.url("syncstorage"), "--tokenserver", my.url("tokenserver"), "--out", join(dir, "rs-mysql")]);
      assertEqual(fromMy.code, 0, fromMy.stderr);
      const a = outputs(join(dir, "rs-sqlite"));
      const b = outputs(join(dir, "rs-mysql"));
      assertEqual(Object.keys(b), ["uid-6001.ndjson"], "one user file");
      assertEqual(b["uid-6001.ndjson"].length, a["uid-6001.ndjson"].length, "same number of lines");
      for (let i = 0; i < a["uid-6001.ndjson"].length; i++) assertEqual(b["uid-6001.ndjson"][i], a["uid-6001.ndjson"][i], `line ${i + 2}`);
      await importAndSync(join(dir, "rs-mysql"), myAccount);
      log(`MariaDB: ${n + 2} records, identical to the SQLite import; Firefox sees them on its first request`);
    } finally {
      my.stop();
    }
  });
}
