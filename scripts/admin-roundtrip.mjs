// Export → import round trip between two servers through the admin CLI, with
// peak memory: the CLI's own (process.resourceUsage().maxRSS, reported by
// ADMIN_REPORT_RSS=1) and the servers' workerd processes (VmRSS sampled
// every 100 ms from /proc). Used by test/e2e/admin.e2e.mjs and, standalone,
// to measure 1k / 10k / 100k records:
//
//   npx node scripts/admin-roundtrip.mjs 1000 10000 100000
//
// Starts two fresh `wrangler dev` servers itself when run standalone.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const CLI = join(process.cwd(), "scripts", "admin.mjs");

/** Runs the admin CLI; resolves { code, stdout, stderr, maxRssKb }. */
export function cli(args, { url, token, env = {} } = {}) {
  return new Promise((resolve) => {
    // The same V8 flags as `npm run admin` (package.json).
    const full = ["--max-semi-space-size=2", "--max-old-space-size=256", CLI, ...args];
    if (url) full.push("--url", url);
    if (token) full.push("--token", token);
    execFile(process.execPath, full, { env: { ...process.env, ADMIN_REPORT_RSS: "1", ...env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const m = /maxrss_kb=(\d+)/.exec(stderr);
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr, maxRssKb: m ? Number(m[1]) : null });
    });
  });
}

/** Peak VmRSS (kB) of the workerd processes in a wrangler dev process group while `fn` runs. */
export async function peakServerRss(pgid, fn) {
  const pids = () => {
    const out = [];
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (Number(fields[2]) === pgid && stat.includes("(workerd)")) out.push(d);
      } catch {
        /* gone */
      }
    }
    return out;
  };
  const rss = () => {
    let total = 0;
    for (const p of pids()) {
      try {
        const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
        if (m) total += Number(m[1]);
      } catch {
        /* gone */
      }
    }
    return total;
  };
  let peak = rss();
  const start = peak;
  const timer = setInterval(() => (peak = Math.max(peak, rss())), 100);
  try {
    const value = await fn();
    peak = Math.max(peak, rss());
    return { value, peakKb: peak, startKb: start };
  } finally {
    clearInterval(timer);
  }
}

/**
 * Writes an export file for `head` (header, account, store lines of a real
 * export) with `n` generated records in two collections: payloads of
 * 200-600 characters (some non-ASCII), sortindexes, some expiries and
 * parent ids, increasing modified times.
 */
export async function writeGenerated(path, headLines, n) {
  const out = createWriteStream(path);
  const write = (s) => (out.write(s) ? null : new Promise((r) => out.once("drain", r)));
  const t0 = 1_700_000_000_000;
  await write(`${headLines.slice(0, 3).join("\n")}\n`);
  await write(`${JSON.stringify({ type: "collection", name: "bookmarks", modified: 0 })}\n`);
  await write(`${JSON.stringify({ type: "collection", name: "history", modified: 0 })}\n`);
  for (let i = 0; i < n; i++) {
    const collection = i % 3 === 0 ? "bookmarks" : "history";
    const len = 200 + (i % 400);
    const payload = JSON.stringify({ ciphertext: randomBytes(Math.ceil((len * 3) / 4)).toString("base64").slice(0, len), IV: "é✓", hmac: String(i) });
    const rec = {
      type: "record",
      collection,
      id: `r${i.toString(36).padStart(6, "0")}`,
      modified: t0 + i * 10,
      sortindex: i % 7 === 0 ? null : i % 1000,
      expiry: i % 11 === 0 ? t0 + 10 * 365 * 86400_000 : null,
      payload,
      parentid: i % 5 === 0 ? `p${i % 13}` : null,
      predecessorid: null,
    };
    const p = write(`${JSON.stringify(rec)}\n`);
    if (p) await p;
  }
  await write(`${JSON.stringify({ type: "end", collections: 2, records: n })}\n`);
  await new Promise((r) => out.end(r));
}

/** The lines of a file without the header's export time (everything else must match byte for byte). */
export async function comparableLines(path) {
  const lines = [];
  const rl = createInterface({ input: createReadStream(path, "utf8"), crlfDelay: Infinity });
  for await (const line of rl) lines.push(lines.length === 0 ? line.replace(/"exported_at":\d+,/, "") : line);
  return lines;
}

export async function firstLines(path, k) {
  const lines = [];
  const rl = createInterface({ input: createReadStream(path, "utf8"), crlfDelay: Infinity });
  for await (const line of rl) {
    lines.push(line);
    if (lines.length === k) break;
  }
  rl.close();
  return lines;
}

