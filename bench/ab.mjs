/**
 * @module bench/ab
 * `npx node bench/ab.mjs --a=DIR --b=DIR [--rounds=12] [--small] [--b-entry=FILE]`: two checkouts'
 * Workers side by side on the same machine at the same time, for storage
 * changes whose effect the load of a shared machine would hide between two
 * separate runs. Both are bundled and served directly (bench/serve.mjs), each
 * gets the same Storage 1.1 users (5000 records to read in full; 1000 and
 * 100,000 history records for scattered POSTs of 100 and incremental reads),
 * then the rounds alternate between them (A, B, B, A, …) and the workerd CPU
 * of each server is summed over its own requests only. Prints CPU ms per
 * request for A and B and B ÷ A. `--small`: instead, the small 1.1 requests
 * (info/collections, `newer` with nothing new, and a PUT of one record; one
 * user of 20 records, 300 of each per round) on Storage 1.1 and the same
 * three on 1.5 (a tokenserver token, Hawk), so a 1.1 request compares with
 * the same 1.5 request of the same server and run; for changes to the
 * per-request path. `--protocol=1.5`: Storage 1.5 only (tokens from our own
 * tokenserver with a bench-signed FxA JWT); the default workload becomes the
 * 1.5 GET 5000 full read, `--small` the three small 1.5 requests.
 * `--concurrency=N`: each measured set is sent by N clients at once (the
 * requests per round are multiplied by N). `--only=REGEX`: only the
 * workloads whose name matches REGEX (case-insensitive). `--writes`:
 * instead, the write requests of both protocols (PUT one record and POST of
 * 100 records on 1.1 and 1.5, and the requests of a 1000-record 1.5 batch
 * upload: create, 8 appends, commit), as the benchmark's micro group sends
 * them. `--b-entry=FILE`: B is bundled from that entry module (e.g.
 * bench/entry.ts: authentication short-circuited).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { basicAuth, fxaSigner, hawkHeader, putBody, recordId, recordsBody } from "./lib/ops.mjs";
import { bundleWorker, cpuDelta, cpuSample, startServe, stopAll } from "./lib/procs.mjs";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const opt = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const ROUNDS = Number(opt("rounds") ?? 12);
const SMALL = process.argv.includes("--small");
const PROTOCOL = opt("protocol") ?? "1.1";
if (PROTOCOL !== "1.1" && PROTOCOL !== "1.5") throw new Error(`--protocol: 1.1 or 1.5, not ${PROTOCOL}`);
const WRITES = process.argv.includes("--writes");
const CONC = Number(opt("concurrency") ?? 1);
const ONLY = opt("only");
/** --b-entry=FILE: B bundled from this entry module of its checkout (e.g. bench/entry.ts, authentication short-circuited) instead of wrangler.toml's main. */
const B_ENTRY = opt("b-entry");
const TMP = mkdtempSync(path.join(os.tmpdir(), "weave-ab-"));
const log = (...a) => console.error("[ab]", ...a);

async function start(key, root, entry) {
  const script = bundleWorker(root, path.join(TMP, `bundle-${key}`), { entry });
  const config = ["wrangler.jsonc", "wrangler.json", "wrangler.toml"].map((f) => path.join(root, f)).find(existsSync);
  const vars = { STRICT_USERNAMES: "false", USE_QUOTA: "false", REGISTRATION: "open", ...VARS_15 };
  const { child, url } = await startServe(path.join(BENCH, "serve.mjs"), {
    config, script, vars, persist: path.join(TMP, `data-${key}`), migrations: path.join(root, "migrations"),
  });
  return { key, root, child, url };
}

async function call(s, method, p, headers, body, want = 200) {
  const r = await fetch(new URL(p, s.url), { method, headers, body });
  const text = await r.text();
  if (r.status !== want) throw new Error(`${s.key} ${method} ${p}: ${r.status} ${text.slice(0, 200)}`);
  return text;
}

/** Storage 1.5 without FxA: the bench signs its own OAuth JWTs and pins the public key (as bench/run.mjs). */
const FXA = fxaSigner("ab-1", "ab");
const VARS_15 = { SYNC_MASTER_SECRET: "ab-master-secret-0123456789", FXA_OAUTH_JWKS: JSON.stringify({ keys: [FXA.jwk] }), HAWK_NONCE_CHECK: "true" };
const b64url = (b) => Buffer.from(b).toString("base64url");
/** A 1.5 token of `name` on server `s` ({uid, id, key}), kept per server. */
async function token15(s, name) {
  const sub = createHash("sha256").update(name).digest("hex").slice(0, 32);
  const keyid = `1700000000000-${b64url(createHash("sha256").update(`kB${name}`).digest().subarray(0, 16))}`;
  const r = await fetch(new URL("/1.0/sync/1.5", s.url), { headers: { authorization: `Bearer ${FXA.token(sub)}`, "x-keyid": keyid } });
  if (r.status !== 200) throw new Error(`${s.key} token: ${r.status} ${await r.text()}`);
  return r.json();
}
/** One Storage 1.5 request of token `t` (Hawk over the path and query). */
function call15(s, t, method, rest, body, want = 200) {
  const p = `/1.5/${t.uid}/${rest}`;
  const u = new URL(s.url);
  const headers = { authorization: hawkHeader(t, method, p, u.hostname, u.port || "80"), ...(body ? { "content-type": "application/json" } : {}) };
  return call(s, method, p, headers, body, want);
}
async function seed15(s, t, coll, n) {
  for (let i = 0; i < n; i += 400) {
    await Promise.all(
      [0, 100, 200, 300]
        .filter((o) => i + o < n)
        .map((o) => call15(s, t, "POST", `storage/${coll}`, recordsBody(Math.min(100, n - i - o), (j) => recordId("h", i + o + j)))),
    );
  }
}

