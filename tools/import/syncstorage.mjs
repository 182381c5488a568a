#!/usr/bin/env node
// Moves a Sync 1.5 storage database here: Mozilla's Python syncserver /
// server-syncstorage (table `bso` or shards `bso0`…, `user_collections`,
// `collections`; ttl in epoch seconds), syncstorage-rs on MySQL or SQLite
// (`bso`, `user_collections`, `collections`; expiry in ms) or syncstorage-rs
// on PostgreSQL (`bsos` with `bso_id`, `user_collections`, `collections`;
// `modified` and `expiry` are TIMESTAMPTZ), with the tokenserver `users`
// rows, so that every Firefox keeps its uid, generation, keys_changed_at and
// client_state and continues with an incremental sync once its tokenserver
// URL points here. README "Move in / move out" lists the schemas read.
//
//   npx node tools/import/syncstorage.mjs sync.db --out moved/ [--tokenserver tokenserver.db]
//   npx node tools/import/syncstorage.mjs mysql://user:pw@host/syncstorage --tokenserver mysql://…/tokenserver --out moved/
//   npx node tools/import/syncstorage.mjs postgres://user:pw@host/syncstorage --tokenserver postgres://… --out moved/
//   npm run admin -- import moved/*.ndjson
//
// A storage user without a current tokenserver row is reported and skipped
// (no Firefox could reach that data). Pending batch uploads are not moved
// (clients retry them). syncstorage-rs's Spanner schema (keyed by
// fxa_uid/fxa_kid) is not read: export it to one of the above first.
import { join } from "node:path";
import { expiryFromMs, expiryFromSeconds, num, parseArgs, prepareOut, Report, STANDARD_COLLECTIONS, text, tokenSubject, UserFile } from "./lib.mjs";
import { openSource } from "./sources.mjs";

const { flags, rest } = parseArgs(process.argv.slice(2), ["out", "tokenserver", "uids"]);
if (rest.length !== 1) {
  process.stderr.write("usage: syncstorage.mjs <sqlite file | mysql://… | postgres://…> --out DIR [--tokenserver FILE|URL] [--uids 1,2]\n");
  process.exit(2);
}
const out = prepareOut(flags.out);
const src = await openSource(rest[0]);
const ts = flags.tokenserver ? await openSource(flags.tokenserver) : src;
const report = new Report(out);

