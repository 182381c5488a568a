/**
 * @module bench/run
 * `npm run bench [-- --quick]`: measures our Worker against the floor of its
 * own platform (bench/floor/), on this machine, in one run. See bench/README.md.
 *
 * Servers (each started here, each stopped here, loopback only):
 *   floor-direct  bench/floor loaded by the Miniflare API (workerd, no dev proxy)
 *   ours-direct   our Worker bundled by `wrangler deploy --dry-run`, loaded the same way
 *   ours-noauth   bench/entry.ts bundled the same way: our app with authentication
 *                 short-circuited (never in the production entry), for the auth cost
 *   ours-serve    `npm run serve` (scripts/serve.mjs), the self-hosted production mode, on a
 *                 temporary data folder whose config.env holds the bench vars
 *   floor-wdev    bench/floor under `wrangler dev`
 *   ours-wdev     our Worker under `wrangler dev`
 * Load comes from bench/loadgen.mjs, a separate process. A workload whose route
 * answers 404/405 is reported as "skipped: route not available".
 *
 * Options: --quick (CI smoke), --no-wrangler (no wrangler dev servers), --no-serve (no ours-serve),
 *          --only=micro,mix,scale,auth,kdf,ceiling,hostile (groups; ceiling not in --quick, hostile only when named), --seconds=N (measure time per cell),
 *          --root=DIR (benchmark the Worker of another checkout; its node_modules must exist).
 */
import { fork, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { spawnGroup, stopGroup, stopAll, killAllSync, cpuSample, cpuDelta, freePort, threadSample, threadDelta } from "./lib/procs.mjs";
import { basicAuth, hawkHeader, recordId, recordsBody, putBody } from "./lib/ops.mjs";
import { createHash, generateKeyPairSync, createSign } from "node:crypto";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.dirname(BENCH);
const require = createRequire(import.meta.url);
const WRANGLER_JS = path.join(path.dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");

// ---------------------------------------------------------------- options

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const opt = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const QUICK = flag("quick");
/** The checkout whose Worker is benchmarked (default: this one), e.g. to compare two branches. */
const ROOT = path.resolve(opt("root") ?? REPO);
const GROUPS = new Set((opt("only") ?? `micro,mix,scale,auth,kdf${QUICK ? "" : ",ceiling"}`).split(","));
const WRANGLER = !flag("no-wrangler");
const SERVE = !flag("no-serve");
const CONCURRENCY = (opt("concurrency") ?? "1,8").split(",").map(Number);
const CFG = QUICK
  ? { measureMs: 600, warmupMs: 250, firstWarmupMs: 800, users: 4, fullRecords: 5000, scale: [1000, 3000, 10000], budgetMs: 105_000 }
  : { measureMs: 4000, warmupMs: 800, firstWarmupMs: 2000, users: 8, fullRecords: 5000, scale: [1000, 10000, 100000], budgetMs: 560_000 };
if (opt("seconds")) CFG.measureMs = Number(opt("seconds")) * 1000;
const PASSWORD = "bench-password-0123";
/** Micro-benchmarks run under wrangler dev (all of them unless --quick). */
const WDEV_MICRO = QUICK ? ["info", "put"] : undefined;
/** Vars for our Worker in every bench run: any username, no quota (a 100k-record user is ~50 MB). */
const OUR_VARS = { STRICT_USERNAMES: "false", USE_QUOTA: "false", REGISTRATION: "open" };
/**
 * Sync 1.5 without FxA: the bench signs its own OAuth JWTs (RS256) and pins the
 * public key in FXA_OAUTH_JWKS, so the tokenserver never leaves loopback.
 * Direct servers only (a JSON value does not survive `wrangler dev --var K:V`).
 */
const FXA_KEY = generateKeyPairSync("rsa", { modulusLength: 2048 });
const FXA_JWK = { ...FXA_KEY.publicKey.export({ format: "jwk" }), kid: "bench-1", alg: "RS256", use: "sig" };
const VARS_15 = { SYNC_MASTER_SECRET: "bench-master-secret-0123456789", FXA_OAUTH_JWKS: JSON.stringify({ keys: [FXA_JWK] }), HAWK_NONCE_CHECK: "true" };
const SYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync";
const b64url = (b) => Buffer.from(b).toString("base64url");
function fxaAccessToken(fxaUid) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: "RS256", kid: FXA_JWK.kid, typ: "at+jwt" }));
  const body = b64url(JSON.stringify({ sub: fxaUid, scope: SYNC_SCOPE, iat: now, exp: now + 7200, client_id: "bench", "fxa-generation": 1 }));
  const sig = createSign("RSA-SHA256").update(`${head}.${body}`).sign(FXA_KEY.privateKey).toString("base64url");
  return `${head}.${body}.${sig}`;
}

const T0 = Date.now();
const log = (...a) => console.error(`[bench ${((Date.now() - T0) / 1000).toFixed(1).padStart(5)}s]`, ...a);
const overBudget = () => Date.now() - T0 > CFG.budgetMs;

// ---------------------------------------------------------------- cleanup

const TMP = mkdtempSync(path.join(os.tmpdir(), "weave-bench-"));
let loadgen;
function cleanupSync() {
  killAllSync();
  try {
    loadgen?.kill("SIGKILL");
  } catch {}
  try {
    rmSync(TMP, { recursive: true, force: true });
  } catch {}
}
process.on("exit", cleanupSync);
// `npm run` does not pass SIGTERM on to us: if our parent goes away, stop as if signalled.
const PARENT = process.ppid;
setInterval(() => {
  if (process.ppid !== PARENT) process.kill(process.pid, "SIGTERM");
}, 1000).unref();
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, async () => {
    log(`${sig}: stopping everything`);
    await Promise.race([stopAll(), new Promise((r) => setTimeout(r, 4000))]);
    process.exit(130);
  });
}

// ---------------------------------------------------------------- servers

