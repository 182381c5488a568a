// Fixture databases for the migration importers, built from the published
// schemas of the other servers (table and column names and units only):
// server-full (S11-5.4, U10-6), Python server-syncstorage /
// syncserver (bso, user_collections, collections; tokenserver users),
// syncstorage-rs SQLite (bso with ms expiry in `ttl`), go-syncstorage (one
// SQLite file per uid: BSO, Collections, KeyValues). Each gets a few bad rows
// the importers must report and skip.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const T0 = 1_700_000_000_000;

async function sqlite(path) {
  const { DatabaseSync } = await import("node:sqlite");
  return new DatabaseSync(path);
}

/** {SSHA-256} as server-full wrote it: base64(SHA-256(password ‖ salt) ‖ salt). */
export function sshaSha256(password, salt = randomBytes(8)) {
  const h = createHash("sha256").update(Buffer.concat([Buffer.from(password, "utf8"), salt])).digest();
  return `{SSHA-256}${Buffer.concat([h, salt]).toString("base64")}`;
}

const payload = (i) => JSON.stringify({ ciphertext: randomBytes(60).toString("base64"), IV: String(i), hmac: "h" });

/**
 * server-full: `user`, `collections`, `wbo` (modified in hundredths, ttl in
 * epoch seconds). Two accounts; the first gets `n` records. Bad rows: a text
 * sortindex, an unknown collection id, a 70-character id.
 */
