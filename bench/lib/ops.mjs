import { createHmac, createSign, generateKeyPairSync, randomBytes } from "node:crypto";

/**
 * @module bench/lib/ops
 * The benchmark's vocabulary: abstract operations (info, post100, getFull, ...)
 * and, per server flavour, the HTTP request each one becomes. `sync11` speaks
 * Storage 1.1 with HTTP Basic; `floor` speaks the floor Worker's bare routes.
 * Used by the load generator (measured requests) and by the seeder.
 */

/** A realistic encrypted-record payload of about 500 bytes (a JSON string inside JSON). */
export function makePayload(bytes = 500, seed = 0) {
  const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  let x = (seed * 2654435761) >>> 0 || 1;
  const rnd = (n) => {
    let s = "";
    for (let i = 0; i < n; i++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      s += b64[x & 63];
    }
    return s;
  };
  const overhead = '{"ciphertext":"","IV":"","hmac":""}'.length + 24 + 64;
  return JSON.stringify({ ciphertext: rnd(Math.max(16, bytes - overhead)), IV: rnd(24), hmac: rnd(64).toLowerCase() });
}

const PAYLOAD_JSON = JSON.stringify(makePayload(500));

/** Firefox-style 12-character record id for record number n. */
export function recordId(prefix, n) {
  return prefix + n.toString(36).padStart(12 - prefix.length, "0");
}

/** JSON body of a 1.1 POST: `count` records with ids from `ids(j)`. */
export function recordsBody(count, ids) {
  const parts = new Array(count);
  for (let j = 0; j < count; j++) {
    parts[j] = `{"id":"${ids(j)}","sortindex":${j},"payload":${PAYLOAD_JSON}}`;
  }
  return `[${parts.join(",")}]`;
}

export function basicAuth(user, password) {
  return "Basic " + Buffer.from(`${user}:${password}`).toString("base64");
}

/**
 * Hawk 1.0 Authorization header (hawk.md §2–§4): MAC over the normalised
 * request with the token's `key` string as HMAC key; no payload hash, as
 * Firefox sends none.
 */
export function hawkHeader(cred, method, target, host, port, ts = Math.floor(Date.now() / 1000), nonce = randomBytes(6).toString("base64")) {
  const normalized = `hawk.1.header\n${ts}\n${nonce}\n${method}\n${target}\n${host.toLowerCase()}\n${port}\n\n\n`;
  const mac = createHmac("sha256", cred.key).update(normalized).digest("base64");
  return `Hawk id="${cred.id}", ts="${ts}", nonce="${nonce}", mac="${mac}"`;
}

/**
 * Turns an abstract op into {method, path, headers, body} for one server flavour.
 * `user` is {name, password} (1.1, floor) or {uid, id, key} (1.5, a tokenserver
 * token); `at` is {host, port} of the server, for Hawk; op fields: kind, coll,
 * id, body, query.
 */
export function toRequest(flavour, user, op, at) {
  if (flavour === "sync15") {
    if (op.kind === "token")
      return { method: "GET", path: "/1.0/sync/1.5", headers: { authorization: `Bearer ${user.bearer}`, "x-keyid": user.keyid }, body: undefined };
    const q = op.query ? `?${op.query}` : "";
    const base = `/1.5/${user.uid}`;
    const path =
      op.kind === "info" ? `${base}/info/collections`
      : op.kind === "put" ? `${base}/storage/${op.coll}/${op.id}${q}`
      : `${base}/storage/${op.coll}${q}`;
    const method = METHOD[op.kind];
    const headers = { authorization: hawkHeader(user, method, path, at.host, at.port) };
    if (op.body) headers["content-type"] = "application/json";
    return { method, path, headers, body: op.body };
  }
  const q = op.query ? `?${op.query}` : "";
  if (flavour === "floor" || flavour === "floord1") {
    const base = `${flavour === "floord1" ? "/d1" : ""}/${user.name}`;
    const path =
      op.kind === "info" ? `${base}/info`
      : op.kind === "put" ? `${base}/${op.coll}/${op.id}${q}`
      : `${base}/${op.coll}${q}`;
    return { method: METHOD[op.kind], path, headers: {}, body: op.body };
  }
  if (flavour === "sync11") {
    const base = `/1.1/${user.name}`;
    const path =
      op.kind === "info" ? `${base}/info/collections`
      : op.kind === "put" ? `${base}/storage/${op.coll}/${op.id}${q}`
      : `${base}/storage/${op.coll}${q}`;
    const headers = { authorization: basicAuth(user.name, user.password) };
    if (op.body) headers["content-type"] = "application/json";
    return { method: METHOD[op.kind], path, headers, body: op.body };
  }
  throw new Error(`unknown flavour ${flavour}`);
}

const METHOD = { token: "GET", info: "GET", post: "POST", get: "GET", put: "PUT", delete: "DELETE" };

/** A single-record PUT body. */
export function putBody(n) {
  return `{"sortindex":${n % 100},"payload":${PAYLOAD_JSON}}`;
}

/**
 * Op generators: given the workload params and a per-connection state, return
 * the next op. Each connection has its own state (`st`) and user.
 */
