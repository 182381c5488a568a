/**
 * @module scripts/serve
 * `npm run serve -- --port 8080 --data ./data`: production on your own machine,
 * without Cloudflare. Runs the built Worker (dist/, from `npm run build`) on
 * workerd through the Miniflare API: clients talk to workerd's own socket (no
 * dev proxy, no file watching); every Durable Object's and D1's SQLite file
 * lives under `<data>/state/v3/` (wrangler's `--persist-to <data>/state` layout).
 *
 * On start it
 *  - refuses to start when another `serve` holds the same data folder,
 *  - creates `<data>/config.env` (mode 0600) with a random SYNC_MASTER_SECRET
 *    on first start, and reads it: its NAME=value lines override
 *    wrangler.toml [vars] (secrets go there too); WEAVE_ADMIN_TOKEN_ONCE in
 *    the environment sets ADMIN_TOKEN for this run only (how
 *    `npm run admin -- import FILE --data DIR` runs its own server),
 *  - builds dist/ when it is missing or older than the sources,
 *  - applies pending D1 migrations (recorded in `d1_migrations`, the table
 *    `wrangler d1 migrations apply` uses),
 *  - prints `READY <json>` on stdout once requests are answered.
 * SIGTERM / SIGINT: workerd stops accepting connections, finishes the requests
 * in flight (at most --drain-seconds), then everything exits. Worker log lines
 * go to stdout (warnings and errors to stderr).
 *
 * Options: --port N (default $PORT or 8080), --host ADDR (default $HOST or
 * 127.0.0.1; 0.0.0.0 in a container), --data DIR (default $DATA_DIR or ./data),
 * --drain-seconds N (default 25), --build (rebuild dist/ first), --no-build
 * (never build; fail if dist/ is missing), --script FILE (serve this bundle
 * instead of dist/; the benchmark passes the one it built).
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const REPO = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);

/** The config file inside the data folder; exported for backup/restore and tests. */
export const CONFIG_FILE = "config.env";
/** Where Miniflare keeps the SQLite files (v3/d1/, v3/do/) inside the data folder: wrangler's --persist-to layout. */
export const STATE_DIR = "state";
const LOCK_FILE = "serve.pid";
const DIST = path.join(REPO, "dist");

const say = (msg) => process.stderr.write(`serve: ${msg}\n`);

// ---------------------------------------------------------------- config file

const CONFIG_TEMPLATE = (secret) => `# weave-edge settings for \`npm run serve\` (README "Running on your own machine").
# One NAME=value per line; each overrides the same name in wrangler.toml [vars].
# Secrets belong here too. Keep this file private (mode 0600); back it up with the data.
SYNC_MASTER_SECRET=${secret}
# PUBLIC_URL=https://sync.example.com
# TRUST_FORWARDED_HOST=true
# REGISTRATION=closed
`;

/**
 * Reads `<data>/config.env`: created with a random master secret when absent;
 * one is appended when the file has no SYNC_MASTER_SECRET line at all.
 * Returns { vars, created }. Throws with the line number on a malformed line.
 */
