/**
 * @module bench/layouts
 * `npx node bench/layouts.mjs [--layouts=pkmod,bymod,append,rowid,pkonly] [--sizes=1000,100000] [--rounds=6] [--n=20] [--no-trace]`:
 * candidate layouts of the records table measured on the platform alone
 * (bench/layouts/worker.js: no auth, no protocol, only the SQL of the two
 * scale operations), to pick a layout by numbers. Serves the scratch Worker
 * directly (bench/serve.mjs), seeds one store per layout and size, prints
 * what this runtime answers to cache pragmas, then:
 * 1. system calls per request (`strace -f -c` on workerd): the incremental
 *    read of the seeding's last 100 records, repeated, and POSTs of 100
 *    records scattered over the store's ids;
 * 2. workerd CPU ms per request in interleaved rounds (every layout and size
 *    in each round): the read of the seeding's last 100 records, a scattered
 *    POST of 100, and the read of what that POST wrote (100 scattered ids);
 *    and each at the largest size ÷ the smallest.
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makePayload, recordId, recordsBody } from "./lib/ops.mjs";
import { cpuDelta, cpuSample, processTree, startServe, stopAll } from "./lib/procs.mjs";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const opt = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const LAYOUTS = (opt("layouts") ?? "pkmod,bymod,append,rowid,pkonly").split(",");
const SIZES = (opt("sizes") ?? "1000,100000").split(",").map(Number);
const ROUNDS = Number(opt("rounds") ?? 6);
const N = Number(opt("n") ?? 20);
const TRACE = !process.argv.includes("--no-trace");
/** `--listings`: instead, whole listings (`all`: first-insertion order, `newest`) of each store, CPU only (use --sizes=5000). */
const LISTINGS = process.argv.includes("--listings");
const TMP = mkdtempSync(path.join(os.tmpdir(), "weave-layouts-"));
const log = (...a) => console.error("[layouts]", ...a);

const { child: server, url } = await startServe(path.join(BENCH, "serve.mjs"), {
  config: path.join(BENCH, "layouts", "wrangler.toml"), script: path.join(BENCH, "layouts", "worker.js"), vars: {}, persist: path.join(TMP, "data"), migrations: null,
});