function buildCommand(config, name, entry) {
  const outdir = path.join(TMP, name);
  const args = [WRANGLER_JS, "deploy", "--dry-run", "--outdir", outdir, ...(config ? ["-c", config] : []), ...(entry ? [entry] : [])];
  const options = { cwd: config ? path.dirname(config) : ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" } };
  return { outdir, args, options };
}

function bundleEntry(outdir) {
  const js = readdirSync(outdir).filter((f) => f.endsWith(".js") || f.endsWith(".mjs"));
  if (!js.length) throw new Error(`no bundle in ${outdir}`);
  return path.join(outdir, js.includes("index.js") ? "index.js" : js[0]);
}

/**
 * Bundles our Worker (or, given a config, another one; or, given `entry`,
 * another entry module of ours such as bench/entry.ts); returns the entry
 * file or throws with wrangler's output.
 */
function buildOurs(config = null, name = "bundle", entry = null) {
  const { outdir, args, options } = buildCommand(config, name, entry);
  const r = spawnSync(process.execPath, args, { ...options, encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${(r.stderr || r.stdout || "").slice(-1500)}`);
  return bundleEntry(outdir);
}

/** {@link buildOurs} without blocking, so two bundles can build at once. */
function buildOursAsync(config = null, name = "bundle", entry = null) {
  const { outdir, args, options } = buildCommand(config, name, entry);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const t = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("exit", (code) => {
      clearTimeout(t);
      if (code !== 0) return reject(new Error(`wrangler deploy --dry-run failed:\n${out.slice(-1500)}`));
      try {
        resolve(bundleEntry(outdir));
      } catch (e) {
        reject(e);
      }
    });
  });
}

function waitForLine(child, prefix, timeoutMs) {
  return new Promise((resolve, reject) => {
    let buf = "";
    let err = "";
    const t = setTimeout(() => reject(new Error(`timeout waiting for server\n${err.slice(-1500)}`)), timeoutMs);
    child.stdout.on("data", (d) => {
      buf += d;
      const line = buf.split("\n").find((l) => l.startsWith(prefix));
      if (line) {
        clearTimeout(t);
        resolve(line.slice(prefix.length));
      }
    });
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`server exited (${code})\n${err.slice(-1500)}`));
    });
  });
}

/** Starts a bundled Worker under Miniflare in bench/serve.mjs. */
async function startDirect(key, { config, script, vars = {}, migrations = null }) {
  const child = spawnGroup(process.execPath, [
    path.join(BENCH, "serve.mjs"),
    JSON.stringify({ config, script, vars, persist: path.join(TMP, key), migrations }),
  ]);
  const ready = JSON.parse(await waitForLine(child, "READY ", 60_000));
  child.stdout.resume();
  return { key, mode: "direct", child, url: ready.url, migrations: ready.migrations };
}

/**
 * Starts `npm run serve` on a fresh data folder (its config.env holds the vars)
 * with the bundle built above (`--script`), and waits for its READY line.
 */
async function startServe(key, { vars = {}, script }) {
  const data = path.join(TMP, key);
  mkdirSync(data, { recursive: true });
  writeFileSync(path.join(data, "config.env"), Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
  const port = await freePort();
  const child = spawnGroup("npm", ["run", "--silent", "serve", "--", "--port", String(port), "--data", data, "--script", script], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" },
  });
  const ready = JSON.parse(await waitForLine(child, "READY ", 120_000));
  child.stdout.resume();
  return { key, mode: "serve", child, url: ready.url, migrations: ready.migrations.length };
}

/** Starts a Worker under `wrangler dev` (D1 migrations applied first with the same --persist-to). */
async function startWranglerDev(key, { config, vars = {}, migrations = false }) {
  const persist = path.join(TMP, key);
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", NO_UPDATE_NOTIFIER: "1" };
  if (migrations) {
    const r = spawnSync(
      process.execPath,
      [WRANGLER_JS, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persist, "-c", config],
      { cwd: ROOT, encoding: "utf8", env, timeout: 90_000 },
    );
    if (r.status !== 0) throw new Error(`wrangler d1 migrations apply failed:\n${(r.stderr || r.stdout).slice(-1500)}`);
  }
  const port = await freePort();
  const inspector = await freePort();
  const args = [WRANGLER_JS, "dev", "-c", config, "--port", String(port), "--ip", "127.0.0.1", "--log-level", "warn",
    "--persist-to", persist, "--inspector-port", String(inspector), "--show-interactive-dev-session=false"];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const child = spawnGroup(process.execPath, [path.join(BENCH, "lib", "guard.mjs"), process.execPath, ...args], { cwd: ROOT, env });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  child.stdout.on("data", () => {});
  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode})\n${err.slice(-1500)}`);
    if (Date.now() > deadline) throw new Error(`wrangler dev not ready after 90 s\n${err.slice(-1500)}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  return { key, mode: "wdev", child, url, stderr: () => err };
}

// ---------------------------------------------------------------- HTTP helpers (seeding, probing)

async function http(server, method, p, { headers = {}, body } = {}) {
  let res;
  // Setup requests only: retry connection errors briefly (wrangler dev reloads when watched files change).
  for (let attempt = 0; ; attempt++) {
    try {
      res = await fetch(new URL(p.replace(/^\//, ""), server.url), { method, headers, body });
      break;
    } catch (e) {
      if (attempt >= 5) throw new Error(`${method} ${p}: ${e.cause?.code ?? e.message}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, text, json, headers: res.headers };
}

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

/** The wire client for one server flavour: register, post, probe. */
function clientFor(server) {
  if (server.flavour === "floor" || server.flavour === "floord1") {
    return {
      register: async () => ({ ok: true }),
      post: async (user, coll, body) => {
        const r = await http(server, "POST", `/${user.name}/${coll}`, { body });
        if (r.status !== 200) throw new Error(`seed POST ${r.status} ${r.text.slice(0, 200)}`);
        return r.json.modified;
      },
      probe: async () => ({}),
    };
  }
  if (server.flavour === "sync15") {
    const at = () => { const u = new URL(server.url); return { host: u.hostname, port: u.port || "80" }; };
    const hawk = (cred, method, p) => ({ authorization: hawkHeader(cred, method, p, at().host, at().port) });
    return {
      /** Gets a tokenserver token for bench user `user.name`; fills user.uid/id/key. */
      async register(user) {
        const fxaUid = createHash("sha256").update(user.name).digest("hex").slice(0, 32);
        // kept on the user for the tokenserver cell (a returning user asking again)
        user.bearer = fxaAccessToken(fxaUid);
        user.keyid = `1700000000000-${b64url(createHash("sha256").update(`kB${user.name}`).digest().subarray(0, 16))}`;
        const r = await http(server, "GET", "/1.0/sync/1.5", {
          headers: { authorization: `Bearer ${user.bearer}`, "x-keyid": user.keyid },
        });
        if (r.status === 404 || r.status === 405) return { ok: false, missing: true, why: `GET /1.0/sync/1.5 → ${r.status}` };
        if (r.status !== 200 || !r.json?.id) return { ok: false, why: `GET /1.0/sync/1.5 → ${r.status} ${r.text.slice(0, 200)}` };
        Object.assign(user, { uid: r.json.uid, id: r.json.id, key: r.json.key });
        return { ok: true };
      },
      async post(user, coll, body) {
        const p = `/1.5/${user.uid}/storage/${coll}`;
        const r = await http(server, "POST", p, { headers: { ...hawk(user, "POST", p), "content-type": "application/json" }, body });
        if (r.status !== 200) throw new Error(`seed POST (1.5) ${r.status} ${r.text.slice(0, 200)}`);
        return Number(r.json?.modified ?? r.headers.get("x-last-modified"));
      },
      async probe(user) {
        const bad = {};
        const p = `/1.5/${user.uid}/info/collections`;
        const r = await http(server, "GET", p, { headers: hawk(user, "GET", p) });
        if (r.status !== 200)
          bad.info = r.status === 404 || r.status === 405 ? `route not available (GET /1.5/<uid>/info/collections → ${r.status})` : `GET /1.5/<uid>/info/collections → ${r.status} ${r.text.slice(0, 160)}`;
        const pp = `/1.5/${user.uid}/storage/probe?batch=true`;
        const r2 = await http(server, "POST", pp, { headers: { ...hawk(user, "POST", pp), "content-type": "application/json" }, body: recordsBody(2, (j) => recordId("x", j)) });
        if (r2.status !== 202)
          bad.batch = r2.status === 404 || r2.status === 405 ? `route not available (POST /1.5/<uid>/storage/<c>?batch=true → ${r2.status})` : `POST ?batch=true → ${r2.status} ${r2.text.slice(0, 160)}`;
        return bad;
      },
    };
  }
  const auth = (u) => ({ authorization: basicAuth(u.name, u.password) });
  return {
    async register(user) {
      const r = await http(server, "PUT", `/user/1.0/${user.name}`, {
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ password: user.password, email: `${user.name}@example.com` }),
      });
      if (r.status === 404 || r.status === 405) return { ok: false, missing: true, why: `PUT /user/1.0/<u> → ${r.status}` };
      if (r.status !== 200) return { ok: false, why: `PUT /user/1.0/<u> → ${r.status} ${r.text.slice(0, 200)}` };
      return { ok: true };
    },
    async post(user, coll, body) {
      const r = await http(server, "POST", `/1.1/${user.name}/storage/${coll}`, {
        headers: { ...auth(user), "content-type": "application/json" },
        body,
      });
      if (r.status !== 200) throw new Error(`seed POST ${r.status} ${r.text.slice(0, 200)}`);
      const failed = Object.keys(r.json?.failed ?? {});
      if (failed.length) throw new Error(`seed POST: ${failed.length} records failed: ${JSON.stringify(r.json.failed).slice(0, 200)}`);
      return Number(r.json?.modified ?? r.headers.get("x-weave-timestamp"));
    },
    /** One request per op kind; returns {kind: reason} for the kinds that do not work. */
    async probe(user) {
      const bad = {};
      const check = (kind, label, r, ok = [200]) => {
        if (ok.includes(r.status)) return;
        bad[kind] =
          r.status === 404 || r.status === 405
            ? `route not available (${label} → ${r.status})`
            : `${label} → ${r.status} ${r.text.slice(0, 160).replace(/\s+/g, " ")}`;
      };
      const h = auth(user);
      const base = `/1.1/${user.name}`;
      check("info", "GET /1.1/<u>/info/collections", await http(server, "GET", `${base}/info/collections`, { headers: h }));
      check("post", "POST /1.1/<u>/storage/<c>", await http(server, "POST", `${base}/storage/probe`, {
        headers: { ...h, "content-type": "application/json" },
        body: recordsBody(2, (j) => recordId("x", j)),
      }));
      check("get", "GET /1.1/<u>/storage/<c>?full=1", await http(server, "GET", `${base}/storage/probe?full=1&newer=1&limit=10&offset=1`, { headers: h }));
      check("put", "PUT /1.1/<u>/storage/<c>/<id>", await http(server, "PUT", `${base}/storage/probe/${recordId("x", 9)}`, {
        headers: { ...h, "content-type": "application/json" },
        body: putBody(1),
      }));
      check("delete", "DELETE /1.1/<u>/storage/<c>", await http(server, "DELETE", `${base}/storage/probe`, { headers: h }));
      return bad;
    },
  };
}

// ---------------------------------------------------------------- load generator

