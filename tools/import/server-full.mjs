#!/usr/bin/env node
// Moves a Mozilla server-full (Sync 1.1) SQLite database here: every account
// of its `user` table keeps its name, e-mail, status and password hash
// ({SSHA}, {SSHA-256}, {SSCRYPT} verify as they are and are upgraded on the
// next login), and its records from `wbo` (or the shards `wbo0`…`wboN`)
// with collection names from `collections`.
//
//   npx node tools/import/server-full.mjs sync.db --out moved/ [--auth users.db] [--users alice,bob]
//   npm run admin -- import moved/*.ndjson
//
// Stored units (docs/protocol/storage-1.1.md, S11-5.4): `modified` in hundredths of a second,
// `ttl` absolute epoch seconds with 2100000000 meaning "never".
import { join } from "node:path";
import { num, openSqlite, parseArgs, prepareOut, Report, STANDARD_COLLECTIONS, expiryFromSeconds, text, UserFile } from "./lib.mjs";

const { flags, rest } = parseArgs(process.argv.slice(2), ["out", "auth", "users", "collection-ids"]);
if (rest.length !== 1) {
  process.stderr.write("usage: server-full.mjs <server-full sqlite file> --out DIR [--auth USER-DB] [--users a,b] [--collection-ids fixed|legacy]\n");
  process.exit(2);
}
const out = prepareOut(flags.out);
const db = await openSqlite(rest[0]);
const auth = flags.auth ? await openSqlite(flags.auth) : db;
const report = new Report(out);

const tables = new Set(db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all().map((r) => r.name));
const wboTables = [...tables].filter((t) => /^wbo\d*$/.test(t)).sort();
if (wboTables.length === 0) throw new Error(`${rest[0]}: no wbo table; is this a server-full storage database?`);
// Fallback names for collection ids without a mapping row (only set with fixed/standard ids).
// server-full's default allocates every name per user in `collections`; the fixed tables only with these switches.
const fallback =
  flags["collection-ids"] === "legacy" ? { ...STANDARD_COLLECTIONS, 1: "client", 5: "key" } : flags["collection-ids"] === "fixed" ? STANDARD_COLLECTIONS : {};

const only = flags.users ? new Set(String(flags.users).split(",")) : null;
const users = auth.prepare(`SELECT userid, username, password, accountStatus, mail FROM "user" ORDER BY userid`).all();

for (const u of users) {
  const name = text(u.username);
  if (only && !only.has(name)) continue;
  const userid = num(u.userid);
  if (!/^[a-zA-Z0-9._-]{1,32}$/.test(name ?? "")) {
    report.skip(`user ${userid}`, `user name ${JSON.stringify(name)} is not a valid Sync 1.1 name`);
    continue;
  }
  const names = new Map();
  if (tables.has("collections")) {
    for (const c of db.prepare(`SELECT collectionid, name FROM collections WHERE userid = ?`).all(userid)) names.set(num(c.collectionid), text(c.name));
  }
  const collectionName = (id) => names.get(id) ?? fallback[id] ?? null;
  let newest = 0;
  const used = new Set();
  for (const t of wboTables) {
    const row = db.prepare(`SELECT MAX(modified) AS m FROM ${t} WHERE username = ?`).get(userid);
    newest = Math.max(newest, (num(row?.m) ?? 0) * 10);
    for (const c of db.prepare(`SELECT DISTINCT collection FROM ${t} WHERE username = ?`).all(userid)) used.add(num(c.collection));
  }
  const file = join(out, `acct-${name}.ndjson`);
  const f = new UserFile(
    file,
    {
      kind: "1.1",
      source: "server-full sqlite",
      subject: { type: "account", username: name, mail: text(u.mail), password: text(u.password), status: num(u.accountStatus) ?? 1 },
      lastModified: newest,
    },
    report,
  );
  // 1.1 collections carry no timestamp of their own (computed from records).
  for (const id of [...used].sort((a, b) => a - b)) {
    const n = collectionName(id);
    if (n !== null) f.collection(n, 0);
  }
  for (const t of wboTables) {
    const stmt = db.prepare(
      `SELECT rowid AS r, id, collection, parentid, predecessorid, sortindex, modified, payload, ttl FROM ${t} WHERE username = ? ORDER BY rowid`,
    );
    for (const w of stmt.iterate(userid)) {
      const where = `${t} rowid ${w.r} (user ${name}, id ${JSON.stringify(text(w.id))})`;
      const collection = collectionName(num(w.collection));
      if (collection === null) {
        report.skip(where, `collection id ${w.collection} has no name in the collections table`);
        continue;
      }
      const modified = num(w.modified);
      const wait = f.record(
        {
          collection,
          id: text(w.id),
          payload: text(w.payload),
          sortindex: num(w.sortindex),
          modified: modified === null ? null : modified * 10,
          expiry: expiryFromSeconds(w.ttl),
          parentid: text(w.parentid),
          predecessorid: text(w.predecessorid),
        },
        where,
      );
      if (wait) await wait;
    }
  }
  await f.close();
  report.user({ user: `acct:${name}`, file, records: f.records });
}
report.finish();
