// Shared parts of the migration importers (tools/import/*.mjs): writing one
// user's data in the weave-edge export format (docs/export-format.md) with
// bounded memory, checking every row the way the server's import does, and
// the report of what was skipped and why. The importers only read the old
// server's database; moving the files in is `npm run admin -- import`.
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const FORMAT = "weave-edge-export";
export const FORMAT_VERSION = 1;
const MAX_PAYLOAD_BYTES = 1_900_000;
/** The reference servers' "never expires" markers: 2100000000 s (Python) and 3153600000000 ms (Rust). */
export const NEVER_SECONDS = 2100000000;
export const NEVER_MS = 3153600000000;

/** Collection ids the reference servers fix (1.1 `fixed_collections`, 1.5 standard ids). */
export const STANDARD_COLLECTIONS = {
  1: "clients",
  2: "crypto",
  3: "forms",
  4: "history",
  5: "keys",
  6: "meta",
  7: "bookmarks",
  8: "prefs",
  9: "tabs",
  10: "passwords",
  11: "addons",
  12: "addresses",
  13: "creditcards",
};

export function parseArgs(argv, withValue) {
  const flags = {};
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const [k, v] = a.slice(2).split("=", 2);
      if (withValue.includes(k)) flags[k] = v ?? argv[++i];
      else flags[k] = true;
    } else rest.push(a);
  }
  return { flags, rest };
}

function hasLoneSurrogate(s) {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
      return true;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

const isInt = (v) => typeof v === "number" && Number.isSafeInteger(v);

/** Why a record cannot be moved, or null. Same rules as src/storage/transfer.ts. */
export function recordProblem(r) {
  if (typeof r.collection !== "string" || r.collection.length < 1 || r.collection.length > 32) return "collection name missing or longer than 32 characters";
  if (typeof r.id !== "string" || r.id.length < 1 || r.id.length > 64) return "id missing or longer than 64 characters";
  if (r.payload !== null && typeof r.payload !== "string") return "payload is not text";
  if (typeof r.payload === "string") {
    if (hasLoneSurrogate(r.payload)) return "payload contains a lone UTF-16 surrogate";
    if (Buffer.byteLength(r.payload) > MAX_PAYLOAD_BYTES) return `payload larger than ${MAX_PAYLOAD_BYTES} bytes`;
  }
  if (r.sortindex !== null && !isInt(r.sortindex)) return "sortindex is not an integer";
  if (r.modified !== null && (!isInt(r.modified) || r.modified < 0)) return "modified is not a time";
  if (r.expiry !== null && !isInt(r.expiry)) return "expiry is not a time";
  for (const k of ["parentid", "predecessorid"]) {
    if (r[k] !== null && r[k] !== undefined && (typeof r[k] !== "string" || r[k].length > 64)) return `${k} is not an id`;
  }
  return null;
}

/** A value from a database column as a JS number (BigInt and numeric strings too), or null. */
export function num(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "number") return v;
  if (typeof v === "string" && /^-?\d+$/.test(v)) return Number(v);
  return Number.NaN;
}

/** Text from a column (Buffers from BLOB/BYTEA columns decoded as UTF-8), or null. */
export function text(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString("utf8");
  return String(v);
}

/**
 * Writes one user's file. Usage: open(), collection()*, record()*, close().
 * Records that fail {@link recordProblem} are reported and left out.
 */
export class UserFile {
  constructor(path, { kind, source, subject, lastModified, storageTombstone = 0 }, report) {
    this.path = path;
    this.kind = kind;
    this.report = report;
    this.records = 0;
    this.collections = 0;
    this.out = createWriteStream(path);
    this.failed = null;
    this.out.on("error", (e) => (this.failed = e));
    this.#line({ format: FORMAT, version: FORMAT_VERSION, kind, exported_at: Date.now(), source, schema_version: 0 });
    this.#line(subject);
    this.#line({ type: "store", last_modified: lastModified ?? 0, storage_tombstone: storageTombstone });
  }