const user = (name) => ({ name, password: "bench-password-1" });
const hdr = (u) => ({ authorization: basicAuth(u.name, u.password), "content-type": "application/json" });

async function seed(s, u, coll, n) {
  await call(s, "PUT", `user/1.0/${u.name}`, { "content-type": "application/json" }, JSON.stringify({ password: u.password, email: `${u.name}@example.com` }));
  for (let i = 0; i < n; i += 400) {
    await Promise.all(
      [0, 100, 200, 300]
        .filter((o) => i + o < n)
        .map((o) => call(s, "POST", `1.1/${u.name}/storage/${coll}`, hdr(u), recordsBody(Math.min(100, n - i - o), (j) => recordId("h", i + o + j)))),
    );
  }
}

const full = user("ab_full");
const small = user("ab_scale_1000");
const big = user("ab_scale_100000");
const since = {};
const WORK = {
  "GET 5000 full": (s) => call(s, "GET", `1.1/${full.name}/storage/bookmarks?full=1`, hdr(full)),
  "POST 100 scattered @1k": (s, k) =>
    call(s, "POST", `1.1/${small.name}/storage/history`, hdr(small), recordsBody(100, (j) => recordId("h", (k * 37 + j * 10) % 1000))),
  "POST 100 scattered @100k": (s, k) =>
    call(s, "POST", `1.1/${big.name}/storage/history`, hdr(big), recordsBody(100, (j) => recordId("h", (k * 37 + j * 1000) % 100000))),
  "GET newer (nothing new) @100k": (s) => call(s, "GET", `1.1/${big.name}/storage/history?full=1&newer=${since[s.key]}`, hdr(big)),
};

const tiny = user("ab_small");
const SMALL_WORK = {
  "GET info/collections": (s) => call(s, "GET", `1.1/${tiny.name}/info/collections`, hdr(tiny)),
  "GET newer (nothing new)": (s) => call(s, "GET", `1.1/${tiny.name}/storage/bookmarks?full=1&newer=${since[s.key]}`, hdr(tiny)),
  // Another collection than the `newer` read's, which therefore stays empty.
  "PUT one record": (s, k) => call(s, "PUT", `1.1/${tiny.name}/storage/clients/${recordId("c", k % 100)}`, hdr(tiny), putBody(k)),
  "1.5 GET info/collections": (s) => call15(s, tok[s.key].tiny, "GET", "info/collections"),
  "1.5 GET newer (nothing new)": (s) => call15(s, tok[s.key].tiny, "GET", `storage/bookmarks?full=1&newer=${since[s.key]}`),
  "1.5 PUT one record": (s, k) => call15(s, tok[s.key].tiny, "PUT", `storage/clients/${recordId("c", k % 100)}`, putBody(k)),
};
/** Per server key: the 1.5 tokens of the users (full read, small requests, writes). */
const tok = {};
const WORK_15 = {
  "GET 5000 full (1.5)": (s) => call15(s, tok[s.key].full, "GET", "storage/bookmarks?full=1"),
};
const w11 = user("ab_writes");
/** Per server: the state of its 1000-record batch upload in progress. */
const batchState = {};
/** The next request of the server's current 1000-record batch upload (create, 8 appends, commit), as bench/lib/ops.mjs's batchStep. */
async function batchRequest(s) {
  const b = (batchState[s.key] ??= { k: 0, id: null });
  const body = recordsBody(100, (j) => recordId("b", (100 * b.k + j) % 1000));
  const q = b.k === 0 ? "batch=true" : `batch=${encodeURIComponent(b.id)}${b.k === 9 ? "&commit=true" : ""}`;
  const text = await call15(s, tok[s.key].writes, "POST", `storage/forms?${q}`, body, b.k === 9 ? 200 : 202);
  if (b.k === 0) b.id = JSON.parse(text).batch;
  b.k = (b.k + 1) % 10;
}
const WRITE_WORK = {
  "1.1 PUT one record": (s, k) => call(s, "PUT", `1.1/${w11.name}/storage/clients/${recordId("c", k % 100)}`, hdr(w11), putBody(k)),
  "1.1 POST 100": (s, k) =>
    call(s, "POST", `1.1/${w11.name}/storage/history`, hdr(w11), recordsBody(100, (j) => recordId("p", (k * 100 + j) % 10000))),
  "1.5 PUT one record": (s, k) => call15(s, tok[s.key].writes, "PUT", `storage/clients/${recordId("c", k % 100)}`, putBody(k)),
  "1.5 POST 100": (s, k) => call15(s, tok[s.key].writes, "POST", "storage/history", recordsBody(100, (j) => recordId("p", (k * 100 + j) % 10000))),
  "1.5 batch 1000, per request": (s) => batchRequest(s),
};
const PER = {
  "1.1 PUT one record": 100,
  "1.1 POST 100": 20,
  "1.5 PUT one record": 100,
  "1.5 POST 100": 20,
  "1.5 batch 1000, per request": 20,
  "GET 5000 full": 3,
  "POST 100 scattered @1k": 10,
  "POST 100 scattered @100k": 10,
  "GET newer (nothing new) @100k": 30,
  "GET info/collections": 300,
  "GET newer (nothing new)": 300,
  "PUT one record": 300,
  "1.5 GET info/collections": 300,
  "1.5 GET newer (nothing new)": 300,
  "1.5 PUT one record": 300,
  "GET 5000 full (1.5)": 3,
};
const small15 = Object.fromEntries(Object.entries(SMALL_WORK).filter(([k]) => k.startsWith("1.5 ")));
const chosen = WRITES ? WRITE_WORK : SMALL ? (PROTOCOL === "1.5" ? small15 : SMALL_WORK) : PROTOCOL === "1.5" ? WORK_15 : null;
if (chosen) {
  for (const k of Object.keys(WORK)) delete WORK[k];
  Object.assign(WORK, chosen);
}
if (ONLY) for (const k of Object.keys(WORK)) if (!new RegExp(ONLY, "i").test(k)) delete WORK[k];
const needs = (name) => Object.keys(WORK).some((k) => k.includes(name));

