/**
 * @module bench/pages
 * `npx node bench/pages.mjs [--root=DIR] [--sizes=1000,100000] [--posts=20]`:
 * what one scattered Storage 1.1 POST of 100 records costs the storage in
 * system calls, counted rather than timed (so the machine's load does not
 * move it). Bundles the Worker of ROOT (default: this checkout), serves it
 * directly (bench/serve.mjs), seeds one user per size with that many history
 * records, then runs `strace -f -c` on the workerd processes while it sends
 * `--posts` POSTs of 100 records scattered over the user's ids (as the
 * bench's scale group does), and prints per POST the `pwrite64` calls (pages
 * written to the WAL), `pread64` calls (pages read that SQLite's cache did
 * not hold) and `fdatasync`/`fsync` calls. `--files`: those calls per POST
 * by file instead (which database, its WAL or the main file). `--floor`:
 * the same POSTs to the floor (bench/floor: one upsert per record and a
 * collections touch in one transactionSync), for comparison. Needs strace
 * and ptrace rights.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { basicAuth, recordId, recordsBody } from "./lib/ops.mjs";
import { processTree, spawnGroup, stopAll } from "./lib/procs.mjs";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const opt = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const ROOT = path.resolve(opt("root") ?? path.dirname(BENCH));
const SIZES = (opt("sizes") ?? "1000,100000").split(",").map(Number);
const POSTS = Number(opt("posts") ?? 20);
const FILES = process.argv.includes("--files");
const FLOOR = process.argv.includes("--floor");
const WORKER_ROOT = FLOOR ? path.join(BENCH, "floor") : ROOT;
const TMP = mkdtempSync(path.join(os.tmpdir(), "weave-pages-"));
const require = createRequire(import.meta.url);
const WRANGLER_JS = path.join(path.dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
const log = (...a) => console.error("[pages]", ...a);

const outdir = path.join(TMP, "bundle");
const built = spawnSync(process.execPath, [WRANGLER_JS, "deploy", "--dry-run", "--outdir", outdir], {
  cwd: WORKER_ROOT,
  encoding: "utf8",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" },
});
if (built.status !== 0) throw new Error(`bundle failed: ${(built.stderr || built.stdout).slice(-800)}`);
const script = path.join(outdir, readdirSync(outdir).find((f) => f.endsWith(".js")));
const config = ["wrangler.jsonc", "wrangler.json", "wrangler.toml"].map((f) => path.join(WORKER_ROOT, f)).find(existsSync);
const vars = { STRICT_USERNAMES: "false", USE_QUOTA: "false", REGISTRATION: "open" };
const server = spawnGroup(process.execPath, [
  path.join(BENCH, "serve.mjs"),
  JSON.stringify({ config, script, vars, persist: path.join(TMP, "data"), migrations: FLOOR ? null : path.join(ROOT, "migrations") }),
]);
const url = await new Promise((resolve, reject) => {
  let buf = "";
  server.stdout.on("data", (d) => {
    buf += d;
    const line = buf.split("\n").find((l) => l.startsWith("READY "));
    if (line) resolve(JSON.parse(line.slice(6)).url);
  });
  server.on("exit", (c) => reject(new Error(`server exited ${c}`)));
});

async function call(method, p, headers, body) {
  const r = await fetch(new URL(p, url), { method, headers, body });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${method} ${p}: ${r.status} ${text.slice(0, 200)}`);
  return text;
}

const results = [];
try {
  for (const size of SIZES) {
    const user = { name: `pages_${size}`, password: "bench-password-1" };
    if (!FLOOR) await call("PUT", `user/1.0/${user.name}`, { "content-type": "application/json" }, JSON.stringify({ password: user.password, email: `${user.name}@example.com` }));
    const headers = { authorization: basicAuth(user.name, user.password), "content-type": "application/json" };
    const post = (ids) => call("POST", FLOOR ? `${user.name}/history` : `1.1/${user.name}/storage/history`, headers, recordsBody(100, ids));
    for (let s = 0; s < size; s += 400) {
      await Promise.all([0, 100, 200, 300].filter((o) => s + o < size).map((o) => post((j) => recordId("h", s + o + j))));
    }
    // Warm: the first POSTs after seeding pay for checkpoints of the seeding.
    const scattered = (k) => post((j) => recordId("h", (k * 37 + j * Math.max(1, Math.floor(size / 100))) % size));
    for (let k = 0; k < 5; k++) await scattered(k);
    const pids = processTree(server.pid).filter((p) => p.comm.startsWith("workerd")).map((p) => p.pid);
    // -c: counts per call; --files: every call with its file, summed per file below.
    const mode = FILES ? ["-y", "-qq", "-e", "trace=pwrite64,pread64"] : ["-c", "-e", "trace=pwrite64,pread64,fdatasync,fsync,write"];
    const trace = spawn("strace", ["-f", ...mode, ...pids.flatMap((p) => ["-p", String(p)])], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let summary = "";
    trace.stderr.on("data", (d) => (summary += d));
    await new Promise((r) => setTimeout(r, 1000));
    for (let k = 0; k < POSTS; k++) await scattered(100 + k);
    trace.kill("SIGINT");
    await new Promise((r) => trace.on("exit", r));
    if (FILES) {
      const perFile = new Map();
      for (const line of summary.split("\n")) {
        const m = /(pwrite64|pread64)\(\d+<([^>]*)>/.exec(line);
        if (!m) continue;
        const key = `${m[1]} ${m[2].replace(TMP, "<tmp>")}`;
        perFile.set(key, (perFile.get(key) ?? 0) + 1);
      }
      for (const [k, n] of [...perFile].sort((a, b) => b[1] - a[1])) console.log(`${size}\t${(n / POSTS).toFixed(1)}\t${k}`);
    }
    const calls = {};
    for (const line of summary.split("\n")) {
      const m = line.trim().split(/\s+/);
      if (m.length >= 5 && /^(pwrite64|pread64|fdatasync|fsync|write)$/.test(m[m.length - 1])) calls[m[m.length - 1]] = Number(m[3]);
    }
    const per = (k) => ((calls[k] ?? 0) / POSTS).toFixed(1);
    results.push({ size, pwrite64: per("pwrite64"), pread64: per("pread64"), fsyncs: ((calls.fdatasync ?? 0) / POSTS + (calls.fsync ?? 0) / POSTS).toFixed(2) });
    log(`${size}: done`);
  }
  console.log(`root: ${WORKER_ROOT}\nper scattered POST of 100 records (${POSTS} POSTs), ${FLOOR ? "the floor" : "Storage 1.1"}:`);
  console.table(results);
} finally {
  await stopAll();
}
