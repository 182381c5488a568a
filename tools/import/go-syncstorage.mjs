#!/usr/bin/env node
// Moves go-syncstorage data here: one SQLite file per user, named after the
// tokenserver uid (`<uid>.db`, possibly in sub-directories), with tables
// `BSO` (CollectionId, Id, SortIndex, Payload, Modified ms, TTL = expiry in
// ms) and `Collections` (Id, Name, Modified ms). The tokenserver rows come
// from the tokenserver database that ran in front of it (--tokenserver).
//
//   npx node tools/import/go-syncstorage.mjs /var/lib/syncstorage --tokenserver tokenserver.db --out moved/
//   npm run admin -- import moved/*.ndjson
import { readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { expiryFromMs, num, parseArgs, prepareOut, Report, text, tokenSubject, UserFile } from "./lib.mjs";
import { openSource } from "./sources.mjs";

const { flags, rest } = parseArgs(process.argv.slice(2), ["out", "tokenserver"]);
if (rest.length === 0 || !flags.tokenserver) {
  process.stderr.write("usage: go-syncstorage.mjs <dir or files…> --tokenserver FILE|URL --out DIR\n");
  process.exit(2);
}
const out = prepareOut(flags.out);
const report = new Report(out);

function findDbs(p) {
  if (statSync(p).isFile()) return [p];
  return readdirSync(p).flatMap((e) => findDbs(join(p, e)));
}
const files = rest.flatMap(findDbs).filter((f) => f.endsWith(".db"));

const ts = await openSource(flags.tokenserver);
const tcols = new Set(await ts.columns("users"));
const tokenRows = new Map();
for (const r of await ts.all(
  `SELECT uid, email, generation, client_state, created_at, replaced_at, ${tcols.has("keys_changed_at") ? "keys_changed_at" : "NULL AS keys_changed_at"} FROM users`,
)) {
  tokenRows.set(num(r.uid), r);
}
await ts.close();

for (const path of files.sort()) {
  const stem = basename(path, ".db");
  if (!/^\d+$/.test(stem)) {
    report.skip(path, "the file name is not <uid>.db");
    continue;
  }
  const uid = Number(stem);
  const row = tokenRows.get(uid);
  if (!row || (row.replaced_at !== null && row.replaced_at !== undefined)) {
    report.skip(path, row ? "its tokenserver row was replaced; Firefox no longer uses this data" : "no tokenserver row for this uid");
    continue;
  }
  const db = await openSource(path);
  try {
    const tables = await db.tables();
    if (!tables.includes("BSO") || !tables.includes("Collections")) {
      report.skip(path, "not a go-syncstorage database (no BSO / Collections tables)");
      continue;
    }
    const counts = new Map((await db.all(`SELECT CollectionId AS c, COUNT(*) AS n, MAX(Modified) AS m FROM BSO GROUP BY CollectionId`)).map((r) => [num(r.c), r]));
    const colls = [];
    for (const c of await db.all(`SELECT Id AS id, Name AS name, Modified AS m FROM Collections ORDER BY Id`)) {
      const id = num(c.id);
      const m = Math.max(num(c.m) ?? 0, num(counts.get(id)?.m) ?? 0);
      // The pre-created standard collections that were never used have no timestamp.
      if (m > 0) colls.push([id, text(c.name), m]);
      counts.delete(id);
    }
    for (const [id] of counts) report.skip(`${path} CollectionId ${id}`, "collection id has no name; its records are skipped");
    const file = join(out, `uid-${uid}.ndjson`);
    const f = new UserFile(
      file,
      { kind: "1.5", source: "go-syncstorage", subject: tokenSubject(row), lastModified: Math.max(0, ...colls.map((c) => c[2])) },
      report,
    );
    for (const [, name, m] of colls) f.collection(name, m);
    for (const [cid, name] of colls) {
      let after = "";
      for (;;) {
        const page = await db.all(
          `SELECT Id AS id, SortIndex AS s, Payload AS p, Modified AS m, TTL AS e FROM BSO WHERE CollectionId = ? AND Id > ? ORDER BY Id LIMIT 2000`,
          [cid, after],
        );
        for (const b of page) {
          const wait = f.record(
            { collection: name, id: text(b.id), payload: text(b.p) ?? "", sortindex: num(b.s), modified: num(b.m), expiry: expiryFromMs(b.e) },
            `${path} ${name}/${JSON.stringify(text(b.id))}`,
          );
          if (wait) await wait;
        }
        if (page.length < 2000) break;
        after = text(page[page.length - 1].id);
      }
    }
    await f.close();
    report.user({ user: `uid:${uid}`, file, records: f.records });
  } finally {
    await db.close();
  }
}
report.finish();
