/**
 * @module bench/profile
 * `npx node bench/profile.mjs [--requests=N] [--log-level=info] [--protocol=1.1] [--concurrency=N] [--full] [--writes]`: where the CPU
 * of one Storage 1.5 (default) or Storage 1.1 (HTTP Basic, a registered user) request goes inside workerd. Bundles our Worker, serves it directly on
 * workerd (bench/serve.mjs) with the V8 inspector on loopback, gets a token
 * from our tokenserver, then samples the isolate's CPU with the inspector's
 * Profiler while it sends N sequential `GET info/collections` and N
 * `GET ?newer=` (nothing new). Prints self time by function and by area.
 * `--concurrency=N`: the N requests are sent by N clients at once.
 * `--full`: instead, GET of a 5000-record collection in full (N/100 requests).
 * `--writes`: instead, N PUTs of one record and N/10 POSTs of 100 records (the bench's micro shapes).
 * The Worker and its Durable Objects share one isolate in workerd, so the
 * areas are told apart by function, not by thread. Time spent in workerd's
 * C++ outside JavaScript (HTTP, SQLite, RPC plumbing) shows as "(program)"
 * or "(idle)" in V8's view; the bench's /proc CPU figure includes it.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { basicAuth, fxaSigner, hawkHeader, putBody, recordId, recordsBody } from "./lib/ops.mjs";
import { bundleWorker, freePort, spawnGroup, stopAll } from "./lib/procs.mjs";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
/** --root=DIR: profile another checkout's Worker (e.g. the A of bench/ab.mjs) with this script. */
const ROOT = path.resolve(process.argv.find((a) => a.startsWith("--root="))?.split("=")[1] ?? path.dirname(BENCH));
const N = Number(process.argv.find((a) => a.startsWith("--requests="))?.split("=")[1] ?? 2000);
/** --log-level=info: with the per-request log line (the default level, warn, writes none for a success), to see what it costs. */
const LOG_LEVEL = process.argv.find((a) => a.startsWith("--log-level="))?.split("=")[1];
/** --protocol=1.1: the same two requests over Storage 1.1 (Basic auth, user registered through the User API). */
const PROTOCOL = process.argv.find((a) => a.startsWith("--protocol="))?.split("=")[1] ?? "1.5";
if (PROTOCOL !== "1.5" && PROTOCOL !== "1.1") throw new Error(`--protocol: 1.5 or 1.1, not ${PROTOCOL}`);
/** --concurrency=N: N clients at once (the requests split between them). */
const CONC = Number(process.argv.find((a) => a.startsWith("--concurrency="))?.split("=")[1] ?? 1);
/** --full: GET 5000 records in full instead of the two small requests. */
const FULL = process.argv.includes("--full");
/** --writes: PUT one record and POST 100 records instead of the two small reads. */
const WRITES = process.argv.includes("--writes");
const TMP = mkdtempSync(path.join(os.tmpdir(), "weave-profile-"));
const log = (...a) => console.error("[profile]", ...a);

const FXA = fxaSigner("p-1", "p");
const b64url = (b) => Buffer.from(b).toString("base64url");