let jobSeq = 0;
const pending = new Map();
function startLoadgen() {
  loadgen = fork(path.join(BENCH, "loadgen.mjs"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  loadgen.on("message", (m) => {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(m.error));
  });
  loadgen.on("exit", (code) => {
    for (const p of pending.values()) p.reject(new Error(`load generator exited (${code})`));
    pending.clear();
  });
}
function runJob(job) {
  return new Promise((resolve, reject) => {
    const id = ++jobSeq;
    pending.set(id, { resolve, reject });
    loadgen.send({ ...job, id });
  });
}

// ---------------------------------------------------------------- measuring

const rows = [];
const notes = [];
/** Derived results for the JSON summary: targets, the 10 ms check, the self-hosted ceiling. */
const summary = {};
/** D1 round trips of a returning user's token request, asserted by test/tokenserver/round-trips.test.ts. */
const TOKEN_D1_ROUND_TRIPS = 1;
/** Assumed requests per active user per hour for the ceiling (README "Benchmarks"). */
const REQ_PER_ACTIVE_USER_HOUR = 60;

function skipRow(group, workload, server, reason) {
  const key = `${group}|${workload}|${server.key}`;
  if (!rows.some((r) => r.skipKey === key)) {
    rows.push({ group, workload, server: server.key, mode: server.mode, skipped: reason, skipKey: key });
    log(`${group}/${workload} on ${server.key}: skipped: ${reason}`);
  }
}

/**
 * One cell: warm up, then measure `workload` at concurrency `c` on `server`,
 * reading the server tree's CPU time around the measured window.
 */
async function measure(server, group, workload, { users, params = {}, c, label = workload, extra = {} }) {
  if (overBudget()) return skipRow(group, label, server, "time budget exhausted");
  const base = { url: server.url, flavour: server.flavour, users, workload, params, concurrency: c };
  // Warm up once per server and workload (JIT, caches, keep-alive sockets), at the first concurrency.
  server.warmed ??= new Set();
  if (!server.warmed.has(label)) {
    await runJob({ ...base, durationMs: server.warmed.size ? CFG.warmupMs : CFG.firstWarmupMs });
    server.warmed.add(label);
  }
  const before = cpuSample(server.child.pid);
  const r = await runJob({ ...base, durationMs: CFG.measureMs });
  const cpu = cpuDelta(before, cpuSample(server.child.pid));
  const row = {
    group, workload: label, server: server.key, mode: server.mode, c,
    rps: r.rps, p50: r.latency.p50, p95: r.latency.p95, p99: r.latency.p99,
    cpuPer1k: r.count ? (cpu.workerd / r.count) * 1000 : null,
    cpuAllPer1k: r.count ? (cpu.all / r.count) * 1000 : null,
    count: r.count, errors: r.errors, mbPerS: r.bytes / r.elapsed / 1e6, tags: r.tags, ...extra,
  };
  if (r.errors) row.sampleError = r.sampleError;
  rows.push(row);
  log(`${group}/${label} ${server.key} c=${c}: ${r.rps.toFixed(0)} req/s p50 ${fmtMs(r.latency.p50)} p99 ${fmtMs(r.latency.p99)} ` +
    `cpu/1k ${fmt(row.cpuPer1k, 3)}s${r.errors ? ` ERRORS ${r.errors}: ${r.sampleError}` : ""}`);
  return row;
}

/** Rounds of an interleaved cell: each cell is measured `ROUNDS` times for 1/`ROUNDS` of its time. */
const ROUNDS = 4;

/**
 * Cells measured in alternating rounds at one concurrency: every cell for
 * measureMs / ROUNDS per round, the order reversed every other round (a, b, c,
 * c, b, a, …), summed per cell; each cell's CPU is read on its own server
 * around its own rounds. Used where a target is a ratio between cells: the
 * scale group's sizes (measured one after the other, the same POST ratio read
 * 1.40× and 2.61× in two runs an hour apart) and the micro group's floor and
 * ours (measured minutes apart, ours' 1.1 info/collections took 1.43 ms and
 * its 1.5 one 0.85 ms in one run, and the other way round for PUT): a change
 * of the machine's load during the cells then moves every cell of the ratio
 * alike.
 * A cell: { server, workload, users, params, label, extra }.
 * Latency percentiles: the median of the rounds'.
 */
async function measureRounds(group, cells, c) {
  if (overBudget()) {
    for (const cell of cells) skipRow(group, cell.label, cell.server, "time budget exhausted");
    return;
  }
  const acc = cells.map(() => ({ count: 0, errors: 0, bytes: 0, elapsed: 0, cpu: 0, cpuAll: 0, p50: [], p95: [], p99: [], sampleError: undefined }));
  const job = (cell, durationMs) =>
    runJob({ url: cell.server.url, flavour: cell.server.flavour, users: cell.users, workload: cell.workload, params: cell.params, concurrency: c, durationMs });
  for (const cell of cells) {
    const warmed = (cell.server.warmed ??= new Set());
    if (warmed.has(cell.label)) continue;
    await job(cell, warmed.size ? CFG.warmupMs : CFG.firstWarmupMs);
    warmed.add(cell.label);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (let round = 0; round < ROUNDS; round++) {
    const order = cells.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      const before = cpuSample(cells[i].server.child.pid);
      const r = await job(cells[i], CFG.measureMs / ROUNDS);
      const cpu = cpuDelta(before, cpuSample(cells[i].server.child.pid));
      const a = acc[i];
      a.count += r.count;
      a.errors += r.errors;
      a.bytes += r.bytes;
      a.elapsed += r.elapsed;
      a.cpu += cpu.workerd;
      a.cpuAll += cpu.all;
      a.p50.push(r.latency.p50);
      a.p95.push(r.latency.p95);
      a.p99.push(r.latency.p99);
      a.sampleError ??= r.sampleError;
    }
  }
  cells.forEach((cell, i) => {
    const a = acc[i];
    const others = cells.filter((x) => x !== cell).map((x) => `${x.server.key}: ${x.label}`);
    const row = {
      group, workload: cell.label, server: cell.server.key, mode: cell.server.mode, c,
      rps: a.count / a.elapsed, p50: median(a.p50), p95: median(a.p95), p99: median(a.p99),
      cpuPer1k: a.count ? (a.cpu / a.count) * 1000 : null,
      cpuAllPer1k: a.count ? (a.cpuAll / a.count) * 1000 : null,
      count: a.count, errors: a.errors, mbPerS: a.bytes / a.elapsed / 1e6, rounds: ROUNDS, interleavedWith: others, ...cell.extra,
    };
    if (a.errors) row.sampleError = a.sampleError;
    rows.push(row);
    log(`${group}/${cell.label} ${cell.server.key} c=${c}: ${row.rps.toFixed(0)} req/s p50 ${fmtMs(row.p50)} cpu/1k ${fmt(row.cpuPer1k, 3)}s` +
      ` (${ROUNDS} alternating rounds with ${others.length} other cell${others.length === 1 ? "" : "s"})${a.errors ? ` ERRORS ${a.errors}: ${a.sampleError}` : ""}`);
  });
}

/**
 * The micro group of floor-direct and ours-direct (1.1 and 1.5), interleaved:
 * `cells` (collected by runServer/runServer15 after seeding both servers) are
 * grouped by the floor row they are compared with (a floor cell, its 1.1 and
 * 1.5 cells of ours, and for POST 100 the 1.5 batch too), and each group is
 * measured in alternating rounds at each concurrency. A cell with no floor
 * counterpart (the tokenserver) forms a group of its own.
 */
async function measureMicroInterleaved(cells) {
  const groups = new Map();
  for (const cell of cells) {
    const key = cell.extra?.floorLabel ?? cell.label;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(cell);
  }
  for (const group of groups.values()) for (const c of CONCURRENCY) await measureRounds("micro", group, c);
}

const mkUsers = (prefix, n) => Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}`, password: PASSWORD }));

/** Seeds `records` history records of ~500 bytes into each user, 100 per POST. Returns per-user POST timestamps. */
async function seedRecords(client, users, coll, records, prefix = "h") {
  // past the time budget every cell is skipped: do not spend minutes seeding for them
  if (overBudget()) return [];
  const tasks = [];
  for (const u of users) for (let s = 0; s < records; s += 100) tasks.push({ u, s });
  const ts = await pool(tasks, 6, ({ u, s }) =>
    client.post(u, coll, recordsBody(Math.min(100, records - s), (j) => recordId(prefix, s + j))),
  );
  return ts;
}

/**
 * Sets up the users a server needs and runs the groups that apply to it.
 * `which`: the groups to run here (micro/breakdown/mix/scale/auth). With
 * `collect`, the micro cells are seeded and pushed there instead of measured
 * (for {@link measureMicroInterleaved}). May run more than once per server:
 * the availability probe runs once.
 */
async function runServer(server, which, collect = null) {
  const client = clientFor(server);
  const t = Date.now();
  const U = CFG.users;
  const users = {
    micro: mkUsers("bm_micro_", U),
    // under wrangler dev, seeding 5000-record users through the dev proxy is slow: two suffice there
    full: mkUsers("bm_full_", server.mode === "wdev" ? Math.min(2, U) : U),
    mix: mkUsers("bm_mix_", U),
  };
  // availability
  server.probed ??= (async () => {
    const probeUser = { name: "bm_probe", password: PASSWORD };
    const reg = await client.register(probeUser);
    if (reg.ok) return { reg, bad: await client.probe(probeUser) };
    const reason = reg.missing ? `route not available (${reg.why})` : `registration failed: ${reg.why}`;
    return { reg, bad: Object.fromEntries(["info", "post", "get", "put", "delete"].map((k) => [k, reason])) };
  })();
  const { reg, bad } = await server.probed;
  const needs = { info: ["info"], post100: ["post"], getFull: ["post", "get"], put: ["put"], mix: ["info", "get", "post", "put", "delete"], newer: ["post", "get"] };
  const why = (w) => needs[w].map((k) => bad[k]).find(Boolean);

  const register = async (list) => {
    if (!reg.ok) return;
    const res = await pool(list, 4, (u) => client.register(u));
    const f = res.find((r) => !r.ok);
    if (f) throw new Error(`registering bench users: ${f.why}`);
  };

  if (which.includes("micro")) {
    await register([...users.micro, ...users.full]);
    if (!why("post100")) {
      // a few collections for info/collections to report
      await pool(users.micro, 4, async (u) => {
        for (const coll of ["bookmarks", "prefs", "clients"]) await client.post(u, coll, recordsBody(3, (j) => recordId("s", j)));
      });
    }
    if (!why("getFull") && !(server.microOnly && !server.microOnly.includes("getFull")))
      await seedRecords(client, users.full, "history", CFG.fullRecords);
    log(`${server.key}: micro users seeded (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    const micro = [
      ["info", "GET info/collections", users.micro, {}],
      // bookmarks is not written during the micro cells: nothing is newer
      ["newer", "GET newer (nothing new)", users.micro, { coll: "bookmarks", newer: (Date.now() / 1000 + 1).toFixed(2) }],
      ["post100", "POST 100 records", users.micro, { coll: "history", pool: 10000 }],
      ["getFull", `GET ${CFG.fullRecords} records`, users.full, { coll: "history" }],
      ["put", "PUT one record", users.micro, { coll: "clients" }],
    ];
    for (const [w, label, us, params] of micro) {
      if (server.microOnly && !server.microOnly.includes(w)) continue;
      if (why(w)) {
        skipRow("micro", label, server, why(w));
        continue;
      }
      const extra = server.flavour === "sync11" ? { protocol: "1.1", floorLabel: label } : {};
      if (collect) collect.push({ server, workload: w, users: us, params, label, extra });
      else for (const c of CONCURRENCY) await measure(server, "micro", w, { users: us, params, c, label, extra });
    }
  }

  if (which.includes("breakdown")) {
    // Breakdown: the floor plus one D1 lookup per request (what our account lookup costs by itself)
    const d1 = { ...server, flavour: "floord1" };
    for (const c of CONCURRENCY)
      await measure(d1, "breakdown", "info", { users: users.micro, c, label: "floor + D1 lookup: GET info" });
  }

  if (which.includes("mix")) {
    const label = "realistic mix (1.1)";
    if (why("mix")) skipRow("mix", label, server, why("mix"));
    else {
      await register(users.mix);
      await pool(users.mix, 4, async (u) => {
        await seedRecords(client, [u], "history", 1000);
        for (const coll of ["bookmarks", "passwords", "tabs", "clients"]) await client.post(u, coll, recordsBody(20, (j) => recordId("m", j)));
      });
      for (const c of CONCURRENCY) await measure(server, "mix", "mix", { users: users.mix, c, label });
    }
  }

  if (which.includes("scale")) {
    if (why("newer")) skipRow("scale", "incremental read", server, why("newer"));
    if (why("post100")) skipRow("scale", "POST 100 records", server, why("post100"));
    if (!why("newer") || !why("post100")) {
      const scaleUsers = CFG.scale.map((n) => ({ n, user: { name: `bm_scale_${n}`, password: PASSWORD } }));
      await register(scaleUsers.map((s) => s.user));
      const ts0 = Date.now();
      for (const s of scaleUsers) {
        // All but the last 100 records concurrently, then the last 100 in a POST of their own, and newer = the
        // latest timestamp before it: the read returns exactly that POST's 100 records at every size. (Taking
        // the penultimate task's timestamp of a concurrent seeding made the read return 0, 100 or 200 records
        // as the POSTs happened to complete: one run compared an empty read at 1,000 with 100 records at 100,000.)
        const ts = await seedRecords(client, [s.user], "history", s.n - 100, "h");
        s.newer = Math.max(0, ...ts);
        await client.post(s.user, "history", recordsBody(100, (j) => recordId("h", s.n - 100 + j)));
        const r = await http(server, "GET", `/1.1/${s.user.name}/storage/history?full=1&newer=${s.newer.toFixed(2)}`, {
          headers: { authorization: basicAuth(s.user.name, s.user.password) },
        });
        if (r.status !== 200 || r.json?.length !== 100) throw new Error(`scale @${s.n}: the incremental read returns ${r.json?.length ?? r.status}, not 100 records`);
      }
      log(`${server.key}: scale users seeded (${CFG.scale.join("/")} records, ${((Date.now() - ts0) / 1000).toFixed(1)} s)`);
      // The reads first: a scattered POST makes the records it writes newer than the read's bound too.
      if (!why("newer")) {
        const cells = scaleUsers.map((s) => ({
          users: [s.user], workload: "newer", params: { coll: "history", newer: s.newer.toFixed(2) }, label: `incremental read @${s.n}`, server, extra: { size: s.n, op: "incremental read" },
        }));
        for (const c of CONCURRENCY) await measureRounds("scale", cells, c);
      }
      if (!why("post100")) {
        const cells = scaleUsers.map((s) => ({
          users: [s.user], workload: "post100Scattered", params: { coll: "history", pool: s.n, prefix: "h" }, label: `POST 100 records @${s.n}`, server, extra: { size: s.n, op: "POST 100 records" },
        }));
        for (const c of CONCURRENCY) await measureRounds("scale", cells, c);
      }
    }
  }

  if (which.includes("auth")) {
    const label = server.key === "ours-noauth" ? "1.1 Basic, auth short-circuited" : "1.1 Basic auth";
    if (why("info")) skipRow("auth", label, server, why("info"));
    else {
      const us = mkUsers("bm_auth_", U);
      await register(us);
      if (server.key === "ours-noauth") {
        // Is authentication really short-circuited (bench/entry.ts)? A wrong password must still get through.
        const r = await http(server, "GET", `/1.1/${us[0].name}/info/collections`, { headers: { authorization: basicAuth(us[0].name, "wrong-password-x") } });
        if (r.status === 401) {
          skipRow("auth", label, server, "n/a: auth not short-circuited (wrong password → 401)");
          return;
        }
      }
      for (const c of CONCURRENCY) await measure(server, "auth", "info", { users: us, c, label, extra: { variant: server.key === "ours-noauth" ? "bypass" : "basic", protocol: "1.1" } });
    }
  }
}

