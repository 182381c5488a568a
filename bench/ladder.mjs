/**
 * @module bench/ladder
 * `npx node bench/ladder.mjs [--rounds=10] [--per=300] [--concurrency=1,8] [--ops=info,newer,put] [--no-ours]`:
 * where the small requests' time goes, step by step. Serves the scratch
 * Worker bench/ladder/worker.js (the floor plus our per-request steps added
 * one at a time: rungs r0 … r7, see that file) in one workerd, and our real
 * Worker (this checkout, bundled as bench/ab.mjs does) in a second one as the
 * top rung. Three small Storage 1.5-shaped requests: GET info/collections,
 * GET a collection `newer` than its last write (nothing new), PUT one record;
 * every rung gets the same Hawk Authorization header (only r6+ check it).
 * After a warm-up, `--rounds` interleaved rounds (order of the rungs reversed
 * every other round) of `--per` requests per rung and request (sent by concurrency clients),
 * at each concurrency; the workerd CPU of the serving process is summed per
 * rung over that rung's requests only. Prints CPU ms per request per rung,
 * each step's increment over the rung below it (µs), and how much of
 * (ours − r0) the steps r1 … r7 add up to.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fxaSigner, hawkHeader, makePayload, putBody, recordId } from "./lib/ops.mjs";
import { bundleWorker, cpuDelta, cpuSample, startServe, stopAll } from "./lib/procs.mjs";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const opt = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const ROUNDS = Number(opt("rounds") ?? 10);
const PER = Number(opt("per") ?? 300);
const CONCS = (opt("concurrency") ?? "1,8").split(",").map(Number);
const OPS = (opt("ops") ?? "info,newer,put").split(",");
const OURS = !process.argv.includes("--no-ours");
const RUNGS = ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r6n", "r7"];
/** The rung each one adds its step to (r6n is a variant of r6, r7 builds on r6). */
const BELOW = { r1: "r0", r2: "r1", r3: "r2", r4: "r3", r5: "r4", r6: "r5", r6n: "r5", r7: "r6", ours: "r7" };
const STEP = {
  r0: "floor: stub.fetch, 1 SELECT, JSON.stringify",
  r1: "+ Hono app (3 pass-through middlewares)",
  r2: "+ typed RPC, Response built in the Worker",
  r3: "+ 2nd SQL statement (access record)",
  r4: "+ Weave/CORS headers, X-Request-Id (randomUUID)",
  r5: "+ AsyncLocalStorage scope",
  r6: "+ Hawk, crypto.subtle HMAC-SHA256",
  r6n: "(r5 + Hawk, node:crypto createHmac)",
  r7: "+ body/query parsed and validated in the Worker",
  ours: "our Worker (Storage 1.5)",
};
/** The scratch Worker's token (same as in bench/ladder/worker.js). */
const LADDER_TOKEN = { id: "x".repeat(40) + "." + "y".repeat(200) + "." + "z".repeat(43), key: "ladder-hawk-key-0123456789abcdefghij" };
const TMP = mkdtempSync(path.join(os.tmpdir(), "weave-ladder-"));
const log = (...a) => console.error("[ladder]", ...a);

function bundle(key, root, config) {
  return bundleWorker(root, path.join(TMP, `bundle-${key}`), { config });
}

async function call(url, method, p, headers, body, want = 200) {
  const r = await fetch(new URL(p, url), { method, headers, body });
  const text = await r.text();
  if (r.status !== want) throw new Error(`${method} ${new URL(p, url)}: ${r.status} ${text.slice(0, 200)}`);
  return text;
}

const FXA = fxaSigner("ladder-1", "ladder");
const VARS_15 = { SYNC_MASTER_SECRET: "ladder-master-secret-0123456789", FXA_OAUTH_JWKS: JSON.stringify({ keys: [FXA.jwk] }), HAWK_NONCE_CHECK: "true" };
const b64url = (b) => Buffer.from(b).toString("base64url");

/** One target: a rung of the ladder or our Worker, with its three requests. */
function target(name, server, cred, prefix) {
  const u = new URL(server.url);
  const hawk = (method, p) => hawkHeader(cred, method, p, u.hostname, u.port || "80");
  const req = (method, p, body) =>
    call(server.url, method, p, { authorization: hawk(method, p), ...(body ? { "content-type": "application/json" } : {}) }, body);
  // Our Worker's paths have the protocol's `storage/` and `info/collections`; the scratch Worker's are shorter.
  const coll = (c) => `${prefix}/${name === "ours" ? "storage/" : ""}${c}`;
  const info = name === "ours" ? `${prefix}/info/collections` : `${prefix}/info`;
  return {
    name,
    server,
    ops: {
      info: () => req("GET", info),
      newer: () => req("GET", `${coll("bookmarks")}?full=1&newer=${server.since}`),
      put: (k) => req("PUT", coll(`clients/${recordId("c", k % 100)}`), putBody(k)),
    },
  };
}

