// One small interface over the databases the importers read: a SQLite file
// (node:sqlite, built into Node 22), MySQL/MariaDB (`mysql2`) or PostgreSQL
// (`pg`), chosen by the argument: a path, `mysql://…` or `postgres://…`.
// Queries use `?` placeholders everywhere (rewritten to `$n` for PostgreSQL).
//
//   kind            "sqlite" | "mysql" | "postgres"
//   tables()        table names
//   columns(t)      column names of a table
//   columnType(t, c) the column's type, lower case (e.g. "bigint", "timestamp with time zone")
//   all(sql, args)  rows as plain objects
//   bin(col)        the column compared byte-wise (MySQL's latin1 collation ignores case)
//   close()
import { existsSync } from "node:fs";

export async function openSource(spec) {
  if (/^mysql:\/\//i.test(spec) || /^mariadb:\/\//i.test(spec)) return openMysql(spec.replace(/^mariadb:/i, "mysql:"));
  if (/^postgres(ql)?:\/\//i.test(spec)) return openPostgres(spec);
  if (!existsSync(spec)) throw new Error(`no such database file: ${spec}`);
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(spec, { readOnly: true });
  return {
    kind: "sqlite",
    async tables() {
      return db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all().map((r) => r.name);
    },
    async columns(t) {
      return db.prepare(`PRAGMA table_info(${JSON.stringify(t)})`).all().map((c) => c.name);
    },
    async columnType(t, c) {
      return String(db.prepare(`PRAGMA table_info(${JSON.stringify(t)})`).all().find((x) => x.name === c)?.type ?? "").toLowerCase();
    },
    async all(sql, args = []) {
      return db.prepare(sql).all(...args);
    },
    bin: (c) => c,
    async close() {
      db.close();
    },
  };
}

async function openMysql(url) {
  let mysql;
  try {
    mysql = await import("mysql2/promise");
  } catch {
    throw new Error("reading MySQL needs the mysql2 package: npm install mysql2");
  }
  const conn = await mysql.createConnection({ uri: url, supportBigNumbers: true, bigNumberStrings: false, dateStrings: true });
  const [[{ db }]] = await conn.query("SELECT DATABASE() AS db");
  return {
    kind: "mysql",
    async tables() {
      const [rows] = await conn.query("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ?", [db]);
      return rows.map((r) => r.t ?? r.T ?? r.TABLE_NAME);
    },
    async columns(t) {
      const [rows] = await conn.query("SELECT column_name AS c FROM information_schema.columns WHERE table_schema = ? AND table_name = ?", [db, t]);
      return rows.map((r) => r.c ?? r.C ?? r.COLUMN_NAME);
    },
    async columnType(t, c) {
      const [rows] = await conn.query("SELECT data_type AS d FROM information_schema.columns WHERE table_schema = ? AND table_name = ? AND column_name = ?", [db, t, c]);
      return String(rows[0]?.d ?? rows[0]?.DATA_TYPE ?? "").toLowerCase();
    },
    async all(sql, args = []) {
      const [rows] = await conn.query(sql.replace(/\b((?:bso_)?id) > \?/g, "BINARY $1 > ?").replace(/ORDER BY ((?:bso_)?id)\b/g, "ORDER BY BINARY $1"), args);
      return rows;
    },
    bin: (c) => `BINARY ${c}`,
    async close() {
      await conn.end();
    },
  };
}

async function openPostgres(url) {
  let pg;
  try {
    pg = (await import("pg")).default;
  } catch {
    throw new Error("reading PostgreSQL needs the pg package: npm install pg");
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const numbered = (sql) => {
    let i = 0;
    return sql.replace(/\?/g, () => `$${++i}`);
  };
  return {
    kind: "postgres",
    async tables() {
      const r = await client.query("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema()");
      return r.rows.map((x) => x.t);
    },
    async columns(t) {
      const r = await client.query("SELECT column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1", [t]);
      return r.rows.map((x) => x.c);
    },
    async columnType(t, c) {
      const r = await client.query("SELECT data_type AS d FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2", [t, c]);
      return String(r.rows[0]?.d ?? "").toLowerCase();
    },
    async all(sql, args = []) {
      // Byte order for ids, like SQLite.
      const r = await client.query(numbered(sql.replace(/\b((?:bso_)?id) > \?/g, '$1 COLLATE "C" > ?').replace(/ORDER BY ((?:bso_)?id)\b/g, 'ORDER BY $1 COLLATE "C"')), args);
      return r.rows;
    },
    bin: (c) => `${c} COLLATE "C"`,
    async close() {
      await client.end();
    },
  };
}