export async function serverFullDb(dir, { n, users }) {
  const path = join(dir, "server-full.db");
  const db = await sqlite(path);
  db.exec(`CREATE TABLE "user" (userid INTEGER PRIMARY KEY, username VARCHAR(32) UNIQUE NOT NULL, password VARCHAR(128),
             accountStatus INTEGER DEFAULT 1, mail VARCHAR(64), mailVerified INTEGER DEFAULT 0, syncNode VARCHAR(64));
           CREATE TABLE collections (userid INTEGER NOT NULL, collectionid INTEGER NOT NULL, name VARCHAR(32) NOT NULL, PRIMARY KEY (userid, collectionid));
           CREATE TABLE wbo (id VARCHAR(64) NOT NULL, username INTEGER NOT NULL, collection INTEGER NOT NULL DEFAULT 0, parentid VARCHAR(64),
             predecessorid VARCHAR(64), sortindex INTEGER, modified BIGINT, payload TEXT, payload_size INTEGER NOT NULL DEFAULT 0,
             ttl INTEGER DEFAULT 2100000000, PRIMARY KEY (id, username, collection));`);
  const addUser = db.prepare(`INSERT INTO "user" (userid, username, password, accountStatus, mail) VALUES (?, ?, ?, 1, ?)`);
  for (const [i, u] of users.entries()) addUser.run(i + 1, u.username, sshaSha256(u.password), u.email);
  const addColl = db.prepare(`INSERT INTO collections VALUES (?, ?, ?)`);
  for (const [i] of users.entries()) {
    addColl.run(i + 1, 0, "bookmarks");
    addColl.run(i + 1, 1, "history");
  }
  const add = db.prepare(`INSERT INTO wbo (id, username, collection, parentid, predecessorid, sortindex, modified, payload, payload_size, ttl) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  db.exec("BEGIN");
  for (let i = 0; i < n; i++) {
    const p = payload(i);
    add.run(`w${i}`, 1, i % 2, i % 3 === 0 ? "folder" : null, i % 5 === 0 ? `w${i - 1}` : null, i % 4 === 0 ? null : i, 170000000000 + i, p, p.length, i % 7 === 0 ? 1893456000 : 2100000000);
  }
  add.run("second", 2, 1, null, null, 1, 170000000001, "other user", 10, 2100000000);
  // Bad rows.
  add.run("bad-sortindex", 1, 0, null, null, "high", 170000000002, "x", 1, 2100000000);
  add.run("bad-collection", 1, 9, null, null, null, 170000000003, "x", 1, 2100000000);
  add.run("x".repeat(70), 1, 0, null, null, null, 170000000004, "x", 1, 2100000000);
  db.exec("COMMIT");
  db.close();
  return { path, bad: 3 };
}

function tokenTables(db) {
  db.exec(`CREATE TABLE IF NOT EXISTS services (id INTEGER PRIMARY KEY, service VARCHAR(30) UNIQUE, pattern VARCHAR(128));
           CREATE TABLE IF NOT EXISTS nodes (id INTEGER PRIMARY KEY, service INTEGER NOT NULL, node VARCHAR(64) NOT NULL, available INTEGER NOT NULL,
             current_load INTEGER NOT NULL, capacity INTEGER NOT NULL, downed INTEGER NOT NULL, backoff INTEGER NOT NULL);
           CREATE TABLE IF NOT EXISTS users (uid INTEGER PRIMARY KEY, service INTEGER NOT NULL, email VARCHAR(255) NOT NULL, generation BIGINT NOT NULL,
             client_state VARCHAR(32) NOT NULL, created_at BIGINT NOT NULL, replaced_at BIGINT, nodeid BIGINT NOT NULL, keys_changed_at BIGINT);
           INSERT OR IGNORE INTO services VALUES (1, 'sync-1.5', '{node}/1.5/{uid}');
           INSERT OR IGNORE INTO nodes VALUES (1, 1, 'https://old.example.com', 1, 0, 100, 0, 0);`);
}

function addTokenUser(db, a) {
  db.prepare(`INSERT INTO users (uid, service, email, generation, client_state, created_at, replaced_at, nodeid, keys_changed_at) VALUES (?, 1, ?, ?, ?, ?, ?, 1, ?)`).run(
    a.uid,
    `${a.fxaUid}@api.accounts.firefox.com`,
    a.generation,
    a.clientState,
    T0 - 1000,
    a.replacedAt ?? null,
    a.keysChangedAt,
  );
}

/**
 * Python server-syncstorage / syncserver (one SQLite file with storage and
 * tokenserver tables; ttl in epoch seconds) or syncstorage-rs SQLite
 * (`flavor: "rs"`: ttl holds the expiry in ms). `accounts`: [{uid, fxaUid,
 * generation, keysChangedAt, clientState}]; the first gets `n` records.
 * A replaced uid and a uid without tokenserver row are skipped; bad rows: a
 * text sortindex and an unknown collection id.
 */
export async function syncstorageDb(dir, { n, accounts, flavor = "python" }) {
  const path = join(dir, `${flavor}-syncstorage.db`);
  const db = await sqlite(path);
  const ttlType = flavor === "rs" ? "BIGINT NOT NULL DEFAULT 3153600000000" : "INTEGER DEFAULT 2100000000";
  db.exec(`CREATE TABLE collections (${flavor === "rs" ? "id" : "collectionid"} INTEGER PRIMARY KEY, name VARCHAR(32) NOT NULL UNIQUE);
           CREATE TABLE user_collections (userid INTEGER NOT NULL, collection INTEGER NOT NULL, last_modified BIGINT NOT NULL, PRIMARY KEY (userid, collection));
           CREATE TABLE bso (userid INTEGER NOT NULL, collection INTEGER NOT NULL, id VARCHAR(64) NOT NULL, sortindex INTEGER, modified BIGINT NOT NULL,
             payload TEXT NOT NULL DEFAULT '', payload_size INTEGER NOT NULL DEFAULT 0, ttl ${ttlType}, PRIMARY KEY (userid, collection, id));`);
  db.exec(`INSERT INTO collections VALUES (1, 'clients'), (2, 'crypto'), (4, 'history'), (6, 'meta'), (7, 'bookmarks'), (100, 'custom-things')`);
  tokenTables(db);
  for (const a of accounts) addTokenUser(db, a);
  const add = db.prepare(`INSERT INTO bso (userid, collection, id, sortindex, modified, payload, payload_size, ttl) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  const uc = db.prepare(`INSERT OR REPLACE INTO user_collections VALUES (?, ?, ?)`);
  const never = flavor === "rs" ? 3153600000000 : 2100000000;
  const expiring = flavor === "rs" ? 1893456000000 : 1893456000;
  db.exec("BEGIN");
  const uid = accounts[0].uid;
  add.run(uid, 6, "global", null, T0, '{"syncID":"abc","storageVersion":5}', 10, never);
  add.run(uid, 2, "keys", null, T0 + 10, "keys-ciphertext", 10, never);
  let last = T0 + 10;
  for (let i = 0; i < n; i++) {
    const coll = i % 3 === 0 ? 7 : i % 3 === 1 ? 4 : 100;
    last = T0 + 20 + i * 10;
    const p = payload(i);
    add.run(uid, coll, `r${i}`, i % 4 === 0 ? null : i, last, p, p.length, i % 7 === 0 ? expiring : never);
  }
  uc.run(uid, 6, T0);
  uc.run(uid, 2, T0 + 10);
  for (const c of [7, 4, 100]) uc.run(uid, c, last + 1000);
  // A deleted-everything collection: timestamp without records.
  uc.run(uid, 1, T0 + 50);
  // Other uids: one replaced, one without tokenserver row.
  for (const a of accounts.slice(1)) add.run(a.uid, 7, "x", null, T0, "x", 1, never);
  add.run(9999, 7, "orphan", null, T0, "x", 1, never);
  // Bad rows of the main user.
  add.run(uid, 7, "bad-sortindex", "high", T0 + 1, "x", 1, never);
  add.run(uid, 55, "bad-collection", null, T0 + 2, "x", 1, never);
  db.exec("COMMIT");
  db.close();
  return { path };
}

/** go-syncstorage: `<dir>/go/<uid>.db` per user, and a tokenserver SQLite file. */
export async function goSyncstorage(dir, { n, account }) {
  const base = join(dir, "go", String(account.uid % 10));
  mkdirSync(base, { recursive: true });
  const path = join(base, `${account.uid}.db`);
  const db = await sqlite(path);
  db.exec(`CREATE TABLE BSO (CollectionId INTEGER NOT NULL, Id VARCHAR(64) NOT NULL, SortIndex INTEGER DEFAULT 0, Payload TEXT NOT NULL DEFAULT '',
             PayloadSize INTEGER NOT NULL DEFAULT 0, Modified bigint NOT NULL, TTL INTEGER NOT NULL DEFAULT 2100000000, PRIMARY KEY (CollectionId, Id));
           CREATE TABLE Collections (Id INTEGER PRIMARY KEY ASC, Name VARCHAR(32) UNIQUE, Size INTEGER NOT NULL DEFAULT 0, Modified INTEGER NOT NULL DEFAULT 0);
           CREATE TABLE KeyValues (Key VARCHAR(32) NOT NULL, Value VARCHAR(32) NOT NULL, PRIMARY KEY (Key));
           INSERT INTO KeyValues VALUES ('SCHEMA_VERSION', 0);
           INSERT INTO Collections (Name) VALUES ('bookmarks'), ('history'), ('forms'), ('prefs'), ('tabs'), ('passwords'), ('crypto'), ('client'), ('keys'), ('meta');`);
  const add = db.prepare(`INSERT INTO BSO (CollectionId, Id, SortIndex, Payload, PayloadSize, Modified, TTL) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  db.exec("BEGIN");
  add.run(10, "global", 0, '{"syncID":"go","storageVersion":5}', 10, T0, T0 + 365 * 86400_000);
  let last = T0;
  for (let i = 0; i < n; i++) {
    last = T0 + 10 + i * 10;
    const p = payload(i);
    add.run(i % 2 === 0 ? 1 : 2, `g${i}`, i % 9, p, p.length, last, i % 5 === 0 ? 1893456000000 : last + 365 * 86400_000);
  }
  add.run(1, "bad-sortindex", "high", "x", 1, T0 + 1, 2100000000);
  add.run(42, "bad-collection", 0, "x", 1, T0 + 2, 2100000000);
  db.exec(`UPDATE Collections SET Modified = ${last} WHERE Id IN (1, 2); UPDATE Collections SET Modified = ${T0} WHERE Id = 10;`);
  db.exec("COMMIT");
  db.close();
  const tsPath = join(dir, "go-tokenserver.db");
  const ts = await sqlite(tsPath);
  tokenTables(ts);
  addTokenUser(ts, account);
  ts.close();
  return { path, tokenserver: tsPath, dir: join(dir, "go") };
}

const ts2 = (ms) => Number((ms / 1000).toFixed(2));

/**
 * The importer claim for a syncstorageDb() fixture moved to `url`: Firefox,
 * with the migrated token state, gets the same uid from this tokenserver and
 * on its first storage request sees the old collections with their old
 * timestamps, counts and meta/global. `Client15` is passed in to keep this
 * module free of the e2e clients.
 */
export async function firstRequestSeesOldData({ Client15, url, fxa, account, n, assertEqual }) {
  const ff = new Client15(url, fxa, account);
  const t = await ff.fetchToken();
  assertEqual(t.status, 200, JSON.stringify(t.body));
  assertEqual(t.body.uid, account.uid, "same uid");
  const info = await ff.storage("GET", "/info/collections");
  const last = T0 + 20 + (n - 1) * 10 + 1000;
  assertEqual(
    info.json,
    { bookmarks: ts2(last), clients: ts2(T0 + 50), crypto: ts2(T0 + 10), "custom-things": ts2(last), history: ts2(last), meta: ts2(T0) },
    "collections and timestamps",
  );
  const counts = await ff.storage("GET", "/info/collection_counts");
  assertEqual(counts.json.history, Math.floor((n + 1) / 3), "history records");
  const meta = await ff.storage("GET", "/storage/meta/global");
  assertEqual(meta.json.payload, '{"syncID":"abc","storageVersion":5}', "meta/global as it was");
}