const servers = {};
try {
  const ladderScript = bundle("ladder", ROOT, path.join(BENCH, "ladder", "wrangler.toml"));
  servers.ladder = await startServe(path.join(BENCH, "serve.mjs"), {
    config: path.join(BENCH, "ladder", "wrangler.toml"), script: ladderScript, vars: {}, persist: path.join(TMP, "data-ladder"), migrations: null,
  });
  const targets = [];
  const payload = makePayload(500);
  for (const r of RUNGS) {
    await call(servers.ladder.url, "POST", `/${r}/lad/seed?n=20`, { "content-type": "application/json" }, payload);
    targets.push(target(r, servers.ladder, LADDER_TOKEN, `/${r}/lad`));
  }
  servers.ladder.since = (Date.now() / 1000 + 1).toFixed(2);
  if (OURS) {
    const config = ["wrangler.jsonc", "wrangler.json", "wrangler.toml"].map((f) => path.join(ROOT, f)).find(existsSync);
    servers.ours = await startServe(path.join(BENCH, "serve.mjs"), {
      config, script: bundle("ours", ROOT), persist: path.join(TMP, "data-ours"), migrations: path.join(ROOT, "migrations"),
      vars: { STRICT_USERNAMES: "false", USE_QUOTA: "false", REGISTRATION: "open", ...VARS_15 },
    });
    const sub = createHash("sha256").update("ladder").digest("hex").slice(0, 32);
    const keyid = `1700000000000-${b64url(createHash("sha256").update("kBladder").digest().subarray(0, 16))}`;
    const tr = await fetch(new URL("/1.0/sync/1.5", servers.ours.url), { headers: { authorization: `Bearer ${FXA.token(sub)}`, "x-keyid": keyid } });
    if (tr.status !== 200) throw new Error(`token: ${tr.status} ${await tr.text()}`);
    const tok = await tr.json();
    const t = target("ours", servers.ours, tok, `/1.5/${tok.uid}`);
    const u = new URL(servers.ours.url);
    const p = `/1.5/${tok.uid}/storage/bookmarks`;
    const body = JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ id: recordId("b", i), sortindex: i, payload: makePayload(500) })));
    await call(servers.ours.url, "POST", p, { authorization: hawkHeader(tok, "POST", p, u.hostname, u.port || "80"), "content-type": "application/json" }, body);
    servers.ours.since = (Date.now() / 1000 + 1).toFixed(2);
    targets.push(t);
  }
  log(`serving ${targets.length} targets; load ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);

  for (const conc of CONCS) {
    const n = PER;
    const cpu = Object.fromEntries(OPS.map((o) => [o, Object.fromEntries(targets.map((t) => [t.name, 0]))]));
    let k = 0;
    const send = async (t, op, count) => {
      let next = 0;
      const client = async () => {
        while (next++ < count) await t.ops[op](k++);
      };
      await Promise.all(Array.from({ length: conc }, client));
    };
    for (const t of targets) for (const op of OPS) await send(t, op, Math.ceil(n / 4)); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? targets : [...targets].reverse();
      for (const op of OPS) {
        for (const t of order) {
          const a = cpuSample(t.server.child.pid);
          await send(t, op, n);
          cpu[op][t.name] += cpuDelta(a, cpuSample(t.server.child.pid)).workerd;
        }
      }
    }
    const ms = (op, name) => (cpu[op][name] * 1000) / (ROUNDS * n);
    console.log(`\nworkerd CPU per request, concurrency ${conc} (${ROUNDS} interleaved rounds of ${n} per rung and request; load ${os.loadavg().map((x) => x.toFixed(1)).join(" ")})`);
    console.table(
      targets.map((t) => {
        const row = { rung: t.name, step: STEP[t.name] };
        for (const op of OPS) {
          row[`${op} ms`] = ms(op, t.name).toFixed(3);
          row[`${op} +µs`] = BELOW[t.name] ? Math.round(1000 * (ms(op, t.name) - ms(op, BELOW[t.name]))) : "";
        }
        return row;
      }),
    );
    const top = OURS ? "ours" : "r7";
    for (const op of OPS) {
      const steps = 1000 * (ms(op, "r7") - ms(op, "r0"));
      const gap = 1000 * (ms(op, top) - ms(op, "r0"));
      console.log(`${op}: ${top} − r0 = ${Math.round(gap)} µs; r1…r7 add up to ${Math.round(steps)} µs (${((100 * steps) / gap).toFixed(0)} %); ${top} ÷ r0 = ${(ms(op, top) / ms(op, "r0")).toFixed(2)}, r7 ÷ r0 = ${(ms(op, "r7") / ms(op, "r0")).toFixed(2)}`);
    }
  }
} finally {
  await stopAll();
}
