/**
 * @module bench/pages
 * `npx node bench/pages.mjs [--root=DIR] [--sizes=1000,100000] [--posts=20] [--ops=read,post] [--no-trace [--rounds=6]]`:
 * what the bench's two scale operations cost the storage in system calls,
 * counted rather than timed (so the machine's load does not move it).
 * Bundles the Worker of ROOT (default: this checkout), serves it directly
 * (bench/serve.mjs), seeds one user per size with that many history records
 * (the last 100 in a POST of their own), then runs `strace -f -c` on the
 * workerd processes while it sends `--posts` requests of each op:
 * - `post`: POSTs of 100 records scattered over the user's ids (as the
 *   bench's scale group does);
 * - `read`: the same incremental read repeated (`full=1&newer=` the
 *   timestamp before the last seeding POST: its 100 records), which shows
 *   whether SQLite's page cache keeps pages from one request to the next
 *   (a repeated read that finds them cached makes no `pread64`).
 * Prints per request the `pwrite64` calls (pages written to the WAL),
 * `pread64` calls (pages read that SQLite's cache did not hold),
 * `fdatasync`/`fsync` calls, and the workerd CPU ms (under strace: inflated,
 * compare only within one run). `--files`: those calls per request by file
 * instead (which database, its WAL or the main file). Needs strace and
 * ptrace rights. `--no-trace [--rounds=6]`: no strace; instead workerd CPU ms
 * per request in interleaved rounds (the sizes alternate), and each size ÷
 * the smallest: the scale ratios of the bench, steadier on a shared machine.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { basicAuth, recordId, recordsBody } from "./lib/ops.mjs";
import { bundleWorker, cpuDelta, cpuSample, processTree, startServe, stopAll } from "./lib/procs.mjs";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const opt = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const ROOT = path.resolve(opt("root") ?? path.dirname(BENCH));
const SIZES = (opt("sizes") ?? "1000,100000").split(",").map(Number);
const POSTS = Number(opt("posts") ?? 20);
const OPS = (opt("ops") ?? "read,post").split(",");
const FILES = process.argv.includes("--files");
const TRACE = !process.argv.includes("--no-trace");
const ROUNDS = Number(opt("rounds") ?? 6);
const TMP = mkdtempSync(path.join(os.tmpdir(), "weave-pages-"));
const log = (...a) => console.error("[pages]", ...a);

const script = bundleWorker(ROOT, path.join(TMP, "bundle"));
const config = ["wrangler.jsonc", "wrangler.json", "wrangler.toml"].map((f) => path.join(ROOT, f)).find(existsSync);
const vars = { STRICT_USERNAMES: "false", USE_QUOTA: "false", REGISTRATION: "open" };
const { child: server, url } = await startServe(path.join(BENCH, "serve.mjs"), {
  config, script, vars, persist: path.join(TMP, "data"), migrations: path.join(ROOT, "migrations"),
});

async function call(method, p, headers, body) {
  const r = await fetch(new URL(p, url), { method, headers, body });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${method} ${p}: ${r.status} ${text.slice(0, 200)}`);
  return text;
}

/** System calls (and workerd CPU, inflated by strace) per request of `send`, run `POSTS` times. */
async function traced(label, size, send) {
  const pids = processTree(server.pid).filter((p) => p.comm.startsWith("workerd")).map((p) => p.pid);
  // -c: counts per call; --files: every call with its file, summed per file below.
  const mode = FILES ? ["-y", "-qq", "-e", "trace=pwrite64,pread64"] : ["-c", "-e", "trace=pwrite64,pread64,fdatasync,fsync,write"];
  const trace = spawn("strace", ["-f", ...mode, ...pids.flatMap((p) => ["-p", String(p)])], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let summary = "";
  trace.stderr.on("data", (d) => (summary += d));
  await new Promise((r) => setTimeout(r, 1000));
  const cpu0 = cpuSample(server.pid);
  for (let k = 0; k < POSTS; k++) await send(k);
  const cpu = cpuDelta(cpu0, cpuSample(server.pid)).workerd;
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
    for (const [k, n] of [...perFile].sort((a, b) => b[1] - a[1])) console.log(`${label}\t${size}\t${(n / POSTS).toFixed(1)}\t${k}`);
  }
  const calls = {};
  for (const line of summary.split("\n")) {
    const m = line.trim().split(/\s+/);
    if (m.length >= 5 && /^(pwrite64|pread64|fdatasync|fsync|write)$/.test(m[m.length - 1])) calls[m[m.length - 1]] = Number(m[3]);
  }
  const per = (k) => ((calls[k] ?? 0) / POSTS).toFixed(1);
  return {
    op: label,
    size,
    pwrite64: per("pwrite64"),
    pread64: per("pread64"),
    fsyncs: ((calls.fdatasync ?? 0) / POSTS + (calls.fsync ?? 0) / POSTS).toFixed(2),
    "cpu ms (strace)": ((cpu * 1000) / POSTS).toFixed(2),
  };
}