try {
  const tables = await src.tables();
  const bsoTables = tables.filter((t) => /^bso\d*$/.test(t) || t === "bsos").sort();
  if (bsoTables.length === 0) throw new Error(`${rest[0]}: no bso table; is this a Sync 1.5 storage database?`);
  const cols = new Set(await src.columns(bsoTables[0]));
  const userCol = cols.has("userid") ? "userid" : "user_id";
  const collCol = cols.has("collection") ? "collection" : "collection_id";
  // Python: ttl = epoch seconds; syncstorage-rs: expiry (MySQL) or ttl (SQLite) in ms.
  const expiryCol = cols.has("expiry") ? "expiry" : "ttl";
  const idCol = cols.has("bso_id") ? "bso_id" : "id";
  // syncstorage-rs on PostgreSQL keeps times as TIMESTAMPTZ: read them as epoch ms (infinite ones as none).
  const timestamps = src.kind === "postgres" && (await src.columnType(bsoTables[0], "modified")).startsWith("timestamp");
  const ms = (col) => (timestamps ? `CASE WHEN isfinite(${col}) THEN FLOOR(EXTRACT(EPOCH FROM ${col}) * 1000)::bigint END` : col);
  const ucCols = new Set(tables.includes("user_collections") ? await src.columns("user_collections") : []);
  const ucUser = ucCols.has("userid") ? "userid" : "user_id";
  const ucColl = ucCols.has("collection") ? "collection" : "collection_id";
  const ucMod = ucCols.has("last_modified") ? "last_modified" : "modified";

  // Seconds or ms? The Python servers wrote epoch seconds; look at the data, not the schema.
  let expiryUnit = "ms";
  if (!timestamps) {
    // (Literals, not parameters: PostgreSQL would bind 1e11 as the column's 32-bit type.)
    const sample = await src.all(`SELECT MAX(${expiryCol}) AS m FROM ${bsoTables[0]} WHERE ${expiryCol} < 100000000000`);
    const anyMs = await src.all(`SELECT COUNT(*) AS n FROM ${bsoTables[0]} WHERE ${expiryCol} >= 100000000000`);
    if ((num(sample[0]?.m) ?? 0) > 0 && (num(anyMs[0]?.n) ?? 0) === 0) expiryUnit = "s";
  }
  const toExpiry = expiryUnit === "s" ? expiryFromSeconds : expiryFromMs;

  const names = new Map(Object.entries(STANDARD_COLLECTIONS).map(([k, v]) => [Number(k), v]));
  if (tables.includes("collections")) {
    const ccols = new Set(await src.columns("collections"));
    const idCol = ccols.has("collectionid") ? "collectionid" : ccols.has("collection_id") ? "collection_id" : "id";
    for (const c of await src.all(`SELECT ${idCol} AS id, name FROM collections`)) if (text(c.name)) names.set(num(c.id), text(c.name));
  }

  const tokenTables = await ts.tables();
  if (!tokenTables.includes("users")) throw new Error("no tokenserver users table: pass --tokenserver with the tokenserver database");
  const tcols = new Set(await ts.columns("users"));
  const tokenRows = new Map();
  for (const r of await ts.all(
    `SELECT uid, email, generation, client_state, created_at, replaced_at, ${tcols.has("keys_changed_at") ? "keys_changed_at" : "NULL AS keys_changed_at"} FROM users`,
  )) {
    tokenRows.set(num(r.uid), r);
  }

  const only = flags.uids ? new Set(String(flags.uids).split(",").map(Number)) : null;
  const uids = new Set();
  for (const t of bsoTables) for (const r of await src.all(`SELECT DISTINCT ${userCol} AS u FROM ${t}`)) uids.add(num(r.u));
  if (ucCols.size) for (const r of await src.all(`SELECT DISTINCT ${ucUser} AS u FROM user_collections`)) uids.add(num(r.u));

  for (const uid of [...uids].sort((a, b) => a - b)) {
    if (only && !only.has(uid)) continue;
    const row = tokenRows.get(uid);
    if (!row) {
      report.skip(`uid ${uid}`, "no tokenserver row for this uid: no Firefox can reach this data");
      continue;
    }
    if (row.replaced_at !== null && row.replaced_at !== undefined) {
      report.skip(`uid ${uid}`, "its tokenserver row was replaced (the account changed keys); Firefox no longer uses this data");
      continue;
    }
    // Collection timestamps: user_collections, or at least the newest record of each.
    const stamps = new Map();
    const bump = (id, m) => stamps.set(id, Math.max(stamps.get(id) ?? 0, num(m) ?? 0));
    if (ucCols.size) {
      for (const c of await src.all(`SELECT ${ucColl} AS c, ${ms(ucMod)} AS m FROM user_collections WHERE ${ucUser} = ?`, [uid])) bump(num(c.c), c.m);
    }
    for (const t of bsoTables) {
      for (const c of await src.all(`SELECT ${collCol} AS c, MAX(${ms("modified")}) AS m FROM ${t} WHERE ${userCol} = ? GROUP BY ${collCol}`, [uid])) bump(num(c.c), c.m);
    }
    const collections = [];
    for (const [id, m] of [...stamps].sort((a, b) => a[0] - b[0])) {
      const name = names.get(id);
      if (!name) report.skip(`uid ${uid} collection id ${id}`, "collection id has no name; its records are skipped");
      else collections.push([id, name, m]);
    }
    const newest = Math.max(0, ...collections.map(([, , m]) => m));
    const file = join(out, `uid-${uid}.ndjson`);
    const f = new UserFile(file, { kind: "1.5", source: `syncstorage ${src.kind}`, subject: tokenSubject(row), lastModified: newest }, report);
    for (const [, name, m] of collections) f.collection(name, m);
    for (const t of bsoTables) {
      for (const [cid, collection] of collections) {
        // Keyset pages by id: bounded memory on every backend.
        let after = "";
        for (;;) {
          const page = await src.all(
            `SELECT ${idCol} AS id, sortindex, ${ms("modified")} AS modified, payload, ${ms(expiryCol)} AS e FROM ${t} WHERE ${userCol} = ? AND ${collCol} = ? AND ${idCol} > ? ORDER BY ${idCol} LIMIT 2000`,
            [uid, cid, after],
          );
          for (const b of page) {
            const where = `${t} uid ${uid} ${collection}/${JSON.stringify(text(b.id))}`;
            const wait = f.record(
              { collection, id: text(b.id), payload: text(b.payload) ?? "", sortindex: num(b.sortindex), modified: num(b.modified), expiry: toExpiry(b.e) },
              where,
            );
            if (wait) await wait;
          }
          if (page.length < 2000) break;
          after = text(page[page.length - 1].id);
        }
      }
    }
    await f.close();
    report.user({ user: `uid:${uid}`, file, records: f.records });
  }
  report.finish();
} finally {
  await src.close();
  if (ts !== src) await ts.close();
}