/**
 * The Storage 1.5 groups on one of our direct servers: the realistic mix with
 * batch uploads, and the Hawk auth cell. Users get tokens from our tokenserver.
 */
async function runServer15(base, which, collect = null) {
  // one 1.5 view per server (its own warm-up set), probed once however often this runs
  const server = (base.sync15 ??= { ...base, flavour: "sync15", warmed: undefined, probed: undefined });
  const client = clientFor(server);
  server.probed ??= (async () => {
    const probeUser = { name: "bm15_probe" };
    const reg = await client.register(probeUser);
    return { reg, bad: reg.ok ? await client.probe(probeUser) : { info: reg.missing ? `route not available (${reg.why})` : `token: ${reg.why}` } };
  })();
  const { bad } = await server.probed;
  const noauth = base.key === "ours-noauth";
  const authLabel = noauth ? "1.5 Hawk, auth short-circuited" : "1.5 Hawk";
  const tokens = async (list) => {
    const res = await pool(list, 4, (u) => client.register(u));
    const f = res.find((r) => !r.ok);
    if (f) throw new Error(`tokens for bench users: ${f.why}`);
  };
  if (which.includes("micro") && !noauth) {
    if (bad.info || bad.batch) skipRow("micro", "Storage 1.5 micro-benchmarks", server, bad.info ?? bad.batch);
    else {
      const micro = mkUsers("bm15_micro_", CFG.users);
      // --quick: two 5000-record users (seeding through 1.5 is most of this section's time)
      const full = mkUsers("bm15_full_", QUICK ? 2 : CFG.users);
      await tokens([...micro, ...full]);
      await pool(micro, 4, async (u) => {
        for (const coll of ["bookmarks", "prefs", "clients"]) await client.post(u, coll, recordsBody(3, (j) => recordId("s", j)));
      });
      await seedRecords(client, full, "history", CFG.fullRecords);
      const cells = [
        ["info", "GET info/collections (1.5)", "GET info/collections", micro, {}],
        ["newer", "GET newer (nothing new) (1.5)", "GET newer (nothing new)", micro, { coll: "bookmarks", newer: (Date.now() / 1000 + 1).toFixed(2) }],
        ["post100", "POST 100 records (1.5)", "POST 100 records", micro, { coll: "history", pool: 10000 }],
        ["getFull", `GET ${CFG.fullRecords} records (1.5)`, `GET ${CFG.fullRecords} records`, full, { coll: "history" }],
        ["put", "PUT one record (1.5)", "PUT one record", micro, { coll: "clients" }],
        // per request of a 10-POST batch, against the floor's plain POST of 100
        ["batch1000", "1000-record batch, per request (1.5)", "POST 100 records", micro, { coll: "forms" }],
        ["token", "tokenserver: returning user (1.5)", null, micro, {}],
      ];
      for (const [w, label, floorLabel, us, params] of cells) {
        const extra = { protocol: "1.5", floorLabel: floorLabel ?? "-" };
        if (collect) collect.push({ server, workload: w, users: us, params, label, extra });
        else for (const c of CONCURRENCY) await measure(server, "micro", w, { users: us, params, c, label, extra });
      }
    }
  }
  if (which.includes("mix")) {
    const label = "realistic mix (1.5, batches)";
    const why = bad.info ?? bad.batch;
    if (why) skipRow("mix", label, server, why);
    else {
      const us = mkUsers("bm15_mix_", CFG.users);
      await tokens(us);
      await pool(us, 4, async (u) => {
        await seedRecords(client, [u], "history", 1000);
        for (const coll of ["bookmarks", "passwords", "tabs", "clients"]) await client.post(u, coll, recordsBody(20, (j) => recordId("m", j)));
      });
      for (const c of CONCURRENCY) await measure(server, "mix", "mix15", { users: us, c, label });
    }
  }
  if (which.includes("auth")) {
    if (bad.info) return skipRow("auth", authLabel, server, bad.info);
    const us = mkUsers("bm15_auth_", CFG.users);
    await tokens(us);
    if (noauth) {
      const p = `/1.5/${us[0].uid}/info/collections`;
      const r = await http(server, "GET", p, { headers: { authorization: hawkHeader({ ...us[0], key: "wrong-key" }, "GET", p, "127.0.0.1", new URL(server.url).port) } });
      if (r.status === 401) return skipRow("auth", authLabel, server, "n/a: Hawk not short-circuited (wrong MAC → 401)");
    }
    for (const c of CONCURRENCY) await measure(server, "auth", "info", { users: us, c, label: authLabel, extra: { variant: noauth ? "bypass" : "basic", protocol: "1.5" } });
  }
}