  #line(o) {
    return this.out.write(`${JSON.stringify(o)}\n`);
  }

  collection(name, modified) {
    this.collections++;
    this.#line({ type: "collection", name, modified });
  }

  /** Returns a promise to await when the stream wants a pause (backpressure), else null. */
  record(r, where) {
    const rec = {
      type: "record",
      collection: r.collection,
      id: r.id,
      modified: r.modified,
      sortindex: r.sortindex ?? null,
      expiry: r.expiry ?? null,
      payload: r.payload,
    };
    if (this.kind === "1.1") {
      rec.parentid = r.parentid ?? null;
      rec.predecessorid = r.predecessorid ?? null;
    }
    const problem = recordProblem(rec);
    if (problem) {
      this.report.skip(where, problem);
      return null;
    }
    this.records++;
    return this.#line(rec) ? null : new Promise((res) => this.out.once("drain", res));
  }

  async close() {
    this.#line({ type: "end", collections: this.collections, records: this.records });
    await new Promise((res, rej) => this.out.end((e) => (e ? rej(e) : res())));
    if (this.failed) throw this.failed;
  }
}

/** What was written and what was skipped, printed at the end and saved as report.json. */
export class Report {
  constructor(outDir) {
    this.outDir = outDir;
    this.users = [];
    this.skipped = [];
    this.skippedCount = 0;
  }
  skip(where, why) {
    this.skippedCount++;
    // Keep the report readable for huge inputs: the first 1000 rows in detail.
    if (this.skipped.length < 1000) this.skipped.push({ where, why });
  }
  user(entry) {
    this.users.push(entry);
  }
  finish() {
    const summary = {
      users: this.users.length,
      records: this.users.reduce((a, u) => a + u.records, 0),
      skipped: this.skippedCount,
      files: this.users.map((u) => u.file),
      details: { users: this.users, skipped: this.skipped },
    };
    writeFileSync(join(this.outDir, "report.json"), `${JSON.stringify(summary, null, 2)}\n`);
    process.stderr.write(`${this.users.length} users, ${summary.records} records written to ${this.outDir}; ${this.skippedCount} rows skipped\n`);
    for (const s of this.skipped.slice(0, 20)) process.stderr.write(`  skipped ${s.where}: ${s.why}\n`);
    if (this.skippedCount > 20) process.stderr.write(`  … ${this.skippedCount - 20} more in report.json\n`);
    process.stderr.write(`next: npm run admin -- import ${this.outDir}/*.ndjson\n`);
    return summary;
  }
}

export function prepareOut(dir) {
  if (!dir) throw new Error("--out DIR is required (where the export files go)");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** ttl/expiry column of the Python servers (absolute epoch seconds) → expiry in ms, null = never. */
export function expiryFromSeconds(v) {
  const n = num(v);
  if (n === null || n >= NEVER_SECONDS) return null;
  return n * 1000;
}

/** Expiry column of syncstorage-rs / go-syncstorage (ms); seconds-sized values are read as seconds. */
export function expiryFromMs(v) {
  const n = num(v);
  if (n === null || n >= NEVER_MS) return null;
  if (n < 100_000_000_000) return n >= NEVER_SECONDS ? null : n * 1000;
  return n;
}

/** Reads the tokenserver `users` rows (syncserver, tokenserver, syncstorage-rs) from an open SQLite database. */
export function tokenRowsSqlite(db) {
  const cols = new Set(db.prepare(`PRAGMA table_info(users)`).all().map((c) => c.name));
  if (!cols.has("uid") || !cols.has("email")) return null;
  const kca = cols.has("keys_changed_at") ? "keys_changed_at" : "NULL AS keys_changed_at";
  const rows = db.prepare(`SELECT uid, email, generation, client_state, created_at, replaced_at, ${kca} FROM users`).all();
  return new Map(rows.map((r) => [num(r.uid), r]));
}

/** The `token_user` line of a 1.5 file from a tokenserver row. */
export function tokenSubject(row) {
  return {
    type: "token_user",
    uid: num(row.uid),
    email: text(row.email),
    generation: num(row.generation) ?? 0,
    client_state: text(row.client_state) ?? "",
    keys_changed_at: num(row.keys_changed_at),
    created_at: num(row.created_at),
  };
}

export function openSqlite(path) {
  // node:sqlite is built into Node 22 (npm scripts and `npx node` run it).
  return import("node:sqlite").then(({ DatabaseSync }) => new DatabaseSync(path, { readOnly: true }));
}