export const WORKLOADS = {
  /** GET info/collections. */
  info: () => ({ kind: "info" }),
  /** POST 100 records of ~500 bytes, overwriting ids from a pool of `pool`. */
  post100: (p, st) => {
    const start = ((st.n++ * 100) % p.pool);
    return { kind: "post", coll: p.coll, body: recordsBody(100, (j) => recordId("p", (start + j) % p.pool)) };
  },
  /** POST 100 records scattered over the `pool` ids a user already holds. */
  post100Scattered: (p, st) => {
    const stride = Math.max(1, Math.floor(p.pool / 100));
    const base = Math.floor(Math.random() * p.pool);
    return { kind: "post", coll: p.coll, body: recordsBody(100, (j) => recordId(p.prefix, (base + j * stride) % p.pool)) };
  },
  /** GET a collection in full. */
  getFull: (p) => ({ kind: "get", coll: p.coll, query: "full=1" }),
  /** Incremental read: records newer than a fixed timestamp. */
  newer: (p) => ({ kind: "get", coll: p.coll, query: `full=1&newer=${p.newer}` }),
  /** One PUT of a single record. */
  put: (p, st) => ({ kind: "put", coll: p.coll, id: recordId("c", st.n++ % 100), body: putBody(st.n) }),
  /** The realistic mix: see bench/README.md for the weights. */
  mix: (p, st) => {
    const r = Math.random() * 100;
    const colls = ["bookmarks", "history", "passwords", "tabs"];
    const coll = colls[Math.floor(Math.random() * colls.length)];
    if (r < 50) return { kind: "info", tag: "info/collections" };
    if (r < 75) {
      const since = st.since ?? (Date.now() / 1000 - 60);
      st.since = Math.floor(Date.now() / 10) / 100 - 0.01;
      return { kind: "get", coll, query: `full=1&newer=${since.toFixed(2)}`, tag: "newer read" };
    }
    if (r < 85) {
      const base = Math.floor(Math.random() * 2000);
      return { kind: "post", coll, body: recordsBody(100, (j) => recordId("m", (base + j) % 2000)), tag: "post 100" };
    }
    if (r < 93) {
      const offset = 100 * Math.floor(Math.random() * 10);
      return { kind: "get", coll: "history", query: `full=1&limit=100&offset=${offset}`, tag: "paged read" };
    }
    if (r < 98) return { kind: "put", coll: "clients", id: recordId("c", st.n++ % 4), body: putBody(st.n), tag: "put" };
    return { kind: "delete", coll: "tabs", tag: "delete coll" };
  },
  /**
   * The realistic mix over Storage 1.5: as `mix`, but the write slot advances a
   * batch upload of 1000 records (POSTs of 100: `batch=true`, 8 appends, then
   * `commit=true`), one request at a time, per connection.
   */
  mix15: (p, st) => {
    const op = WORKLOADS.mix(p, st);
    if (op.tag === "paged read") {
      // 1.5 offsets are opaque: follow X-Weave-Next-Offset, start over after the last page
      op.query = `full=1&limit=100${st.next ? `&offset=${encodeURIComponent(st.next)}` : ""}`;
      op.parse = (status, text, headers) => (st.next = status === 200 ? headers["x-weave-next-offset"] : undefined);
      return op;
    }
    if (op.kind !== "post") return op;
    // never batch into tabs: the mix deletes tabs now and then, which (rightly) voids a pending batch there
    return batchStep(st, op.coll === "tabs" ? "history" : op.coll);
  },
  /** Only 1000-record batch uploads (10 POSTs of 100: create, 8 appends, commit), back to back. */
  batch1000: (p, st) => batchStep(st, p.coll),
  /** A tokenserver token request of a returning user (1.5 only). */
  token: () => ({ kind: "token" }),
};

/** The next request of the connection's current 1000-record batch upload (Storage 1.5). */
function batchStep(st, coll) {
  const b = (st.batch ??= { k: 0, id: null, coll });
  const base = 100 * b.k;
  const body = recordsBody(100, (j) => recordId("b", (base + j) % 1000));
  const k = b.k;
  const query = k === 0 ? "batch=true" : `batch=${encodeURIComponent(b.id)}${k === 9 ? "&commit=true" : ""}`;
  const reset = () => (st.batch = undefined);
  return {
    kind: "post", coll: b.coll, body, query, tag: k === 0 ? "batch create" : k === 9 ? "batch commit" : "batch append",
    parse(status, text) {
      if (status < 200 || status >= 300) return reset();
      if (k === 0) {
        try {
          b.id = JSON.parse(text).batch;
        } catch {}
        if (!b.id) return reset();
      }
      if (k === 9) return reset();
      b.k++;
    },
  };
}

/**
 * Sync 1.5 without FxA: an RSA key whose public half the server pins
 * (FXA_OAUTH_JWKS, as `jwks`), and `accessToken(sub)`, an OAuth access token
 * (RS256 JWT with the oldsync scope) for the FxA user `sub`, valid two hours.
 * The tokenserver then never leaves loopback.
 */
export function fxaSigner(kid, clientId = "bench") {
  const key = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...key.publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" };
  const b64url = (b) => Buffer.from(b).toString("base64url");
  return {
    jwks: JSON.stringify({ keys: [jwk] }),
    accessToken(sub) {
      const now = Math.floor(Date.now() / 1000);
      const head = b64url(JSON.stringify({ alg: "RS256", kid, typ: "at+jwt" }));
      const body = b64url(JSON.stringify({ sub, scope: "https://identity.mozilla.com/apps/oldsync", iat: now, exp: now + 7200, client_id: clientId, "fxa-generation": 1 }));
      return `${head}.${body}.${createSign("RSA-SHA256").update(`${head}.${body}`).sign(key.privateKey).toString("base64url")}`;
    },
  };
}