async function main() {
  const script = bundleWorker(ROOT, path.join(TMP, "bundle"));
  const inspectorPort = await freePort();
  const config = ["wrangler.jsonc", "wrangler.json", "wrangler.toml"].map((f) => path.join(ROOT, f)).find(existsSync);
  const child = spawnGroup(process.execPath, [path.join(BENCH, "serve.mjs"), JSON.stringify({
    config, script, persist: path.join(TMP, "data"), migrations: path.join(ROOT, "migrations"), inspectorPort,
    vars: { STRICT_USERNAMES: "false", USE_QUOTA: "false", SYNC_MASTER_SECRET: "profile-secret-0123456789", FXA_OAUTH_JWKS: JSON.stringify({ keys: [FXA.jwk] }), HAWK_NONCE_CHECK: "true", ...(LOG_LEVEL ? { LOG_LEVEL } : {}) },
  })]);
  const ready = await new Promise((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const l = buf.split("\n").find((x) => x.startsWith("READY "));
      if (l) resolve(JSON.parse(l.slice(6)));
    });
    child.on("exit", (c) => reject(new Error(`serve exited ${c}`)));
  });
  const base = new URL(ready.url);
  let send, info, newer, full, coll;
  if (PROTOCOL === "1.1") {
    const name = "profileuser";
    const password = "profile-password-0123";
    const reg = await fetch(new URL(`/user/1.0/${name}`, base), { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ password, email: `${name}@example.com` }) });
    if (reg.status !== 200) throw new Error(`register: ${reg.status} ${await reg.text()}`);
    const authorization = basicAuth(name, password);
    send = async (method, p, body) => {
      const r = await fetch(new URL(p, base), { method, body, headers: { authorization, ...(body ? { "content-type": "application/json" } : {}) } });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`${method} ${p}: ${r.status}`);
    };
    info = `/1.1/${name}/info/collections`;
    await send("POST", `/1.1/${name}/storage/bookmarks`, recordsBody(20, (j) => recordId("p", j)));
    if (FULL) for (let i = 0; i < 5000; i += 100) await send("POST", `/1.1/${name}/storage/history`, recordsBody(100, (j) => recordId("h", i + j)));
    full = `/1.1/${name}/storage/history?full=1`;
    coll = `/1.1/${name}/storage`;
    newer = `/1.1/${name}/storage/bookmarks?full=1&newer=${(Date.now() / 1000 + 1).toFixed(2)}`;
  } else {
    const sub = createHash("sha256").update("profile").digest("hex").slice(0, 32);
    const tr = await fetch(new URL("/1.0/sync/1.5", base), { headers: { authorization: `Bearer ${FXA.token(sub)}`, "x-keyid": `1700000000000-${b64url(Buffer.alloc(16, 7))}` } });
    if (tr.status !== 200) throw new Error(`token: ${tr.status} ${await tr.text()}`);
    const tok = await tr.json();
    send = async (method, p, body) => {
      const r = await fetch(new URL(p, base), { method, body, headers: { authorization: hawkHeader(tok, method, p, base.hostname, base.port), ...(body ? { "content-type": "application/json" } : {}) } });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`${method} ${p}: ${r.status}`);
    };
    info = `/1.5/${tok.uid}/info/collections`;
    await send("POST", `/1.5/${tok.uid}/storage/bookmarks`, recordsBody(20, (j) => recordId("p", j)));
    if (FULL) for (let i = 0; i < 5000; i += 100) await send("POST", `/1.5/${tok.uid}/storage/history`, recordsBody(100, (j) => recordId("h", i + j)));
    full = `/1.5/${tok.uid}/storage/history?full=1`;
    coll = `/1.5/${tok.uid}/storage`;
    newer = `/1.5/${tok.uid}/storage/bookmarks?full=1&newer=${(Date.now() / 1000 + 1).toFixed(2)}`;
  }

  // the Worker's isolate: the inspector lists one target per Worker
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const t = targets.find((x) => /bench/.test(x.title ?? "") || /bench/.test(x.url ?? "")) ?? targets[0];
  const ws = new WebSocket(t.webSocketDebuggerUrl);
  await new Promise((r, j) => ((ws.onopen = r), (ws.onerror = j)));
  let seq = 0;
  const waiting = new Map();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id && waiting.has(msg.id)) {
      waiting.get(msg.id)(msg);
      waiting.delete(msg.id);
    }
  };
  const cdp = (method, params = {}) => new Promise((r) => { const id = ++seq; waiting.set(id, r); ws.send(JSON.stringify({ id, method, params })); });

  // [name, requests, send request i]
  const work = FULL
    ? [["GET 5000 full", Math.max(CONC, Math.round(N / 100)), () => send("GET", full)]]
    : WRITES
      ? [
          ["PUT one record", N, (i) => send("PUT", `${coll}/clients/${recordId("c", i % 100)}`, putBody(i))],
          ["POST 100 records", Math.ceil(N / 10), (i) => send("POST", `${coll}/history`, recordsBody(100, (j) => recordId("p", (i * 100 + j) % 10000)))],
        ]
      : [
          ["GET info/collections", N, () => send("GET", info)],
          ["GET newer (nothing new)", N, () => send("GET", newer)],
        ];
  for (let i = 0; i < (FULL ? 10 : 200); i++) await work[i % work.length][2](i); // warm up (JIT, caches)
  const results = {};
  for (const [name, n, fn] of work) {
    await cdp("Profiler.enable");
    await cdp("Profiler.setSamplingInterval", { interval: 50 });
    await cdp("Profiler.start");
    const t0 = performance.now();
    let sent = 0;
    await Promise.all(Array.from({ length: CONC }, async () => {
      while (sent < n) await fn(sent++);
    }));
    const wall = performance.now() - t0;
    const { result } = await cdp("Profiler.stop");
    results[name] = { ...summarise(result.profile, n, wall), n };
  }
  ws.close();
  for (const [name, r] of Object.entries(results)) {
    console.log(`\n${PROTOCOL} ${name}: ${r.n} requests by ${CONC} client(s), ${(r.wallMs / r.n).toFixed(2)} ms wall each; JS samples per request (µs of V8 time, incl. idle):`);
    console.log(`  by area: ${r.areas.map(([a, us]) => `${a} ${us.toFixed(0)}`).join(", ")}`);
    for (const [fn, us] of r.top) console.log(`  ${us.toFixed(1).padStart(8)} µs  ${fn}`);
  }
}

