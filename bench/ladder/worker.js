/**
 * @module bench/ladder
 * The ladder: the floor (bench/floor/worker.js) plus our per-request steps,
 * added one at a time, so that the platform's price of each step can be read
 * off as the difference between two neighbouring rungs (bench/ladder.mjs).
 * Nothing here imports src/: each step is written out in the shape src/ has
 * it, so what is measured is what the runtime charges for the step.
 *
 * Routes: `/<rung>/<user>/info` (GET: info/collections),
 * `/<rung>/<user>/bookmarks?newer=<s>&full=1` (GET: a range read, here with
 * nothing newer), `/<rung>/<user>/clients/<id>` (PUT one record, body
 * `{sortindex, payload}`), `/<rung>/<user>/seed?n=` (POST: `n` bookmarks).
 * Rungs, each the one before plus one step:
 *   r0  floor: the raw request forwarded with stub.fetch, one SQL statement, JSON.stringify
 *   r1  + a Hono app in the Worker (our middleware chain's shape: request log,
 *        migration, per-route auth, all pass-through here), still stub.fetch
 *   r2  + typed RPC: a DurableObject method taking one params object and
 *        returning data ({ts, value}); the Response is built in the Worker
 *   r3  + a second SQL statement in the object (the access-record read that
 *        src/storage/access.ts runs before each operation)
 *   r4  + the response headers (X-Weave-Timestamp, X-Last-Modified,
 *        X-Weave-Records, CORS expose list) and an X-Request-Id from crypto.randomUUID()
 *   r5  + an AsyncLocalStorage scope around the request (src/log.ts)
 *   r6  + Hawk: the Authorization header parsed, the token's key from a
 *        per-isolate cache, HMAC-SHA256 of the ~200-byte normalized string
 *        with crypto.subtle, base64, constant-time compare (src/auth/hawk.ts)
 *   r6n r5 + the same Hawk check with node:crypto createHmac and timingSafeEqual (variant of r6)
 *   r7  r6 + the body read in the Worker, JSON.parse and validated (PUT), or
 *        the query validated (GET), before the RPC
 */
