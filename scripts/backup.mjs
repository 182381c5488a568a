/**
 * @module scripts/backup
 * Backups of a self-hosted data folder (`npm run serve`), README "Backups and restore".
 *
 *   npm run backup  -- --data ./data --out DIR
 *     A consistent online snapshot of every SQLite database under <data>/state
 *     (each Durable Object's, D1's, Miniflare's metadata), taken with SQLite's
 *     online backup API (node:sqlite `backup()`, all pages in one step, i.e. in
 *     one read transaction: a database is copied as of one commit, never half a
 *     transaction) while the server keeps running: in WAL mode a reader does not
 *     block the server's writers. Never a file copy of a live database.
 *     Durable Objects first, D1 last: an account (D1) is never missing for data
 *     (Durable Object) the snapshot holds, so a restored D1 can never hand a
 *     deleted or lost account id to a new account that would then see old data.
 *     Also copies config.env (the master secret), writes manifest.json with
 *     each file's size and SHA-256, and `PRAGMA quick_check`s every copy.
 *     DIR must not exist (or be empty); it is written as DIR.partial-<pid> and
 *     renamed when complete, mode 0700.
 *
 *   npm run restore -- --from DIR --data ./data [--replace-config]
 *     Puts a snapshot back while the server is stopped (refuses if a `serve`
 *     holds the folder). Verifies the manifest's checksums first. An existing
 *     <data>/state is moved aside to <data>/state.before-restore-<time>, never
 *     deleted. config.env is restored when the folder has none (or with
 *     --replace-config, the current one moved aside like the state).
 */
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { backup as sqliteBackup, DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const CONFIG_FILE = "config.env";
const STATE_DIR = "state";
const LOCK_FILE = "serve.pid";
const MANIFEST = "manifest.json";

const say = (msg) => process.stderr.write(`${msg}\n`);

/** Every SQLite database file under `dir` (relative paths), Durable Objects first and D1 last. */
export function sqliteFiles(dir) {
  const out = [];
  const walk = (rel) => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && e.name.endsWith(".sqlite")) out.push(r);
    }
  };
  if (existsSync(dir)) walk("");
  const kind = (f) => f.split(path.sep).find((part) => part === "do" || part === "d1");
  const rank = (f) => (kind(f) === "do" ? 0 : kind(f) === "d1" ? 2 : 1);
  return out.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

const sha256 = (file) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** `PRAGMA quick_check` of a copy; closing the only connection also folds its WAL back into the file. */
function quickCheck(file) {
  const db = new DatabaseSync(file);
  try {
    const rows = db.prepare("PRAGMA quick_check").all();
    return rows.length === 1 && rows[0].quick_check === "ok" ? null : rows.map((r) => r.quick_check).join("; ");
  } finally {
    db.close();
  }
}

/** The pid of a live `serve` holding `dataDir`, or null. */
function serverHolding(dataDir) {
  try {
    const pid = Number(readFileSync(path.join(dataDir, LOCK_FILE), "utf8").trim());
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("serve.mjs") ? pid : null;
  } catch {
    return null;
  }
}

/** Copies one live database as of one commit into `dest` (SQLite online backup). */
async function snapshot(src, dest) {
  let db;
  try {
    db = new DatabaseSync(src, { readOnly: true });
  } catch {
    db = new DatabaseSync(src); // a WAL database without its -shm file cannot be opened read-only
  }
  try {
    // rate -1: every page in one backup step, so one read transaction (and no restart when the server writes meanwhile)
    return await sqliteBackup(db, dest, { rate: -1 });
  } finally {
    db.close();
  }
}