const servers = [];
try {
  servers.push(await start("A", path.resolve(opt("a"))), await start("B", path.resolve(opt("b")), B_ENTRY));
  for (const s of servers) {
    if (WRITES) {
      await seed(s, w11, "history", 0);
      tok[s.key] = { writes: await token15(s, "ab_writes") };
      log(`${s.key} seeded`);
      continue;
    }
    if (SMALL) {
      if (PROTOCOL === "1.1") await seed(s, tiny, "bookmarks", 20);
      tok[s.key] = { tiny: await token15(s, "ab_small") };
      await seed15(s, tok[s.key].tiny, "bookmarks", 20);
      since[s.key] = (Date.now() / 1000 + 1).toFixed(2);
      log(`${s.key} seeded`);
      continue;
    }
    if (PROTOCOL === "1.5") {
      tok[s.key] = { full: await token15(s, "ab_full") };
      await seed15(s, tok[s.key].full, "bookmarks", 5000);
      since[s.key] = (Date.now() / 1000 + 1).toFixed(2);
      log(`${s.key} seeded`);
      continue;
    }
    if (needs("5000")) await seed(s, full, "bookmarks", 5000);
    if (needs("@1k")) await seed(s, small, "history", 1000);
    if (needs("@100k")) await seed(s, big, "history", 100000);
    log(`${s.key} seeded`);
  }
  const cpu = Object.fromEntries(Object.keys(WORK).map((w) => [w, { A: 0, B: 0, n: { A: 0, B: 0 } }]));
  const per = Object.fromEntries(Object.keys(WORK).map((k) => [k, PER[k] * CONC]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? servers : [...servers].reverse();
    for (const [name, fn] of Object.entries(WORK)) {
      for (const s of order) {
        // The newer read asks for what came after the latest write: nothing.
        if (name.includes("@100k")) since[s.key] = JSON.parse(await call(s, "GET", `1.1/${big.name}/info/collections`, hdr(big))).history;
        await fn(s, r * 100);
        const a = cpuSample(s.child.pid);
        // CONC clients, each sending its share back to back.
        let next = 0;
        const client = async () => {
          while (next < per[name]) await fn(s, r * 100 + ++next);
        };
        await Promise.all(Array.from({ length: CONC }, client));
        const d = cpuDelta(a, cpuSample(s.child.pid));
        cpu[name][s.key] += d.workerd;
        cpu[name].n[s.key] += per[name];
      }
    }
  }
  console.log(`A: ${servers[0].root}\nB: ${servers[1].root}${B_ENTRY ? ` (entry ${B_ENTRY})` : ""}\nworkerd CPU ms per request (${ROUNDS} alternating rounds, Storage ${PROTOCOL}, concurrency ${CONC}, load ${os.loadavg().map((x) => x.toFixed(1)).join(" ")})`);
  console.table(
    Object.entries(cpu).map(([name, c]) => {
      const a = (c.A * 1000) / c.n.A;
      const b = (c.B * 1000) / c.n.B;
      return { workload: name, A: a.toFixed(2), B: b.toFixed(2), "B÷A": (b / a).toFixed(2) };
    }),
  );
} finally {
  await stopAll();
}