import { DurableObject } from "cloudflare:workers";
import { AsyncLocalStorage } from "node:async_hooks";
import { createHmac, timingSafeEqual as nodeTimingSafeEqual } from "node:crypto";
import { Hono } from "hono";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bso (
  coll TEXT NOT NULL, id TEXT NOT NULL, modified INTEGER NOT NULL,
  sortindex INTEGER, payload TEXT NOT NULL,
  PRIMARY KEY (coll, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bso_modified ON bso (coll, modified);
CREATE TABLE IF NOT EXISTS collections (coll TEXT PRIMARY KEY, modified INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS access (k INTEGER PRIMARY KEY, generation INTEGER NOT NULL, fp TEXT, disabled INTEGER NOT NULL, locked_until INTEGER);
INSERT OR IGNORE INTO access VALUES (0, 1, 'fp', 0, NULL);
`;
const UPSERT = `INSERT INTO bso (coll, id, modified, sortindex, payload) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (coll, id) DO UPDATE SET modified = excluded.modified,
  sortindex = excluded.sortindex, payload = excluded.payload`;
const TOUCH = `INSERT INTO collections (coll, modified) VALUES (?, ?)
  ON CONFLICT (coll) DO UPDATE SET modified = excluded.modified`;

const json = (body) => new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });

export class LadderStore extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
    this.last = 0;
  }

  now() {
    const t = Math.max(Date.now(), this.last + 10);
    this.last = t;
    return t;
  }

  /** r3+: the access record read before every operation (one row). */
  admit() {
    const a = this.sql.exec("SELECT generation, fp, disabled, locked_until FROM access WHERE k = 0").one();
    if (a.disabled) throw new Error("disabled");
  }

  infoRows() {
    const out = {};
    for (const r of this.sql.exec("SELECT coll, modified FROM collections")) out[r.coll] = r.modified / 1000;
    return out;
  }
  newerRows(coll, newer) {
    const rows = this.sql
      .exec("SELECT id, modified, sortindex, payload FROM bso WHERE coll = ? AND modified > ? ORDER BY modified DESC LIMIT ? OFFSET ?", coll, newer, -1, 0)
      .toArray();
    for (const r of rows) r.modified /= 1000;
    return rows;
  }
  putRow(coll, id, r) {
    const t = this.now();
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(UPSERT, coll, id, t, r.sortindex ?? null, r.payload);
      this.sql.exec(TOUCH, coll, t);
    });
    return t;
  }

  /** r0, r1: the floor's object, the raw request. */
  async fetch(request) {
    const url = new URL(request.url);
    const [, , , coll, id] = url.pathname.split("/");
    const method = request.method;
    if (coll === "info" && method === "GET") return json(this.infoRows());
    if (method === "PUT" && id) return json(this.putRow(coll, id, await request.json()) / 1000);
    if (method === "GET" && !id) {
      const q = url.searchParams;
      return json(this.newerRows(coll, q.has("newer") ? Math.round(Number(q.get("newer")) * 1000) : -1));
    }
    if (method === "POST" && coll === "seed") {
      const n = Number(url.searchParams.get("n"));
      const t = this.now();
      const payload = await request.text();
      this.ctx.storage.transactionSync(() => {
        for (let i = 0; i < n; i++) this.sql.exec(UPSERT, "bookmarks", `b${i}`, t, i, payload);
        this.sql.exec(TOUCH, "bookmarks", t);
      });
      return json(t / 1000);
    }
    return new Response("not found", { status: 404 });
  }

  // r2+: typed RPC, one params object each; `admit` says whether to run the second statement.
  info(p) {
    if (p.admit) this.admit();
    const value = this.infoRows();
    return { ts: this.now(), value, lastModified: null };
  }
  newer(p) {
    if (p.admit) this.admit();
    const value = this.newerRows(p.coll, p.newer);
    return { ts: this.now(), value, lastModified: p.newer / 1000 };
  }
  put(p) {
    if (p.admit) this.admit();
    const t = this.putRow(p.coll, p.id, p.record ?? JSON.parse(p.body));
    return { ts: t, value: t / 1000, lastModified: t / 1000 };
  }
}

const RUNGS = ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r6n", "r7"];
/** Which steps a rung has. */
function steps(rung) {
  const n = Number(rung.slice(1, 2));
  return { rpc: n >= 2, admit: n >= 3, headers: n >= 4, als: n >= 5, hawk: n >= 6 ? (rung === "r6n" ? "node" : "subtle") : null, body: n >= 7 };
}
const STEPS = Object.fromEntries(RUNGS.map((r) => [r, steps(r)]));

const scope = new AsyncLocalStorage();
const EXPOSED = "X-Weave-Timestamp, X-Last-Modified, X-Weave-Records, X-Weave-Next-Offset, X-Weave-Alert, X-Weave-Quota-Remaining, Retry-After, X-Request-Id";

const app = new Hono();

// The request log's place (src/log.ts): the request id, and the scope (r5+).
app.use(async function requestLog(c, next) {
  const s = STEPS[c.req.param("rung") ?? c.req.path.split("/")[1]];
  if (!s?.headers) return next();
  const incoming = c.req.raw.headers.get("x-request-id");
  const requestId = incoming !== null && /^[\w-]{8,128}$/.test(incoming) ? incoming : crypto.randomUUID();
  const finish = () => {
    c.res.headers.set("X-Request-Id", requestId);
  };
  if (!s.als) {
    await next();
    return finish();
  }
  await scope.run({ requestId, level: "info" }, async () => {
    await next();
    finish();
  });
});
// The D1 migration's place (src/d1-migrate.ts): once per isolate, then a flag check.
let migrated = false;
app.use(async function d1Migrations(_c, next) {
  if (!migrated) migrated = true;
  await next();
});

// ---- Hawk (r6, r6n) ----
const KNOWN = new Set(["id", "ts", "nonce", "mac", "hash", "ext"]);
function parseHawk(header) {
  if (!header || header.slice(0, 5).toLowerCase() !== "hawk ") return null;
  const found = new Map();
  const re = /[\s,]*([A-Za-z]+)="([^"\\]*)"[ \t]*/y;
  const rest = header.slice(5);
  let pos = 0;
  while (pos < rest.length) {
    re.lastIndex = pos;
    const m = re.exec(rest);
    if (!m) return null;
    pos = re.lastIndex;
    if (!KNOWN.has(m[1]) || found.has(m[1])) return null;
    found.set(m[1], m[2]);
  }
  const a = { id: found.get("id"), ts: found.get("ts"), nonce: found.get("nonce"), mac: found.get("mac") };
  if (!a.id || !a.ts || !a.nonce || !a.mac || !/^\d{1,15}$/.test(a.ts)) return null;
  return a;
}
const enc = new TextEncoder();
function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}
/** The bench's token: its id (the Hawk id) and key string, as the client has them (bench/ladder.mjs has the same). */
const LADDER_TOKEN = { id: "x".repeat(40) + "." + "y".repeat(200) + "." + "z".repeat(43), key: "ladder-hawk-key-0123456789abcdefghij" };
const tokenCache = new Map();
const nonces = new Map();
async function hawkOk(c, flavour) {
  const a = parseHawk(c.req.raw.headers.get("authorization"));
  if (a === null) return false;
  let t = tokenCache.get(a.id);
  if (t === undefined) {
    if (a.id !== LADDER_TOKEN.id) return false; // stands for the token's signature check (cached per isolate in src/)
    t = { key: LADDER_TOKEN.key, macKey: await crypto.subtle.importKey("raw", enc.encode(LADDER_TOKEN.key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]) };
    tokenCache.set(a.id, t);
  }
  const url = c.req.url;
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  const origin = new URL(url.slice(0, slash));
  const normalized = `hawk.1.header\n${a.ts}\n${a.nonce}\n${c.req.method.toUpperCase()}\n${url.slice(slash)}\n${origin.hostname.toLowerCase()}\n${origin.port || 80}\n\n\n`;
  let ok;
  if (flavour === "node") {
    const expected = Buffer.from(createHmac("sha256", t.key).update(normalized).digest("base64"));
    const got = Buffer.from(a.mac);
    ok = expected.length === got.length && nodeTimingSafeEqual(expected, got);
  } else {
    const expected = enc.encode(toBase64(new Uint8Array(await crypto.subtle.sign("HMAC", t.macKey, enc.encode(normalized)))));
    const got = enc.encode(a.mac);
    ok = expected.byteLength === got.byteLength && crypto.subtle.timingSafeEqual(expected, got);
  }
  if (!ok) return false;
  const now = Math.floor(Date.now() / 1000);
  if (Math.abs(Number(a.ts) - now) > 3600) return false;
  // The per-isolate nonce store (HAWK_NONCE_CHECK).
  const k = `${a.id.slice(-44)}\n${a.ts}\n${a.nonce}`;
  if ((nonces.get(k) ?? 0) > now) return false;
  if (nonces.size > 100000) nonces.clear();
  nonces.set(k, now + 7200);
  return true;
}
const auth = async (c, next) => {
  const h = STEPS[c.req.param("rung")].hawk;
  if (h !== null && !(await hawkOk(c, h))) return new Response("0", { status: 401, headers: { "content-type": "application/json" } });
  await next();
};

const stubOf = (c) => c.env.LADDER.get(c.env.LADDER.idFromName(`${c.req.param("rung")}-${c.req.param("user")}`));

/** r2+: the Worker builds the Response from what the object returned. */
function reply(s, r, extra) {
  const body = JSON.stringify(r.value);
  if (!s.headers) return new Response(body, { headers: { "content-type": "application/json" } });
  const headers = {
    "content-type": "application/json",
    "X-Weave-Timestamp": (r.ts / 1000).toFixed(2),
    "Access-Control-Expose-Headers": EXPOSED,
    ...extra,
  };
  if (r.lastModified !== null) headers["X-Last-Modified"] = r.lastModified.toFixed(2);
  return new Response(body, { headers });
}

const DECIMAL = /^\d{1,12}(\.\d{1,2})?$/;
app.get("/:rung/:user/info", auth, async (c) => {
  const s = STEPS[c.req.param("rung")];
  if (!s.rpc) return stubOf(c).fetch(c.req.raw);
  return reply(s, await stubOf(c).info({ admit: s.admit }));
});
app.get("/:rung/:user/:coll", auth, async (c) => {
  const s = STEPS[c.req.param("rung")];
  if (!s.rpc) return stubOf(c).fetch(c.req.raw);
  const q = c.req.query();
  if (s.body) {
    // The query validated as src/protocol does: known names, decimal timestamp, flags.
    for (const k of Object.keys(q)) if (!["newer", "older", "full", "limit", "offset", "sort", "ids"].includes(k)) return c.text("unknown parameter", 400);
    if (q.newer !== undefined && !DECIMAL.test(q.newer)) return c.text("bad newer", 400);
  }
  const newer = q.newer === undefined ? -1 : Math.round(Number(q.newer) * 1000);
  const r = await stubOf(c).newer({ admit: s.admit, coll: c.req.param("coll"), newer, full: q.full !== undefined });
  return reply(s, r, { "X-Weave-Records": String(r.value.length) });
});
const ID = /^[ -~]{1,64}$/;
app.put("/:rung/:user/:coll/:id", auth, async (c) => {
  const s = STEPS[c.req.param("rung")];
  if (!s.rpc) return stubOf(c).fetch(c.req.raw);
  const p = { admit: s.admit, coll: c.req.param("coll"), id: c.req.param("id") };
  if (s.body) {
    // The body read here and validated as a record (fields, types, sizes), then handed over parsed.
    const text = await c.req.text();
    if (text.length > 2 * 1024 * 1024) return c.text("too big", 413);
    let b;
    try {
      b = JSON.parse(text);
    } catch {
      return c.text("bad json", 400);
    }
    if (b === null || typeof b !== "object" || Array.isArray(b)) return c.text("bad record", 400);
    for (const k of Object.keys(b)) if (!["id", "sortindex", "payload", "ttl"].includes(k)) return c.text("bad field", 400);
    if (b.id !== undefined && (typeof b.id !== "string" || !ID.test(b.id) || b.id !== p.id)) return c.text("bad id", 400);
    if (b.sortindex !== undefined && (!Number.isInteger(b.sortindex) || Math.abs(b.sortindex) > 999999999)) return c.text("bad sortindex", 400);
    if (b.payload !== undefined && (typeof b.payload !== "string" || b.payload.length > 256 * 1024)) return c.text("bad payload", 400);
    if (b.ttl !== undefined && (!Number.isInteger(b.ttl) || b.ttl < 0 || b.ttl > 31536000)) return c.text("bad ttl", 400);
    p.record = b;
  } else {
    p.body = await c.req.text();
  }
  return reply(s, await stubOf(c).put(p));
});

export default {
  fetch(request, env, ctx) {
    // r0: the floor's Worker, no router.
    const url = request.url;
    const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    // The seeding (POST …/seed) goes the same way, outside the measured steps.
    if (path.startsWith("/r0/") || request.method === "POST") {
      const [, rung, user] = path.split("/");
      return env.LADDER.get(env.LADDER.idFromName(`${rung}-${user}`)).fetch(request);
    }
    return app.fetch(request, env, ctx);
  },
};