export async function backup({ data, out }) {
  const dataDir = path.resolve(data);
  const outDir = path.resolve(out);
  const state = path.join(dataDir, STATE_DIR);
  if (!existsSync(state)) throw new Error(`${state} does not exist: is ${dataDir} a serve data folder?`);
  if (existsSync(outDir) && readdirSync(outDir).length) throw new Error(`${outDir} exists and is not empty`);
  const tmp = `${outDir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const t0 = Date.now();
  const files = [];
  try {
    for (const rel of sqliteFiles(state)) {
      const dest = path.join(tmp, STATE_DIR, rel);
      mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });
      const pages = await snapshot(path.join(state, rel), dest);
      const bad = quickCheck(dest);
      if (bad) throw new Error(`${rel}: the copy fails quick_check: ${bad}`);
      chmodSync(dest, 0o600);
      files.push({ path: path.join(STATE_DIR, rel), pages, bytes: statSync(dest).size, sha256: sha256(dest) });
    }
    if (existsSync(path.join(dataDir, CONFIG_FILE))) {
      copyFileSync(path.join(dataDir, CONFIG_FILE), path.join(tmp, CONFIG_FILE));
      chmodSync(path.join(tmp, CONFIG_FILE), 0o600);
    }
    const manifest = {
      format: "weave-edge-backup/1",
      createdAt: new Date(t0).toISOString(),
      source: dataDir,
      config: existsSync(path.join(tmp, CONFIG_FILE)),
      files,
    };
    writeFileSync(path.join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    if (existsSync(outDir)) rmSync(outDir, { recursive: true }); // empty, checked above
    renameSync(tmp, outDir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  say(`backup: ${files.length} databases (${(bytes / 1e6).toFixed(1)} MB) in ${outDir} (${Date.now() - t0} ms)`);
  return { files, outDir };
}

export async function restore({ from, data, replaceConfig = false }) {
  const src = path.resolve(from);
  const dataDir = path.resolve(data);
  const manifest = JSON.parse(readFileSync(path.join(src, MANIFEST), "utf8"));
  if (manifest.format !== "weave-edge-backup/1") throw new Error(`${src}: not a weave-edge backup (${manifest.format})`);
  const holder = serverHolding(dataDir);
  if (holder) throw new Error(`a server (pid ${holder}) is using ${dataDir}: stop it first`);
  for (const f of manifest.files) {
    const file = path.join(src, f.path);
    if (!existsSync(file) || sha256(file) !== f.sha256) throw new Error(`${file}: missing or changed since the backup (checksum)`);
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const state = path.join(dataDir, STATE_DIR);
  if (existsSync(state)) {
    renameSync(state, `${state}.before-restore-${stamp}`);
    say(`restore: moved the current state to ${path.basename(state)}.before-restore-${stamp}`);
  }
  const tmp = `${state}.restoring-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  for (const f of manifest.files) {
    const dest = path.join(tmp, path.relative(STATE_DIR, f.path));
    mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });
    copyFileSync(path.join(src, f.path), dest);
    chmodSync(dest, 0o600);
  }
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  renameSync(tmp, state);
  const conf = path.join(dataDir, CONFIG_FILE);
  if (manifest.config) {
    if (!existsSync(conf) || replaceConfig) {
      if (existsSync(conf)) renameSync(conf, `${conf}.before-restore-${stamp}`);
      copyFileSync(path.join(src, CONFIG_FILE), conf);
      chmodSync(conf, 0o600);
      say(`restore: config.env restored`);
    } else {
      say(`restore: kept the current config.env (--replace-config puts the backup's back)`);
    }
  }
  say(`restore: ${manifest.files.length} databases from ${src} (taken ${manifest.createdAt}) into ${dataDir}`);
}

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: { data: { type: "string" }, out: { type: "string" }, from: { type: "string" }, "replace-config": { type: "boolean" } },
  });
  const data = values.data ?? process.env.DATA_DIR ?? "data";
  if (cmd === "backup") {
    if (!values.out) throw new Error("usage: npm run backup -- --data ./data --out DIR");
    await backup({ data, out: values.out });
  } else if (cmd === "restore") {
    if (!values.from) throw new Error("usage: npm run restore -- --from DIR --data ./data [--replace-config]");
    await restore({ from: values.from, data, replaceConfig: values["replace-config"] });
  } else {
    throw new Error("usage: node scripts/backup.mjs backup|restore ...");
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    say(`${process.argv[2] ?? "backup"}: ${err?.message ?? err}`);
    process.exit(1);
  });
}
