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
 * user of 20 records, 300 of each per round), and the same three over Storage
 * 1.5 (a tokenserver token, Hawk), so that a 1.1 request can be compared with
 * the same 1.5 request of the same server and run; for changes to the
 * per-request path.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { basicAuth, fxaSigner, hawkHeader, putBody, recordId, recordsBody } from "./lib/ops.mjs";
import { cpuDelta, cpuSample, startServe, stopAll } from "./lib/procs.mjs";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const opt = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const ROUNDS = Number(opt("rounds") ?? 12);
const SMALL = process.argv.includes("--small");
/** --b-entry=FILE: B bundled from this entry module of its checkout (e.g. bench/entry.ts, authentication short-circuited) instead of wrangler.toml's main. */
const B_ENTRY = opt("b-entry");
const TMP = mkdtempSync(path.join(os.tmpdir(), "weave-ab-"));
const require = createRequire(import.meta.url);
const WRANGLER_JS = path.join(path.dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
const log = (...a) => console.error("[ab]", ...a);

// Sync 1.5 without FxA: the bench signs its own OAuth JWT and pins the public key.
const FXA = fxaSigner("ab-1", "ab");
const VARS_15 = { SYNC_MASTER_SECRET: "ab-master-secret-0123456789", FXA_OAUTH_JWKS: FXA.jwks, HAWK_NONCE_CHECK: "true" };
const b64url = (b) => Buffer.from(b).toString("base64url");
/** A tokenserver token for one Sync 1.5 user of server `s` (Hawk id, key, uid). */
async function token15(s) {
  const sub = createHash("sha256").update("ab-small").digest("hex").slice(0, 32);
  const text = await call(s, "GET", "1.0/sync/1.5", { authorization: `Bearer ${FXA.accessToken(sub)}`, "x-keyid": `1700000000000-${b64url(Buffer.alloc(16, 7))}` });
  return JSON.parse(text);
}
const tokens = {};
function call15(s, method, p, body) {
  const u = new URL(s.url);
  const headers = { authorization: hawkHeader(tokens[s.key], method, p, u.hostname, u.port || "80") };
  if (body) headers["content-type"] = "application/json";
  return call(s, method, p.slice(1), headers, body);
}

async function start(key, root, entry) {
  const outdir = path.join(TMP, `bundle-${key}`);
  const built = spawnSync(process.execPath, [WRANGLER_JS, "deploy", "--dry-run", "--outdir", outdir, ...(entry ? [entry] : [])], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" },
  });
  if (built.status !== 0) throw new Error(`bundle failed: ${(built.stderr || built.stdout).slice(-800)}`);
  const script = path.join(outdir, readdirSync(outdir).find((f) => f.endsWith(".js")));
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
  "1.5 GET info/collections": (s) => call15(s, "GET", `/1.5/${tokens[s.key].uid}/info/collections`),
  "1.5 GET newer (nothing new)": (s) => call15(s, "GET", `/1.5/${tokens[s.key].uid}/storage/bookmarks?full=1&newer=${since[s.key]}`),
  "1.5 PUT one record": (s, k) => call15(s, "PUT", `/1.5/${tokens[s.key].uid}/storage/clients/${recordId("c", k % 100)}`, putBody(k)),
};
if (SMALL) {
  for (const k of Object.keys(WORK)) delete WORK[k];
  Object.assign(WORK, SMALL_WORK);
}

const servers = [];
try {
  servers.push(await start("A", path.resolve(opt("a"))), await start("B", path.resolve(opt("b")), B_ENTRY));
  for (const s of servers) {
    if (SMALL) {
      await seed(s, tiny, "bookmarks", 20);
      tokens[s.key] = await token15(s);
      await call15(s, "POST", `/1.5/${tokens[s.key].uid}/storage/bookmarks`, recordsBody(20, (j) => recordId("h", j)));
      since[s.key] = (Date.now() / 1000 + 1).toFixed(2);
      log(`${s.key} seeded`);
      continue;
    }
    await seed(s, full, "bookmarks", 5000);
    await seed(s, small, "history", 1000);
    await seed(s, big, "history", 100000);
    log(`${s.key} seeded`);
  }
  const cpu = Object.fromEntries(Object.keys(WORK).map((w) => [w, { A: 0, B: 0, n: { A: 0, B: 0 } }]));
  const per = SMALL ? Object.fromEntries(Object.keys(SMALL_WORK).map((w) => [w, 300])) : { "GET 5000 full": 3, "POST 100 scattered @1k": 10, "POST 100 scattered @100k": 10, "GET newer (nothing new) @100k": 30 };
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? servers : [...servers].reverse();
    for (const [name, fn] of Object.entries(WORK)) {
      for (const s of order) {
        // The newer read asks for what came after the latest write: nothing.
        if (!SMALL) since[s.key] = JSON.parse(await call(s, "GET", `1.1/${big.name}/info/collections`, hdr(big))).history;
        await fn(s, r * 100);
        const a = cpuSample(s.child.pid);
        for (let k = 0; k < per[name]; k++) await fn(s, r * 100 + k + 1);
        const d = cpuDelta(a, cpuSample(s.child.pid));
        cpu[name][s.key] += d.workerd;
        cpu[name].n[s.key] += per[name];
      }
    }
  }
  console.log(`A: ${servers[0].root}\nB: ${servers[1].root}${B_ENTRY ? ` (entry ${B_ENTRY})` : ""}\nworkerd CPU ms per request (${ROUNDS} alternating rounds)`);
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