async function call(method, p, body) {
  const r = await fetch(new URL(p, url), { method, body, headers: body ? { "content-type": "application/json" } : {} });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${method} ${p}: ${r.status} ${text.slice(0, 300)}`);
  return text;
}

const stores = [];
let k = 0;
const scattered = (s) => {
  const stride = Math.max(1, Math.floor(s.size / 100));
  const base = (k++ * 7919) % s.size;
  return recordsBody(100, (j) => recordId("h", (base + j * stride) % s.size));
};
const ops = {
  "read seeded 100": (s) => call("GET", `${s.name}/newer?t=${s.before}`),
  "POST 100 scattered": async (s) => {
    s.lastPost = JSON.parse(await call("POST", `${s.name}/post`, scattered(s))).modified * 1000 - 10;
  },
  "read scattered 100": (s) => call("GET", `${s.name}/newer?t=${s.lastPost}`),
};

async function traced(fn) {
  const pids = processTree(server.pid).filter((p) => p.comm.startsWith("workerd")).map((p) => p.pid);
  const trace = spawn("strace", ["-f", "-c", "-e", "trace=pwrite64,pread64,fdatasync,fsync", ...pids.flatMap((p) => ["-p", String(p)])], { stdio: ["ignore", "ignore", "pipe"] });
  let out = "";
  trace.stderr.on("data", (d) => (out += d));
  await new Promise((r) => setTimeout(r, 800));
  await fn();
  trace.kill("SIGINT");
  await new Promise((r) => trace.on("exit", r));
  const calls = {};
  for (const line of out.split("\n")) {
    const m = line.trim().split(/\s+/);
    if (m.length >= 5 && /^(pwrite64|pread64|fdatasync|fsync)$/.test(m[m.length - 1])) calls[m[m.length - 1]] = Number(m[3]);
  }
  return calls;
}

try {
  console.log("pragmas in a SQLite Durable Object:", await call("GET", "pkmod-probe/pragmas"));
  const payload = JSON.parse(JSON.stringify(makePayload(500)));
  for (const layout of LAYOUTS) {
    for (const size of SIZES) {
      const name = `${layout}-${size}`;
      const t0 = Date.now();
      const { before } = JSON.parse(await call("POST", `${name}/seed?n=${size}`, payload));
      const s = { layout, size, name, before };
      const got = JSON.parse(await ops["read seeded 100"](s));
      if (got.length !== 100) throw new Error(`${name}: seeded read returned ${got.length}`);
      s.stats = JSON.parse(await call("GET", `${name}/stats`));
      stores.push(s);
      log(`${name} seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${(s.stats.size / 1e6).toFixed(1)} MB`);
    }
  }
  const traceRows = [];
  async function traceOps(opNames) {
    if (!TRACE) return;
    for (const s of stores) {
      for (const op of opNames) {
        await ops[op](s);
        const c = await traced(async () => {
          for (let i = 0; i < N; i++) await ops[op](s);
        });
        traceRows.push({ layout: s.layout, size: s.size, op, pread64: ((c.pread64 ?? 0) / N).toFixed(1), pwrite64: ((c.pwrite64 ?? 0) / N).toFixed(1), fsyncs: (((c.fdatasync ?? 0) + (c.fsync ?? 0)) / N).toFixed(2) });
      }
    }
  }
  const cpu = new Map();
  async function cpuRounds(opNames) {
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? stores : [...stores].reverse();
      for (const s of order) {
        for (const op of opNames) {
          // The scattered read reads what the POST before it wrote (one POST per N reads, outside the CPU sample).
          if (op === "read scattered 100") await ops["POST 100 scattered"](s);
          const a = cpuSample(server.pid);
          for (let i = 0; i < N; i++) await ops[op](s);
          const d = cpuDelta(a, cpuSample(server.pid)).workerd;
          const key = `${s.layout}|${s.size}|${op}`;
          cpu.set(key, (cpu.get(key) ?? 0) + d);
        }
      }
    }
  }
  if (LISTINGS) {
    ops["GET all, first insertion order"] = (s) => call("GET", `${s.name}/all`);
    ops["GET all, newest first"] = (s) => call("GET", `${s.name}/newest`);
    await cpuRounds(["GET all, first insertion order", "GET all, newest first"]);
    const rows = stores.map((s) => ({ layout: s.layout, size: s.size, ...Object.fromEntries(["GET all, first insertion order", "GET all, newest first"].map((op) => [op, ((cpu.get(`${s.layout}|${s.size}|${op}`) * 1000) / (ROUNDS * N)).toFixed(2)])) }));
    console.log(`workerd CPU ms per listing (${ROUNDS} interleaved rounds of ${N})`);
    console.table(rows);
    await stopAll();
    process.exit(0);
  }
  // The seeded read first: a scattered POST makes the records it writes newer too.
  await traceOps(["read seeded 100"]);
  await cpuRounds(["read seeded 100"]);
  // Warm: the first POSTs after seeding pay for checkpoints of the seeding.
  for (const s of stores) for (let i = 0; i < 5; i++) await ops["POST 100 scattered"](s);
  await traceOps(["POST 100 scattered", "read scattered 100"]);
  await cpuRounds(["POST 100 scattered", "read scattered 100"]);
  if (TRACE) {
    console.log("system calls per request:");
    console.table(traceRows);
  }
  const table = [];
  const small = Math.min(...SIZES);
  const big = Math.max(...SIZES);
  for (const layout of LAYOUTS) {
    for (const op of Object.keys(ops)) {
      const ms = (size) => ((cpu.get(`${layout}|${size}|${op}`) ?? 0) * 1000) / (ROUNDS * N);
      const row = { layout, op };
      for (const size of SIZES) row[`@${size}`] = ms(size).toFixed(2);
      row[`${big}÷${small}`] = (ms(big) / ms(small)).toFixed(2);
      const st = stores.find((s) => s.layout === layout && s.size === big);
      row[`MB @${big}`] = (st.stats.size / 1e6).toFixed(1);
      table.push(row);
    }
  }
  console.log(`workerd CPU ms per request (${ROUNDS} interleaved rounds of ${N})`);
  console.table(table);
} finally {
  await stopAll();
}
