/**
 * @module bench/floor
 * The floor: the least a Worker + SQLite Durable Object can do for each
 * benchmarked operation. No auth, no validation, no protocol: the Worker
 * forwards the request to the user's DO, which runs the same SQL work our
 * server has to do (insert 100 rows in one transaction, read 5000 rows, a
 * trivial read, one upsert) and answers JSON of the same shape and size.
 * Every number the benchmark prints for our server is divided by this one.
 *
 * A `/d1` prefix on any route adds one D1 point lookup in the Worker before the
 * DO call, the shape of our per-request account lookup, so the benchmark can
 * show what that hop costs on its own.
 *
 * Routes (user = DO name):
 *   GET    /<user>/info                     trivial read (collections table)
 *   GET    /<user>/<coll>?newer=&limit=&offset=&full=1   range read
 *   POST   /<user>/<coll>                   JSON array of {id,payload,sortindex}, one transaction
 *   PUT    /<user>/<coll>/<id>              one upsert
 *   DELETE /<user>/<coll>                   delete a collection
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bso (
  coll TEXT NOT NULL, id TEXT NOT NULL, modified INTEGER NOT NULL,
  sortindex INTEGER, payload TEXT NOT NULL,
  PRIMARY KEY (coll, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bso_modified ON bso (coll, modified);
CREATE TABLE IF NOT EXISTS collections (coll TEXT PRIMARY KEY, modified INTEGER NOT NULL);
`;

const UPSERT = `INSERT INTO bso (coll, id, modified, sortindex, payload) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (coll, id) DO UPDATE SET modified = excluded.modified,
  sortindex = excluded.sortindex, payload = excluded.payload`;
const TOUCH = `INSERT INTO collections (coll, modified) VALUES (?, ?)
  ON CONFLICT (coll) DO UPDATE SET modified = excluded.modified`;

const json = (body) =>
  new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });

export class FloorStore {
  constructor(ctx) {
    this.ctx = ctx;
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
    this.last = 0;
  }

  /** Monotonic millisecond clock, like a sync server's per-user timestamp. */
  now() {
    const t = Math.max(Date.now(), this.last + 10);
    this.last = t;
    return t;
  }

  async fetch(request) {
    const url = new URL(request.url);
    const [, , coll, id] = url.pathname.split("/");
    const method = request.method;
    if (coll === "info" && method === "GET") {
      const out = {};
      for (const r of this.sql.exec("SELECT coll, modified FROM collections")) out[r.coll] = r.modified / 1000;
      return json(out);
    }
    if (method === "POST" && !id) {
      const records = await request.json();
      const t = this.now();
      const success = [];
      this.ctx.storage.transactionSync(() => {
        for (const r of records) {
          this.sql.exec(UPSERT, coll, r.id, t, r.sortindex ?? null, r.payload);
          success.push(r.id);
        }
        this.sql.exec(TOUCH, coll, t);
      });
      return json({ modified: t / 1000, success, failed: {} });
    }
    if (method === "PUT" && id) {
      const r = await request.json();
      const t = this.now();
      this.ctx.storage.transactionSync(() => {
        this.sql.exec(UPSERT, coll, id, t, r.sortindex ?? null, r.payload);
        this.sql.exec(TOUCH, coll, t);
      });
      return json(t / 1000);
    }
    if (method === "GET" && !id) {
      const q = url.searchParams;
      const newer = q.has("newer") ? Math.round(Number(q.get("newer")) * 1000) : -1;
      const limit = q.has("limit") ? Number(q.get("limit")) : -1;
      const offset = q.has("offset") ? Number(q.get("offset")) : 0;
      const rows = this.sql
        .exec(
          "SELECT id, modified, sortindex, payload FROM bso WHERE coll = ? AND modified > ? ORDER BY modified DESC LIMIT ? OFFSET ?",
          coll, newer, limit, offset,
        )
        .toArray();
      if (q.get("full")) {
        for (const r of rows) r.modified /= 1000;
        return json(rows);
      }
      return json(rows.map((r) => r.id));
    }
    if (method === "DELETE" && !id) {
      const t = this.now();
      this.ctx.storage.transactionSync(() => {
        this.sql.exec("DELETE FROM bso WHERE coll = ?", coll);
        this.sql.exec("DELETE FROM collections WHERE coll = ?", coll);
      });
      return json(t / 1000);
    }
    return new Response("not found", { status: 404 });
  }
}

let accountsTable;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/d1/")) {
      accountsTable ??= env.DB.exec(
        "CREATE TABLE IF NOT EXISTS user (userid INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL, password TEXT)",
      );
      await accountsTable;
      url.pathname = url.pathname.slice(3);
      const user = url.pathname.split("/")[1];
      await env.DB.prepare("SELECT userid, password FROM user WHERE username = ?").bind(user).first();
      request = new Request(url, request);
    }
    const user = url.pathname.split("/")[1];
    if (!user) return new Response("ok");
    return env.FLOOR.get(env.FLOOR.idFromName(user)).fetch(request);
  },
};