export function loadConfig(dataDir) {
  const file = path.join(dataDir, CONFIG_FILE);
  let created = false;
  if (!existsSync(file)) {
    writeFileSync(file, CONFIG_TEMPLATE(randomBytes(32).toString("hex")), { mode: 0o600, flag: "wx" });
    chmodSync(file, 0o600); // whatever the umask
    created = true;
  }
  if (!created && !/^\s*(?:export\s+)?SYNC_MASTER_SECRET\s*=/m.test(readFileSync(file, "utf8"))) {
    // A config written by hand (e.g. before a container's first start) without a master secret.
    appendFileSync(file, `\n# added by serve on ${new Date().toISOString()}\nSYNC_MASTER_SECRET=${randomBytes(32).toString("hex")}\n`);
    say(`added a random SYNC_MASTER_SECRET to ${file}`);
  }
  const st = statSync(file);
  if (st.mode & 0o077) say(`warning: ${file} is readable by other users; run: chmod 600 ${file}`);
  const vars = {};
  readFileSync(file, "utf8").split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: expected NAME=value`);
    let value = m[2];
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) value = value.slice(1, -1);
    vars[m[1]] = value;
  });
  return { vars, created };
}

// ---------------------------------------------------------------- build

function newestMtime(p) {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const e of readdirSync(p)) max = Math.max(max, newestMtime(path.join(p, e)));
  return max;
}

/** The sources a build depends on: a dist/ older than any of them is rebuilt. */
const BUILD_INPUTS = ["src", "migrations", "wrangler.toml", "package-lock.json", "tsconfig.json"];

/** Builds dist/ with `wrangler deploy --dry-run` (what `npm run build` runs). */
export function build({ quiet = false } = {}) {
  const wrangler = path.join(path.dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
  rmSync(DIST, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", DIST], {
    cwd: REPO,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" },
  });
  if (r.status !== 0) throw new Error(`build failed (wrangler deploy --dry-run):\n${(r.stderr || r.stdout || "").slice(-2000)}`);
  if (!quiet) say(`built ${path.relative(REPO, entryFile())}`);
}

function entryFile() {
  const js = existsSync(DIST) ? readdirSync(DIST).filter((f) => f.endsWith(".js") || f.endsWith(".mjs")) : [];
  if (!js.length) return null;
  return path.join(DIST, js.includes("index.js") ? "index.js" : js[0]);
}

function ensureBuilt(mode) {
  const entry = entryFile();
  if (mode === "never") {
    if (!entry) throw new Error("dist/ has no bundle: run `npm run build` first");
    return entry;
  }
  const stale = !entry || statSync(entry).mtimeMs < Math.max(...BUILD_INPUTS.map((p) => newestMtime(path.join(REPO, p))));
  if (mode === "always" || stale) {
    say(entry ? "dist/ is older than the sources: rebuilding" : "building dist/");
    build();
  }
  return entryFile();
}

// ---------------------------------------------------------------- processes

/** Pids of the direct children of `pid` (Linux /proc). */
function childPids(pid) {
  const out = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const s = readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim();
      if (s) out.push(...s.split(/\s+/).map(Number));
    }
  } catch {
    /* not Linux, or gone */
  }
  return out;
}
const cmdline = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
};
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** The workerd process Miniflare started for us (none when not on Linux). */
const workerdPid = () => childPids(process.pid).find((p) => cmdline(p).some((a) => /workerd$/.test(a)) && cmdline(p).includes("serve"));

/**
 * A tiny watchdog so that workerd never outlives us: if this process is
 * killed with SIGKILL, the pipe into the watchdog closes and it kills workerd
 * (which would otherwise keep the port and the SQLite files open).
 */
let watchdog;
function armWatchdog(pid) {
  watchdog?.kill("SIGKILL");
  watchdog = spawn("/bin/sh", ["-c", 'read _ ; kill -KILL "$1" 2>/dev/null', "sh", String(pid)], { stdio: ["pipe", "ignore", "ignore"] });
  watchdog.on("error", () => {});
  watchdog.unref();
  watchdog.stdin.on("error", () => {});
}

/** Claims the data folder; throws if a live `serve` already holds it. */
function lockDataDir(dataDir) {
  const file = path.join(dataDir, LOCK_FILE);
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, "utf8").trim());
    if (pid && pid !== process.pid && alive(pid) && cmdline(pid).some((a) => a.endsWith("serve.mjs")))
      throw new Error(`${dataDir} is in use by another serve (pid ${pid})`);
  }
  writeFileSync(file, `${process.pid}\n`);
  return () => {
    try {
      if (readFileSync(file, "utf8").trim() === String(process.pid)) rmSync(file);
    } catch {
      /* gone */
    }
  };
}

// ---------------------------------------------------------------- D1 migrations

/**
 * Applies the migrations in migrations/ that `d1_migrations` does not list yet,
 * each in one batch with its bookkeeping row (the same table and names as
 * `wrangler d1 migrations apply`, so either tool sees what the other did).
 */
async function migrate(db, dir, splitSql) {
  await db.exec(
    "CREATE TABLE IF NOT EXISTS d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL);",
  );
  const done = new Set((await db.prepare("SELECT name FROM d1_migrations").all()).results.map((r) => r.name));
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".sql")).sort() : [];
  const applied = [];
  for (const f of files) {
    if (done.has(f)) continue;
    const stmts = splitSql(readFileSync(path.join(dir, f), "utf8")).filter((s) => s.trim());
    await db.batch([...stmts.map((s) => db.prepare(s)), db.prepare("INSERT INTO d1_migrations (name) VALUES (?1)").bind(f)]);
    applied.push(f);
  }
  return applied;
}

// ---------------------------------------------------------------- main

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      host: { type: "string" },
      data: { type: "string" },
      "drain-seconds": { type: "string" },
      build: { type: "boolean" },
      "no-build": { type: "boolean" },
      "build-only": { type: "boolean" },
      script: { type: "string" },
    },
  });
  if (values["build-only"]) return build();
  const port = Number(values.port ?? process.env.PORT ?? 8080);
  const host = values.host ?? process.env.HOST ?? "127.0.0.1";
  const dataDir = path.resolve(values.data ?? process.env.DATA_DIR ?? "data");
  const drainMs = Number(values["drain-seconds"] ?? 25) * 1000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: not a port: ${values.port}`);

  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const unlock = lockDataDir(dataDir);
  process.on("exit", unlock);
  const { vars, created } = loadConfig(dataDir);
  if (created) say(`created ${path.join(dataDir, CONFIG_FILE)} with a random SYNC_MASTER_SECRET (mode 0600)`);
  // `npm run admin -- import FILE --data DIR` runs serve for its import with a token of its own (never written anywhere).
  if (process.env.WEAVE_ADMIN_TOKEN_ONCE) vars.ADMIN_TOKEN = process.env.WEAVE_ADMIN_TOKEN_ONCE;
  const script = values.script ? path.resolve(values.script) : ensureBuilt(values["no-build"] ? "never" : values.build ? "always" : "auto");

  const wranglerEntry = require.resolve("wrangler");
  // The Miniflare (and so the workerd) that wrangler itself runs: one runtime version for dev, tests and serve.
  const mfEntry = createRequire(wranglerEntry).resolve("miniflare");
  const { Miniflare, Log, LogLevel, convertV4MiniflareOptions } = await import(mfEntry);
  const { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } = await import(wranglerEntry);

  const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(REPO, "wrangler.toml"));
  delete workerOptions.rootPath;
  delete workerOptions.modulesRules; // dist/ is one ES module
  for (const [k, v] of Object.entries(workerOptions)) {
    if (v && typeof v === "object" && Object.keys(v).length === 0) delete workerOptions[k];
  }
  const toml = readFileSync(path.join(REPO, "wrangler.toml"), "utf8");
  const worker = {
    ...workerOptions, // bindings, Durable Objects, D1, compatibility date and flags
    // The Worker's name names the Durable Objects' folders (state/do/<name>-<class>/), as under wrangler dev.
    name: /^name\s*=\s*"([^"]+)"/m.exec(toml)?.[1] ?? "weave-edge",
    modules: true,
    scriptPath: script,
    modulesRoot: path.dirname(script),
    bindings: { ...workerOptions.bindings, ...vars },
  };
  // Clients connect straight to workerd's socket for this Worker (no Node proxy in the path);
  // it is opened only once the D1 migrations are in (below).
  const publicSocket = { ...worker, unsafeDirectSockets: [{ host, port }] };
  let stopping = false;
  let lastWorkerd;
  const options = (w) => convertV4MiniflareOptions({
    workers: [w],
    host: "127.0.0.1", // Miniflare's own entry socket (used here for the D1 migrations only)
    port: 0,
    cf: false, // no Request.cf download
    logRequests: false,
    // <data>/state is what wrangler calls --persist-to: its files live in v3/ (d1/, do/<worker>-<class>/)
    resourcePersistencePath: path.join(dataDir, STATE_DIR, "v3"),
    log: new (class extends Log {
      logWithLevel(level, message) {
        // workerd exiting after a drain is not a crash
        if (!(stopping && /crashed unexpectedly/.test(message))) super.logWithLevel(level, message);
      }
    })(LogLevel.WARN),
    handleStructuredLogs: ({ level, message }) =>
      (level === "error" || level === "warn" ? process.stderr : process.stdout).write(`${message}\n`),
  });
  const mf = new Miniflare(options(worker));

  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    const pid = workerdPid();
    say(`${signal}: finishing requests in flight (at most ${drainMs / 1000} s)`);
    if (pid) {
      // workerd drains on SIGTERM: closes its listening socket, lets requests in flight finish, exits.
      try {
        process.kill(pid, "SIGTERM");
      } catch {}
      const deadline = Date.now() + drainMs;
      while (alive(pid) && cmdline(pid).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.race([mf.dispose().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
    watchdog?.kill("SIGKILL");
    say("stopped");
    process.exit(0);
  };
  // wrangler's and Miniflare's bundled signal-exit copies miscount listeners and re-raise
  // SIGTERM (killing us mid-drain): ours are the only signal handlers.
  const ownSignals = () => {
    for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) {
      process.removeAllListeners(sig);
      process.on(sig, () => void stop(sig));
    }
  };
  ownSignals();
  // Started by a wrapper (npm, sh) that died without passing the signal on: stop as if signalled.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void stop("parent exited");
  }, 500).unref();

  await mf.ready;
  ownSignals();
  const db = await mf.getD1Database(Object.keys(workerOptions.d1Databases)[0]);
  const applied = await migrate(db, path.join(REPO, "migrations"), unstable_splitSqlQuery);
  if (applied.length) say(`applied D1 migrations: ${applied.join(", ")}`);
  // Now the public socket: no request ever sees a schema older than the code. (Miniflare
  // restarts workerd for this; every migration above has committed.)
  await mf.setOptions(options(publicSocket));
  ownSignals();
  const url = await mf.unsafeGetDirectURL(worker.name);
  lastWorkerd = workerdPid();
  if (lastWorkerd) armWatchdog(lastWorkerd);
  // Miniflare restarts workerd if it ever crashes: keep the watchdog on the current one.
  setInterval(() => {
    const pid = workerdPid();
    if (pid && pid !== lastWorkerd && !stopping) armWatchdog((lastWorkerd = pid));
  }, 2000).unref();
  say(`serving ${url.href} (data ${dataDir})`);
  process.stdout.write(`READY ${JSON.stringify({ url: url.href, port: Number(url.port), data: dataDir, migrations: applied })}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    say(err?.message ?? String(err));
    process.exit(1);
  });
}