/** Self time per function and per area (by the bundle's source-module comments is not available: by function name/url). */
function summarise(profile, n, wallMs) {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) dt.set(i, profile.timeDeltas[i] ?? 0);
  const self = new Map();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const cf = node.callFrame;
    const k = `${cf.functionName || "(anonymous)"} ${cf.url ? `${path.basename(cf.url)}:${cf.lineNumber + 1}` : ""}`.trim();
    self.set(k, (self.get(k) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  });
  const areaOf = (k) =>
    /^\(idle\)/.test(k) ? "idle (waiting: I/O, the other isolate's turn)"
    : /^\(program\)|^\(garbage/.test(k) ? "V8/workerd native"
    : /hawk|Hawk|hmac|token|Token|nonce|Nonce|verify/.test(k) ? "auth"
    : /hono|Hono|dispatch|router|match|compose/i.test(k) ? "routing (Hono)"
    : /sql|exec|Sql|engine|Engine|store|Store|collections|info/i.test(k) ? "storage / DO"
    : "other JS";
  // Native functions without a name ("(anonymous)" and no script): charged to their JS caller too.
  const parent = new Map();
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node);
  const viaCaller = new Map();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (node.callFrame.functionName || node.callFrame.url) return;
    const up = parent.get(id)?.callFrame;
    const k = `(native) called from ${up ? `${up.functionName || "(anonymous)"} ${up.url ? `${path.basename(up.url)}:${up.lineNumber + 1}` : ""}` : "?"}`;
    viaCaller.set(k, (viaCaller.get(k) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  });
  const areas = new Map();
  for (const [k, us] of self) areas.set(areaOf(k), (areas.get(areaOf(k)) ?? 0) + us / n);
  return {
    wallMs,
    areas: [...areas].sort((a, b) => b[1] - a[1]),
    top: [...self, ...viaCaller].map(([k, us]) => [k, us / n]).sort((a, b) => b[1] - a[1]).slice(0, 30),
  };
}

try {
  await main();
} catch (e) {
  log(e.stack ?? e);
  process.exitCode = 1;
} finally {
  await stopAll();
  rmSync(TMP, { recursive: true, force: true });
}