// ---------------------------------------------------------------- reporting

const fmt = (v, d = 0) => (v === null || v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(d));
const fmtMs = (v) => (v === null || v === undefined ? "-" : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
const ratio = (a, b) => (a && b ? a / b : null);
const fmtX = (v) => (v === null ? "-" : `${v.toFixed(2)}×`);

/**
 * KDF cost (group `kdf`): bench/kdf/worker.ts times password hashing and the
 * cached credential check inside workerd; one request, numbers only.
 */
async function runKdf() {
  const config = path.join(BENCH, "kdf", "wrangler.toml");
  let server = null;
  try {
    const script = buildOurs(config, "kdf-bundle");
    server = await startDirect("kdf", { config, script, migrations: path.join(REPO, "migrations") });
    const res = await fetch(new URL(`?n=${QUICK ? 3 : 10}`, server.url));
    if (res.status !== 200) throw new Error(`kdf probe answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const k = await res.json();
    rows.push({ group: "kdf", workload: "auth cost per step", server: "kdf-direct", mode: "direct", ...k });
    log(`kdf: PBKDF2 verify ${k.pbkdf2VerifyMs.toFixed(2)} ms`);
  } catch (e) {
    notes.push(`kdf failed: ${e.message.slice(0, 600)}`);
    log(`kdf failed: ${e.stack}`);
  } finally {
    if (server) await stopGroup(server.child);
  }
}

function table(title, header, lines) {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  const fmtLine = (l) => l.map((v, i) => (i < 3 ? String(v).padEnd(widths[i]) : String(v).padStart(widths[i]))).join("  ");
  console.log(`\n${title}`);
  console.log(fmtLine(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const l of lines) console.log(fmtLine(l));
}

function report() {
  const measured = rows.filter((r) => !r.skipped);
  const floorOf = (r) =>
    measured.find((f) => f.server === (r.mode === "wdev" ? "floor-wdev" : "floor-direct") && f.workload === (r.floorLabel ?? r.workload) && f.c === r.c);
  const H = ["workload", "server", "c", "req/s", "p50 ms", "p95 ms", "p99 ms", "cpu s/1k", "req/s ×fl", "p50 ×fl", "cpu ×fl", "err"];
  const mainRows = measured.filter((r) => r.group === "micro" || r.group === "mix");
  const lines = [];
  for (const r of mainRows) {
    const f = r.server.startsWith("floor") ? null : floorOf(r);
    for (const x of [r]) {
      x.vsFloor = f ? { rps: ratio(r.rps, f.rps), p50: ratio(r.p50, f.p50), cpu: ratio(r.cpuPer1k, f.cpuPer1k) } : undefined;
    }
    lines.push([
      r.workload, r.server, r.c, fmt(r.rps), fmtMs(r.p50), fmtMs(r.p95), fmtMs(r.p99),
      r.mode === "wdev" ? `${fmt(r.cpuPer1k, 3)} (${fmt(r.cpuAllPer1k, 3)})` : fmt(r.cpuPer1k, 3),
      f ? fmtX(r.vsFloor.rps) : "", f ? fmtX(r.vsFloor.p50) : "", f ? fmtX(r.vsFloor.cpu) : "", r.errors || "",
    ]);
  }
  if (lines.length)
    table(`Micro-benchmarks and mix (×fl = ours / floor, same mode, same concurrency${
      mainRows.some((r) => r.group === "micro" && r.rounds) ? `; micro, direct: floor-direct and ours-direct in ${ROUNDS} alternating rounds` : ""
    }; wrangler dev cpu: workerd (whole tree))`, H, lines);

  const mixes = measured.filter((r) => r.group === "mix" && r.tags && Object.keys(r.tags).length);
  if (mixes.length) {
    const tags = [...new Set(mixes.flatMap((r) => Object.keys(r.tags)))];
    table("Mix by operation: p50 ms (requests)", ["workload", "server", "c", ...tags],
      mixes.map((r) => [r.workload, r.server, r.c, ...tags.map((t) => (r.tags[t] ? `${fmtMs(r.tags[t].p50)} (${r.tags[t].n})` : "-"))]));
  }

  const bd = [];
  for (const c of CONCURRENCY) {
    const pick = (pred) => measured.find((r) => r.c === c && pred(r));
    const parts = [
      ["floor", pick((r) => r.server === "floor-direct" && r.workload === "GET info/collections")],
      ["floor + D1 lookup", pick((r) => r.group === "breakdown")],
      ["ours, 1.1, auth short-circuited", pick((r) => r.group === "auth" && r.variant === "bypass" && r.protocol === "1.1")],
      ["ours, 1.1 Basic", pick((r) => r.group === "auth" && r.variant === "basic" && r.protocol === "1.1")],
    ];
    const f = parts[0][1];
    for (const [name, r] of parts) if (r) bd.push([name, r.server, c, fmt(r.rps), fmtMs(r.p50), fmt(r.cpuPer1k, 3), fmtX(ratio(r.cpuPer1k, f?.cpuPer1k))]);
  }
  if (bd.length)
    table("Where the time goes: GET info/collections, direct (each step adds one thing; cpu ×fl = cpu / floor cpu)",
      ["step", "server", "c", "req/s", "p50 ms", "cpu s/1k", "cpu ×fl"], bd);

  const scale = measured.filter((r) => r.group === "scale");
  if (scale.length) {
    const smallest = Math.min(...scale.map((r) => r.size));
    const l2 = scale.map((r) => {
      const b = scale.find((x) => x.op === r.op && x.c === r.c && x.size === smallest);
      r.vsSmallest = { p50: ratio(r.p50, b?.p50), cpu: ratio(r.cpuPer1k, b?.cpuPer1k) };
      return [r.op, r.size, r.c, fmt(r.rps), fmtMs(r.p50), fmtMs(r.p95), fmtMs(r.p99), fmt(r.cpuPer1k, 3), fmtX(r.vsSmallest.p50), fmtX(r.vsSmallest.cpu), r.errors || ""];
    });
    table(`Scale curve on ours-direct (×${smallest} = ratio to the ${smallest}-record user; target ≤ 1.2× at the largest)`,
      ["op", "records", "c", "req/s", "p50 ms", "p95 ms", "p99 ms", "cpu s/1k", `p50 ×${smallest}`, `cpu ×${smallest}`, "err"], l2);
  }

  const auth = measured.filter((r) => r.group === "auth");
  if (auth.length) {
    const l3 = auth.map((r) => {
      const b = auth.find((x) => x.variant === "bypass" && x.c === r.c && x.protocol === r.protocol);
      r.vsBypass = b && r.variant === "basic" ? { p50: ratio(r.p50, b.p50), cpu: ratio(r.cpuPer1k, b.cpuPer1k) } : undefined;
      return [r.workload, r.server, r.c, fmt(r.rps), fmtMs(r.p50), fmtMs(r.p95), fmtMs(r.p99), fmt(r.cpuPer1k, 3),
        r.vsBypass ? fmtX(r.vsBypass.p50) : "", r.vsBypass ? fmtX(r.vsBypass.cpu) : "", r.errors || ""];
    });
    table("Authentication cost: GET info/collections (×byp = with auth / short-circuited, same protocol; target < 1.10×)",
      ["variant", "server", "c", "req/s", "p50 ms", "p95 ms", "p99 ms", "cpu s/1k", "p50 ×byp", "cpu ×byp", "err"], l3);
  }

  const kdf = measured.find((r) => r.group === "kdf");
  if (kdf) {
    const step = (name, v) => [name, `${v.toFixed(v < 0.1 ? 4 : 2)} ms`];
    console.log(`\nPassword check cost inside workerd (mean wall time, ${kdf.n} rounds; README "CPU budget")`);
    for (const [name, v] of [
      step(`PBKDF2-SHA256 verify, ${kdf.iterations} iterations (new hash or first login per isolate)`, kdf.pbkdf2VerifyMs),
      step(`PBKDF2-SHA256 hash, ${kdf.iterations} iterations`, kdf.pbkdf2HashMs),
      step("cached check: HMAC-SHA256 of the presented password", kdf.hmacMs),
      step("D1 lookup of the account row (every Basic request)", kdf.d1LookupMs),
      step("{SSHA-256} verify (hash imported from server-full)", kdf.ssha256Ms),
      step("{SSCRYPT} verify (imported; once, then re-hashed)", kdf.sscryptMs),
    ])
      console.log(`  ${name.padEnd(78)} ${v.padStart(12)}`);
  }

  reportTargets(measured);
  reportCeiling();

  const skipped = rows.filter((r) => r.skipped);
  if (skipped.length || notes.length) {
    console.log("\nSkipped / notes:");
    for (const r of skipped) console.log(`  ${r.group}: ${r.workload} on ${r.server}: skipped: ${r.skipped}`);
    for (const n of notes) console.log(`  ${n}`);
  }
}

/**
 * Issue 11 targets: ours-direct ÷ floor-direct CPU per request at each
 * concurrency (the floor of the same run), scale ratios, the tokenserver.
 */
function reportTargets(measured) {
  const ours = (label, c) => measured.find((r) => r.server === "ours-direct" && r.group === "micro" && r.workload === label && r.c === c);
  const floorRow = (label, c) => measured.find((r) => r.server === "floor-direct" && r.workload === label && r.c === c);
  const N = CFG.fullRecords;
  const defs = [
    ["GET info/collections", "1.1", "GET info/collections", "GET info/collections", 1.3],
    ["GET info/collections", "1.5", "GET info/collections (1.5)", "GET info/collections", 1.3],
    ["GET newer (nothing new)", "1.1", "GET newer (nothing new)", "GET newer (nothing new)", 1.3],
    ["GET newer (nothing new)", "1.5", "GET newer (nothing new) (1.5)", "GET newer (nothing new)", 1.3],
    ["PUT one record", "1.1", "PUT one record", "PUT one record", 1.3],
    ["PUT one record", "1.5", "PUT one record (1.5)", "PUT one record", 1.3],
    ["POST 100 records", "1.1", "POST 100 records", "POST 100 records", 1.5],
    ["POST 100 records", "1.5", "POST 100 records (1.5)", "POST 100 records", 1.5],
    [`GET ${N} records full`, "1.1", `GET ${N} records`, `GET ${N} records`, 1.5],
    [`GET ${N} records full`, "1.5", `GET ${N} records (1.5)`, `GET ${N} records`, 1.5],
    ["1000-record batch, per request (vs floor POST 100)", "1.5", "1000-record batch, per request (1.5)", "POST 100 records", 1.5],
  ];
  const targets = [];
  for (const [name, protocol, label, fl, target] of defs) {
    const per = CONCURRENCY.map((c) => {
      const o = ours(label, c);
      const f = floorRow(fl, c);
      // rounds: how many alternating rounds the two cells shared (null: measured apart, one after the other)
      const together = o && f && o.rounds && o.interleavedWith?.includes(`${f.server}: ${f.workload}`);
      return { c, ours: o?.cpuPer1k ?? null, floor: f?.cpuPer1k ?? null, ratio: ratio(o?.cpuPer1k, f?.cpuPer1k), rounds: together ? o.rounds : null };
    });
    targets.push({ name, protocol, kind: "÷ floor", target, per });
  }
  const scale = measured.filter((r) => r.group === "scale" && r.server === "ours-direct");
  if (scale.length) {
    const small = Math.min(...scale.map((r) => r.size));
    const big = Math.max(...scale.map((r) => r.size));
    for (const op of ["incremental read", "POST 100 records"]) {
      const per = CONCURRENCY.map((c) => {
        const a = scale.find((r) => r.op === op && r.c === c && r.size === big);
        const b = scale.find((r) => r.op === op && r.c === c && r.size === small);
        return { c, ours: a?.cpuPer1k ?? null, floor: b?.cpuPer1k ?? null, ratio: ratio(a?.cpuPer1k, b?.cpuPer1k), rounds: a?.rounds ?? null };
      });
      targets.push({ name: `scale: ${op}, ${big} ÷ ${small} records`, protocol: "1.1", kind: `÷ ${small}-record user`, target: 1.2, per });
    }
  }
  for (const t of targets) {
    const got = t.per.filter((p) => p.ratio !== null);
    t.met = got.length === 0 ? null : got.length === t.per.length && got.every((p) => p.ratio <= t.target);
  }
  const tok = CONCURRENCY.map((c) => ({ c, cpuMs: ours("tokenserver: returning user (1.5)", c)?.cpuPer1k ?? null }));
  summary.targets = targets;
  summary.tokenserver = { d1RoundTrips: TOKEN_D1_ROUND_TRIPS, cpuMsPerRequest: tok };
  if (targets.some((t) => t.met !== null)) {
    const lines = targets.map((t) => [
      t.name, t.protocol, `≤ ${t.target}×`,
      ...t.per.map((p) => (p.ratio === null ? "-" : `${fmtX(p.ratio)} (${fmt(p.ours, 2)}/${fmt(p.floor, 2)})${p.rounds ? "" : "*"}`)),
      t.met === null ? "not measured" : t.met ? "met" : "NOT met",
    ]);
    lines.push(["tokenserver GET /1.0/sync/1.5, returning user", "1.5", "reported", ...tok.map((p) => `${fmt(p.cpuMs, 2)} ms`), `${TOKEN_D1_ROUND_TRIPS} D1 round trip`]);
    const per = targets.flatMap((t) => t.per).filter((p) => p.ratio !== null);
    const how = per.length && per.every((p) => p.rounds)
      ? `each ratio's two cells measured in ${ROUNDS} alternating rounds`
      : per.some((p) => p.rounds)
        ? `ratios marked * measured one cell after the other, the rest in ${ROUNDS} alternating rounds`
        : "each ratio's two cells measured one after the other";
    table(`Targets (issue 11): CPU ms per request, ours-direct ÷ floor-direct in this run (ours/floor ms in brackets; ${how})`,
      ["operation", "proto", "target", ...CONCURRENCY.map((c) => `c=${c}`), "status"], lines);
  }
  // 10 ms of Worker CPU: workerd runs the Worker and the Durable Object in one
  // process, so the figure is their sum (plus workerd's HTTP work): an upper bound.
  const fits = measured
    .filter((r) => r.server === "ours-direct" && (r.group === "micro" || r.group === "mix"))
    .reduce((m, r) => m.set(r.workload, Math.max(m.get(r.workload) ?? 0, r.cpuPer1k ?? Infinity)), new Map());
  summary.fits10ms = [...fits].map(([workload, maxCpuMs]) => ({ workload, maxCpuMs, fits: maxCpuMs < 10 }));
  if (fits.size)
    table("Fits in 10 ms of Worker CPU? (max over concurrencies of Worker + Durable Object + workerd HTTP CPU per request: an upper bound for the Worker's share)",
      ["workload", "", "", "cpu ms", "fits"], summary.fits10ms.map((f) => [f.workload, "", "", fmt(f.maxCpuMs, 2), f.fits ? "yes" : "no"]));
}

function reportCeiling() {
  const c = summary.ceiling;
  if (!c) return;
  console.log(`
Self-hosted ceiling (${c.mode}): realistic mix (1.5, batches), closed loop at c=${c.concurrency} per process, ${c.users} users per process`);
  for (const k of ["one", "two"]) {
    const x = c[k];
    if (!x) continue;
    console.log(`  ${k === "one" ? "one workerd process " : "two workerd processes"}: ${fmt(x.rps)} req/s, ${fmt(x.cpuMsPerReq, 2)} ms CPU/request, ` +
      `busiest thread ${(x.busiestThreadShare * 100).toFixed(0)}% of the server's CPU (${fmt(x.cpuCoresUsed, 2)} cores busy)` +
      ` ≈ ${fmt(x.activeUsers)} active users at ${REQ_PER_ACTIVE_USER_HOUR} requests/user/hour;` +
      ` CPU-bound (one core per process): ${fmt(x.cpuBoundRps)} req/s ≈ ${fmt(x.cpuBoundActiveUsers)} active users`);
  }
  if (c.one && c.two) console.log(`  two ÷ one: ${fmtX(ratio(c.two.rps, c.one.rps))} (load generator on the same ${os.cpus().length} cores)`);
}

/**
 * Self-hosted ceiling (group `ceiling`): the 1.5 mix at saturation on one
 * workerd process, then on two processes sharded by user at once, with
 * per-thread CPU to show how much of it one thread carries.
 */
async function runCeiling(bundle, ourConfig, migrations) {
  const c = 8;
  const procs = [];
  try {
    // The self-hosted production mode (`npm run serve`) when this checkout has it, else workerd directly.
    const viaServe = SERVE && existsSync(path.join(ROOT, "scripts", "serve.mjs"));
    const vars = { ...OUR_VARS, ...VARS_15 };
    const st = await Promise.all(
      ["ceil-a", "ceil-b"].map((key) => (viaServe ? startServe(key, { script: bundle, vars }) : startDirect(key, { config: ourConfig, script: bundle, vars, migrations }))),
    );
    summary.ceiling = { mode: viaServe ? "npm run serve" : "workerd direct (bench/serve.mjs)", concurrency: c, users: CFG.users, reqPerActiveUserHour: REQ_PER_ACTIVE_USER_HOUR };
    log(`ceiling: two servers via ${summary.ceiling.mode}`);
    for (const [i, s] of st.entries()) {
      s.flavour = "sync15";
      procs.push(s);
      const client = clientFor(s);
      s.users = mkUsers(`bm_ceil${i}_`, CFG.users);
      const res = await pool(s.users, 4, (u) => client.register(u));
      if (res.some((r) => !r.ok)) throw new Error(`ceiling tokens: ${res.find((r) => !r.ok).why}`);
      await pool(s.users, 4, async (u) => {
        await seedRecords(client, [u], "history", 1000);
        for (const coll of ["bookmarks", "passwords", "tabs", "clients"]) await client.post(u, coll, recordsBody(20, (j) => recordId("m", j)));
      });
    }
    const run = async (servers) => {
      for (const s of servers) await runJob({ url: s.url, flavour: "sync15", users: s.users, workload: "mix15", params: {}, concurrency: c, durationMs: CFG.warmupMs });
      const t0 = servers.map((s) => ({ cpu: cpuSample(s.child.pid), th: threadSample(s.child.pid) }));
      const res = await Promise.all(servers.map((s) => runJob({ url: s.url, flavour: "sync15", users: s.users, workload: "mix15", params: {}, concurrency: c, durationMs: CFG.measureMs })));
      let cpu = 0;
      let busiest = 0;
      let count = 0;
      let rps = 0;
      let elapsed = 0;
      for (const [i, s] of servers.entries()) {
        cpu += cpuDelta(t0[i].cpu, cpuSample(s.child.pid)).workerd;
        const th = threadDelta(t0[i].th, threadSample(s.child.pid));
        const tot = th.reduce((a, t) => a + t.cpu, 0);
        busiest = Math.max(busiest, tot ? (th[0]?.cpu ?? 0) / tot : 0);
        count += res[i].count;
        rps += res[i].rps;
        elapsed = Math.max(elapsed, res[i].elapsed);
        if (res[i].errors) notes.push(`ceiling: ${res[i].errors} errors on ${s.key}: ${res[i].sampleError}`);
      }
      const cpuMsPerReq = (cpu / count) * 1000;
      // What one busy thread per process could serve if it had a core to itself
      // (on a shared machine the measured req/s is bounded by the neighbours).
      const cpuBoundRps = (servers.length * 1000) / cpuMsPerReq;
      return {
        rps, count, cpuMsPerReq, cpuCoresUsed: cpu / elapsed, busiestThreadShare: busiest, activeUsers: (rps * 3600) / REQ_PER_ACTIVE_USER_HOUR,
        cpuBoundRps, cpuBoundActiveUsers: (cpuBoundRps * 3600) / REQ_PER_ACTIVE_USER_HOUR,
      };
    };
    summary.ceiling.one = await run([procs[0]]);
    log(`ceiling, one process: ${summary.ceiling.one.rps.toFixed(0)} req/s`);
    summary.ceiling.two = await run(procs);
    log(`ceiling, two processes: ${summary.ceiling.two.rps.toFixed(0)} req/s`);
  } catch (e) {
    notes.push(`ceiling failed: ${e.message.slice(0, 400)}`);
    log(`ceiling failed: ${e.stack}`);
  } finally {
    for (const s of procs) await stopGroup(s.child);
  }
}

function machine() {
  const cpus = os.cpus();
  let workerd = null;
  try {
    const wd = path.join(path.dirname(createRequire(require.resolve("wrangler")).resolve("workerd/package.json")));
    workerd = JSON.parse(readFileSync(path.join(wd, "package.json"), "utf8")).version;
  } catch {}
  return {
    cpu: cpus[0]?.model, cores: cpus.length, memGB: +(os.totalmem() / 2 ** 30).toFixed(1), os: `${os.type()} ${os.release()}`,
    node: process.version, wrangler: JSON.parse(readFileSync(path.join(path.dirname(WRANGLER_JS), "..", "package.json"), "utf8")).version,
    workerd, loadavgAtStart: os.loadavg().map((x) => +x.toFixed(2)),
  };
}

// ---------------------------------------------------------------- main

async function main() {
  const info = machine();
  log(`${QUICK ? "quick" : "full"} run on ${info.cores}× ${info.cpu}, load ${info.loadavgAtStart.join(" ")}; tmp ${TMP}`);
  startLoadgen();
  const servers = {};
  const floorConfig = path.join(BENCH, "floor", "wrangler.toml");
  const ourConfig = ["wrangler.jsonc", "wrangler.json", "wrangler.toml"].map((f) => path.join(ROOT, f)).find(existsSync);
  const migrations = path.join(ROOT, "migrations");

  // ours: bundle once for the direct runs
  let bundle = null;
  let oursWhy = null;
  // --only=kdf needs neither our Worker nor the floor
  const needOurs = ["micro", "mix", "scale", "auth", "ceiling"].some((g) => GROUPS.has(g));
  // The auth-short-circuited Worker (bench/entry.ts) builds alongside ours.
  const noauthBuild = needOurs && GROUPS.has("auth") ? buildOursAsync(null, "bundle-noauth", path.join(BENCH, "entry.ts")) : null;
  noauthBuild?.catch(() => {});
  try {
    if (needOurs) bundle = await buildOursAsync();
    else oursWhy = "not requested";
    if (bundle) log(`bundled our Worker: ${path.relative(TMP, bundle)}`);
  } catch (e) {
    oursWhy = `our Worker does not build: ${e.message.split("\n").filter(Boolean).slice(0, 4).join(" | ")}`;
    notes.push(`ours skipped: ${oursWhy}`);
    log(oursWhy);
  }

  // wrangler dev servers: in --quick, started now so their startup overlaps the direct
  // servers' (idle wrangler dev costs ~1% of a core); in a full run, started after the direct phase.
  const wdev = [];
  if (WRANGLER && GROUPS.has("micro")) {
    wdev.push(["floor-wdev", "floor", floorConfig, {}, false]);
    if (bundle) wdev.push(["ours-wdev", "sync11", ourConfig, OUR_VARS, existsSync(migrations)]);
  }
  const startWdev = () =>
    Promise.allSettled(wdev.map(([key, , config, vars, mig]) => startWranglerDev(key, { config, vars, migrations: mig })));
  const wdevStarting = QUICK && wdev.length ? startWdev() : null;
  wdevStarting?.catch(() => {});

  const direct = ["micro", "mix", "scale"].filter((g) => GROUPS.has(g));
  // Start the direct servers together (startup dominates a quick run), measure one at a time.
  const want = needOurs ? [["floor-direct", "floor", { config: floorConfig, script: path.join(BENCH, "floor", "worker.js") }]] : [];
  if (bundle) {
    want.push(["ours-direct", "sync11", { config: ourConfig, script: bundle, vars: { ...OUR_VARS, ...VARS_15 }, migrations }]);
    // The self-hosted production mode (`npm run serve`): micro-benchmarks and the 1.1 mix (in --quick: info and PUT).
    if (SERVE && (GROUPS.has("micro") || GROUPS.has("mix")))
      want.push(["ours-serve", "sync11", { serve: true, script: bundle, vars: { ...OUR_VARS, ...VARS_15 } }]);
    if (GROUPS.has("auth")) {
      let noauth = null;
      try {
        noauth = await noauthBuild;
      } catch (e) {
        notes.push(`ours-noauth skipped: bench/entry.ts does not build: ${e.message.split("\n").filter(Boolean).slice(0, 4).join(" | ")}`);
      }
      if (noauth) want.push(["ours-noauth", "sync11", { config: ourConfig, script: noauth, vars: { ...OUR_VARS, ...VARS_15 }, migrations }]);
    }
  }
  const started = await Promise.allSettled(want.map(([key, , o]) => (o.serve ? startServe(key, o) : startDirect(key, o))));
  const plan = {
    "floor-direct": [...direct.filter((g) => g !== "scale"), ...(GROUPS.has("micro") ? ["breakdown"] : [])],
    "ours-direct": [...direct, ...(GROUPS.has("auth") ? ["auth"] : [])],
    "ours-noauth": ["auth"],
    "ours-serve": ["micro", ...(QUICK ? [] : ["mix"])].filter((g) => GROUPS.has(g)),
  };
  for (let i = 0; i < want.length; i++) {
    const [key, flavour] = want[i];
    const st = started[i];
    if (st.status === "rejected") {
      notes.push(`${key} failed to start: ${String(st.reason?.message ?? st.reason).slice(0, 600)}`);
      log(`${key} failed to start: ${st.reason?.stack ?? st.reason}`);
      continue;
    }
    const s = Object.assign(st.value, { flavour, ...(key === "ours-serve" && QUICK ? { microOnly: ["info", "put"] } : {}) });
    servers[key] = s;
    log(`${key} at ${s.url}${s.migrations ? ` (${s.migrations} D1 migrations applied)` : ""}`);
  }

  // The micro group of floor-direct and ours-direct (1.1 and 1.5): both seeded first, then each floor cell
  // and ours' cells compared with it measured in alternating rounds (measureMicroInterleaved), so a ratio's
  // two sides share the same minutes of the machine's load. Without one of the two, each measures alone below.
  const floorD = servers["floor-direct"];
  const oursD = servers["ours-direct"];
  if (GROUPS.has("micro") && floorD && oursD) {
    for (const k of ["floor-direct", "ours-direct"]) plan[k] = plan[k].filter((g) => g !== "micro");
    try {
      const cells = [];
      await runServer(floorD, ["micro"], cells);
      await runServer(oursD, ["micro"], cells);
      await runServer15(oursD, ["micro"], cells);
      await measureMicroInterleaved(cells);
    } catch (e) {
      notes.push(`micro (floor-direct and ours-direct interleaved) failed: ${e.message.slice(0, 600)}`);
      log(`micro (interleaved) failed: ${e.stack}`);
    }
  }

  for (const [key, flavour] of want) {
    const s = servers[key];
    if (!s) continue;
    if (key === "ours-serve" && QUICK) notes.push("ours-serve (--quick): only GET info/collections and PUT are measured; the full run adds the other micro-benchmarks and the 1.1 mix");
    try {
      if (key === "ours-noauth" && !rows.some((r) => r.group === "auth" && r.server === "ours-direct" && !r.skipped)) {
        skipRow("auth", "1.1 Basic, auth short-circuited", s, "the Basic-auth cell did not run");
      } else {
        await runServer(s, plan[key]);
        if (flavour === "sync11" && key !== "ours-serve") await runServer15(s, plan[key]);
      }
    } catch (e) {
      notes.push(`${key} failed: ${e.message.slice(0, 600)}`);
      log(`${key} failed: ${e.stack}`);
    } finally {
      await stopGroup(s.child);
    }
  }

  // wrangler dev: the same micro-benchmarks through the dev proxy, floor and ours
  if (wdev.length) {
    const st = await (wdevStarting ?? startWdev());
    for (let i = 0; i < wdev.length; i++) {
      const [key, flavour] = wdev[i];
      if (st[i].status === "rejected") {
        notes.push(`${key} failed to start: ${String(st[i].reason?.message).slice(0, 600)}`);
        log(`${key} failed to start: ${st[i].reason?.stack}`);
        continue;
      }
      const s = Object.assign(st[i].value, { flavour, microOnly: WDEV_MICRO });
      servers[key] = s;
      log(`${key} at ${s.url}`);
      try {
        await runServer(s, ["micro"]);
      } catch (e) {
        const tail = s.stderr().split("\n").filter((l) => l && !/Request\.cf|ENOTFOUND|^\s+at /.test(l)).slice(-8).join(" | ");
        const state = s.child.exitCode !== null ? `wrangler dev had exited (${s.child.exitCode})` : "wrangler dev still running";
        notes.push(`${key} failed: ${e.message.slice(0, 300)}; ${state}; stderr: ${tail.slice(0, 600)}`);
        log(`${key} failed: ${e.stack}\n${state}\n${tail}`);
      } finally {
        await stopGroup(s.child);
      }
    }
    if (WDEV_MICRO) notes.push(`wrangler dev (--quick): only ${WDEV_MICRO.join(", ")} are measured; the full run measures all four micro-benchmarks`);
  }

  if (GROUPS.has("ceiling") && bundle) await runCeiling(bundle, ourConfig, migrations);
  // --quick on a busy machine: past the budget, the KDF group (tens of seconds there) is left out
  if (GROUPS.has("kdf") && QUICK && overBudget()) notes.push("kdf: skipped: time budget exhausted");
  else if (GROUPS.has("kdf")) await runKdf();
  // Hostile inputs beside normal ones (bench/hostile.mjs; only with --only=hostile or when listed).
  if (GROUPS.has("hostile"))
    await (await import("./hostile.mjs")).runHostile({ startDirect, stopGroup, buildOursAsync, clientFor, rows, notes, log, QUICK, config: ourConfig, migrations, vars: { ...OUR_VARS, ...VARS_15 } });

  report();
  const out = {
    root: ROOT, startedAt: new Date(T0).toISOString(), seconds: (Date.now() - T0) / 1000, quick: QUICK, config: CFG,
    concurrency: CONCURRENCY, machine: info, loadavgAtEnd: os.loadavg(),
    servers: Object.fromEntries(Object.values(servers).map((s) => [s.key, { mode: s.mode, flavour: s.flavour }])),
    rows: rows.map(({ skipKey, ...r }) => r), ...summary, notes,
  };
  const dir = path.join(BENCH, "results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${new Date(T0).toISOString().replace(/[:.]/g, "-")}${QUICK ? "-quick" : ""}.json`);
  writeFileSync(file, JSON.stringify(out, null, 2));
  console.log(
    `\n${QUICK ? "quick" : "full"} run: ${((Date.now() - T0) / 1000).toFixed(0)} s on ${info.cores}× ${info.cpu}, ` +
      `${info.memGB} GB, node ${info.node}, workerd ${info.workerd}; load average ${info.loadavgAtStart[0]} at start, ` +
      `${os.loadavg()[0].toFixed(2)} at end${os.loadavg()[0] > info.cores ? " (busy machine: ratios are more trustworthy than absolutes)" : ""}\nJSON: ${path.relative(REPO, file)}`,
  );
}

try {
  await main();
  // For CI: measured nothing of ours, or a server failed → non-zero exit (skipped routes are fine).
  if (notes.some((n) => / failed|does not build/.test(n))) process.exitCode = 1;
} catch (e) {
  log(`failed: ${e.stack}`);
  process.exitCode = 1;
} finally {
  await stopAll();
  loadgen?.disconnect();
}