/** Without strace: workerd CPU per request of `op` on every user, in `ROUNDS` interleaved rounds (sizes alternate). */
async function cpuRounds(label, op) {
  const total = new Map();
  for (let r = 0; r < ROUNDS; r++) {
    for (const u of r % 2 === 0 ? users : [...users].reverse()) {
      await op(u, r * POSTS);
      const cpu0 = cpuSample(server.pid);
      for (let k = 1; k <= POSTS; k++) await op(u, r * POSTS + k);
      total.set(u.size, (total.get(u.size) ?? 0) + cpuDelta(cpu0, cpuSample(server.pid)).workerd);
    }
  }
  const ms = (size) => ((total.get(size) ?? 0) * 1000) / (ROUNDS * POSTS);
  const small = Math.min(...SIZES);
  return SIZES.map((size) => ({ op: label, size, "cpu ms": ms(size).toFixed(2), [`÷ ${small}`]: (ms(size) / ms(small)).toFixed(2) }));
}

const results = [];
const users = [];
try {
  for (const size of SIZES) {
    const user = { name: `pages_${size}`, password: "bench-password-1" };
    await call("PUT", `user/1.0/${user.name}`, { "content-type": "application/json" }, JSON.stringify({ password: user.password, email: `${user.name}@example.com` }));
    const headers = { authorization: basicAuth(user.name, user.password), "content-type": "application/json" };
    const post = (ids) => call("POST", `1.1/${user.name}/storage/history`, headers, recordsBody(100, ids));
    const bulk = size - 100;
    for (let s = 0; s < bulk; s += 400) {
      await Promise.all([0, 100, 200, 300].filter((o) => s + o < bulk).map((o) => post((j) => recordId("h", s + o + j))));
    }
    // The incremental read returns the last seeding POST's records: those newer than the collection before it.
    const newer = JSON.parse(await call("GET", `1.1/${user.name}/info/collections`, headers)).history;
    await post((j) => recordId("h", bulk + j));
    const read = () => call("GET", `1.1/${user.name}/storage/history?full=1&newer=${newer}`, headers);
    const got = JSON.parse(await read());
    if (got.length !== 100) throw new Error(`incremental read returned ${got.length} records, not 100`);
    const scattered = (k) => post((j) => recordId("h", (k * 37 + j * Math.max(1, Math.floor(size / 100))) % size));
    users.push({ size, read, scattered });
    log(`${size}: seeded`);
  }
  // The read first: a scattered POST makes the records it writes newer too.
  if (OPS.includes("read")) {
    if (TRACE) {
      for (const u of users) {
        await u.read();
        results.push(await traced("incremental read (repeated)", u.size, () => u.read()));
      }
    } else results.push(...(await cpuRounds("incremental read (repeated)", (u) => u.read())));
  }
  if (OPS.includes("post")) {
    // Warm: the first POSTs after seeding pay for checkpoints of the seeding.
    for (const u of users) for (let k = 0; k < 5; k++) await u.scattered(k);
    if (TRACE) for (const u of users) results.push(await traced("POST 100 scattered", u.size, (k) => u.scattered(100 + k)));
    else results.push(...(await cpuRounds("POST 100 scattered", (u, k) => u.scattered(100 + k))));
  }
  console.log(`root: ${ROOT}\nper request (${TRACE ? `${POSTS} of each` : `${ROUNDS} interleaved rounds of ${POSTS}`}), Storage 1.1:`);
  console.table(results);
} finally {
  await stopAll();
}