/**
 * One round trip of `n` generated records for the 1.1 account `username`
 * (already registered on A): import the generated file into A, export from
 * A, import that into B, export from B; the two exports must be identical
 * (apart from the export time) and their records identical to the generated
 * ones. Returns the measurements.
 */
export async function roundTrip({ a, b, token, username, n, dir = mkdtempSync(join(tmpdir(), "weave-rt-")) }) {
  const small = join(dir, "head.ndjson");
  const r0 = await cli(["export", `acct:${username}`, "--out", small], { url: a.baseUrl, token });
  if (r0.code !== 0) throw new Error(`export head: ${r0.stderr}`);
  const head = await firstLines(small, 3);
  const gen = join(dir, `gen-${n}.ndjson`);
  await writeGenerated(gen, head, n);
  const seed = await cli(["import", gen, "--replace"], { url: a.baseUrl, token });
  if (seed.code !== 0) throw new Error(`seed import: ${seed.stderr}`);

  const fileA = join(dir, `a-${n}.ndjson`);
  const exp = await peakServerRss(a.pid, () => cli(["export", `acct:${username}`, "--out", fileA], { url: a.baseUrl, token }));
  if (exp.value.code !== 0) throw new Error(`export A: ${exp.value.stderr}`);
  const imp = await peakServerRss(b.pid, () => cli(["import", fileA, "--replace"], { url: b.baseUrl, token }));
  if (imp.value.code !== 0) throw new Error(`import B: ${imp.value.stderr}`);
  const fileB = join(dir, `b-${n}.ndjson`);
  const r2 = await cli(["export", `acct:${username}`, "--out", fileB], { url: b.baseUrl, token });
  if (r2.code !== 0) throw new Error(`export B: ${r2.stderr}`);

  const la = await comparableLines(fileA);
  const lb = await comparableLines(fileB);
  const lg = await comparableLines(gen);
  if (la.length !== n + 6) throw new Error(`export of A has ${la.length} lines, expected ${n + 6}`);
  for (let i = 0; i < la.length; i++) {
    if (la[i] !== lb[i]) throw new Error(`line ${i + 1} differs between A and B:\n${la[i]}\n${lb[i]}`);
  }
  // Records exactly as generated (same key order as the server writes them).
  for (let i = 5; i < n + 5; i++) {
    if (la[i] !== lg[i]) throw new Error(`record line ${i + 1} differs from the generated file:\n${lg[i]}\n${la[i]}`);
  }
  return {
    n,
    fileBytes: readFileSync(fileA).length,
    cliExportRssKb: exp.value.maxRssKb,
    cliImportRssKb: imp.value.maxRssKb,
    serverExportPeakKb: exp.peakKb,
    serverExportStartKb: exp.startKb,
    serverImportPeakKb: imp.peakKb,
    serverImportStartKb: imp.startKb,
  };
}

// ------------------------------------------------------------------ standalone measurement
if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0);
  const { startWranglerDev } = await import("../test/e2e/harness.mjs");
  const token = `measure-${randomBytes(12).toString("hex")}`;
  const vars = { ADMIN_TOKEN: token, SYNC_MASTER_SECRET: "measure-master-secret-0123456789", USE_QUOTA: "false", THROTTLE: "false" };
  const a = await startWranglerDev({ vars });
  const b = await startWranglerDev({ vars });
  try {
    const { Client11 } = await import("../test/e2e/client11.mjs");
    const rows = [];
    for (const n of sizes.length ? sizes : [1000, 10000, 100000]) {
      const c = new Client11(a.baseUrl);
      await c.register();
      const t = Date.now();
      const r = await roundTrip({ a, b, token, username: c.username, n });
      r.seconds = (Date.now() - t) / 1000;
      rows.push(r);
      console.log(JSON.stringify(r));
    }
    console.log("\nrecords | file | CLI export peak RSS | CLI import peak RSS | server (workerd) during export: start→peak | during import: start→peak");
    for (const r of rows) {
      const mb = (kb) => `${(kb / 1024).toFixed(0)} MiB`;
      console.log(
        `${r.n} | ${(r.fileBytes / 1048576).toFixed(1)} MiB | ${mb(r.cliExportRssKb)} | ${mb(r.cliImportRssKb)} | ${mb(r.serverExportStartKb)}→${mb(r.serverExportPeakKb)} | ${mb(r.serverImportStartKb)}→${mb(r.serverImportPeakKb)}`,
      );
    }
  } finally {
    a.stop();
    b.stop();
  }
}
