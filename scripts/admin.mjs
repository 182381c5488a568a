#!/usr/bin/env node
// The operator's command line over the admin API (src/admin/routes.ts).
// Usage: npm run admin -- <command> [args] [--url URL] [--token T] [--json]
// README "Administer" lists the commands. URL and token also come from the
// environment (ADMIN_URL, ADMIN_TOKEN) or from the git-ignored file
// `.admin.env` (lines `ADMIN_URL=…` and `ADMIN_TOKEN=…`) in the current
// directory. Human tables by default, --json for scripts; progress goes to
// stderr so that `admin export <user> > file` stays clean.
import { existsSync, readFileSync, statSync } from "node:fs";
import { open } from "node:fs/promises";

const HELP = `usage: npm run admin -- <command> [arguments] [--url URL] [--token TOKEN] [--json]

commands:
  health [--user USER]             settings in force, secrets set/unset, migrations, node rows
  users [1.1|1.5]                  list accounts / Sync 1.5 users with usage (all pages)
  show USER                        one user: collections, quota, token state, throttle
  disable USER | enable USER       refuse / allow a user: 1.1 logins, 1.5 tokens (at once)
  unlock USER [--address IP]       clear the login throttle of an account (and an address)
  purge USER                       delete the user's expired records now
  delete USER --yes                delete all the user's data, then the account / token row
  export USER [--out FILE]         write the user's data as NDJSON (stdout by default)
  import FILE [--as USER] [--replace]   import an export file (all or nothing)
  import FILE --data DIR [...]      the same into a self-hosted data folder (npm run serve's
                                    --data) while its server is stopped

USER is acct:<username> (Sync 1.1) or uid:<uid> (Sync 1.5).
URL and token: --url/--token, else ADMIN_URL/ADMIN_TOKEN, else ./.admin.env.`;

// ------------------------------------------------------------------ arguments

function parseArgs(argv) {
  const flags = {};
  const rest = [];
  const withValue = new Set(["url", "token", "as", "out", "address", "user", "data"]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const [k, v] = a.slice(2).split("=", 2);
      if (withValue.has(k)) {
        const val = v ?? argv[++i];
        if (val === undefined) fail(`--${k} needs a value`);
        flags[k] = val;
      } else flags[k] = true;
    } else rest.push(a);
  }
  return { flags, rest };
}

function fail(message, code = 2) {
  process.stderr.write(`admin: ${message}\n`);
  process.exit(code);
}

function settings(flags) {
  if (flags.data !== undefined) {
    if (flags.url || flags.token) fail("--data starts its own server: leave out --url and --token");
    return { url: null, token: null, data: flags.data };
  }
  const file = {};
  if (existsSync(".admin.env")) {
    for (const line of readFileSync(".admin.env", "utf8").split("\n")) {
      const m = /^\s*(ADMIN_URL|ADMIN_TOKEN)\s*=\s*(.*?)\s*$/.exec(line);
      if (m) file[m[1]] = m[2].replace(/^["']|["']$/g, "");
    }
  }
  const url = flags.url ?? process.env.ADMIN_URL ?? file.ADMIN_URL ?? "http://127.0.0.1:8787";
  const token = flags.token ?? process.env.ADMIN_TOKEN ?? file.ADMIN_TOKEN;
  if (!token) fail("no admin token: pass --token, set ADMIN_TOKEN, or put ADMIN_TOKEN=… in .admin.env");
  return { url: url.replace(/\/+$/, ""), token };
}

// ------------------------------------------------------------------ HTTP

class ApiError extends Error {}

async function request(cfg, method, path, { body, raw = false, query } = {}) {
  const url = new URL(`${cfg.url}/__admin__${path}`);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== false) url.searchParams.set(k, String(v));
  let res;
  try {
    res = await fetch(url, { method, headers: { Authorization: `Bearer ${cfg.token}` }, body });
  } catch (err) {
    const why = err?.cause?.code ?? err?.cause?.message ?? err.message;
    throw new ApiError(`cannot reach ${cfg.url} (${why}); is the server running, and is --url right?`);
  }
  if (res.ok) return raw ? res : res.json();
  let msg = "";
  try {
    msg = (await res.json()).error ?? "";
  } catch {
    /* not JSON */
  }
  if (res.status === 401) throw new ApiError(`wrong admin token (${cfg.url} refused it)`);
  if (res.status === 429) throw new ApiError(`too many wrong tokens from this address; retry in ${res.headers.get("Retry-After")} s`);
  if (res.status === 404 && !msg) throw new ApiError(`the admin API is off at ${cfg.url} (set the ADMIN_TOKEN secret on the server)`);
  throw new ApiError(msg || `HTTP ${res.status}`);
}

// ------------------------------------------------------------------ output

function table(rows, columns) {
  if (rows.length === 0) return "(none)\n";
  const cells = rows.map((r) => columns.map(([, f]) => String(f(r) ?? "")));
  const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const fmt = (vals) => vals.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd();
  return [fmt(columns.map(([h]) => h)), fmt(widths.map((w) => "-".repeat(w))), ...cells.map(fmt)].join("\n") + "\n";
}

const when = (ms) => (ms ? new Date(ms).toISOString().replace(/\.\d+Z$/, "Z") : "-");
function size(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

class Progress {
  constructor(label, total) {
    this.label = label;
    this.total = total;
    this.done = 0;
    this.on = process.stderr.isTTY || process.env.ADMIN_PROGRESS === "1";
    this.last = 0;
  }
  update(done, text) {
    this.done = done;
    const now = Date.now();
    if (!this.on || now - this.last < 100) return;
    this.last = now;
    const width = 30;
    const frac = this.total ? Math.min(1, done / this.total) : 0;
    const bar = this.total ? `[${"#".repeat(Math.round(frac * width)).padEnd(width, ".")}] ${(frac * 100).toFixed(0).padStart(3)}%` : "";
    process.stderr.write(`\r${this.label} ${bar} ${text ?? done}`.padEnd(78));
  }
  end(text) {
    if (this.on) process.stderr.write(`\r${`${this.label} ${text}`.padEnd(78)}\n`);
  }
}

// ------------------------------------------------------------------ commands

async function listUsers(cfg, kind) {
  const users = [];
  let after = 0;
  for (;;) {
    const page = await request(cfg, "GET", `/users/${kind}`, { query: { after, limit: 100 } });
    users.push(...page.users);
    if (page.next === null) return users;
    after = page.next;
  }
}

const COMMANDS = {
  async health(cfg, args, flags) {
    const h = await request(cfg, "GET", "/health", { query: { user: flags.user } });
    if (flags.json) return h;
    let out = `server      ${h.version.source} ${h.version.version}\n`;
    out += `D1          ${h.d1.ok ? "ok" : `FAILING: ${h.d1.error}`}; migrations: ${(h.d1.migrations ?? []).join(", ") || "-"}\n`;
    out += `store       schema ${h.store_schema.latest}${h.store_schema.user ? `; ${h.store_schema.user.name} at ${h.store_schema.user.schema_version}` : ""}\n`;
    out += `secrets     ${Object.entries(h.secrets).map(([k, v]) => `${k}=${v}`).join(" ")}\n`;
    out += `\nnodes\n${table(h.d1.nodes ?? [], [["id", (n) => n.id], ["service", (n) => n.service], ["node", (n) => n.node], ["load", (n) => `${n.current_load}/${n.capacity}`], ["downed", (n) => n.downed]])}`;
    out += `\nsettings\n${JSON.stringify(h.settings, null, 2)}\n`;
    out += `\nsync 1.5 settings\n${JSON.stringify(h.sync15, null, 2)}\n`;
    return out;
  },

  async users(cfg, args, flags) {
    const kinds = args[0] ? [args[0]] : ["1.1", "1.5"];
    for (const k of kinds) if (k !== "1.1" && k !== "1.5") fail(`users takes 1.1 or 1.5, not ${k}`);
    const all = {};
    for (const k of kinds) all[k] = await listUsers(cfg, k);
    if (flags.json) return args[0] ? all[args[0]] : all;
    let out = "";
    for (const k of kinds) {
      out += `Sync ${k} ${k === "1.1" ? "accounts" : "users"}: ${all[k].length}\n`;
      out += table(all[k], [
        ["user", (u) => u.name],
        [k === "1.1" ? "e-mail" : "email", (u) => u.mail ?? u.email],
        ["records", (u) => u.records],
        ["bytes", (u) => size(u.bytes)],
        ["colls", (u) => u.collections],
        ["last write", (u) => when(u.last_write)],
        ["created", (u) => when(u.created)],
        ["state", (u) => [u.disabled ? "disabled" : "active", u.locked ? "locked" : "", u.replaced_at ? "replaced" : ""].filter(Boolean).join(",")],
      ]);
      out += "\n";
    }
    return out;
  },

  async show(cfg, [user], flags) {
    if (!user) fail("show needs a user (acct:<name> or uid:<uid>)");
    const d = await request(cfg, "GET", `/users/${encodeURIComponent(user)}`);
    if (flags.json) return d;
    let out = `${d.name}  ${d.mail ?? d.email ?? ""}\n`;
    out += `state       ${d.disabled ? "disabled" : "active"}${d.locked ? ", locked by the login throttle" : ""}\n`;
    out += `records     ${d.records} (${size(d.bytes)}) in ${d.collections} collections; last write ${when(d.last_write)}\n`;
    out += `quota       ${d.quota.enabled ? `${size(d.quota.used)} of ${size(d.quota.limit_bytes)} (${d.quota.unit})` : `off (${size(d.quota.used)} used)`}\n`;
    out += `store       schema ${d.store.schema_version}; pending batches ${d.store.pending_batches}; next expiry ${when(d.store.next_expiry)}${d.store.import_pending ? "; an unfinished import is staged" : ""}\n`;
    if (d.token) out += `token       generation ${d.token.generation}; keys_changed_at ${d.token.keys_changed_at ?? "-"}; client_state ${d.token.client_state}; node ${d.token.node}${d.token.replaced_at ? `; replaced ${when(d.token.replaced_at)}` : ""}\n`;
    if (d.throttle) out += `throttle    ${d.throttle.counters.length === 0 ? "no recent failures" : d.throttle.counters.map((c) => `${c.key}: ${c.events} events${c.lockedFor ? `, locked ${c.lockedFor} s` : ""}`).join("; ")}\n`;
    out += `\n${table(d.collections, [
      ["collection", (c) => c.name],
      ["records", (c) => c.records],
      ["expired", (c) => c.expired],
      ["bytes", (c) => size(c.bytes)],
      ["modified (1.5)", (c) => when(c.modified)],
      ["newest record", (c) => when(c.newest_record)],
    ])}`;
    return out;
  },

  async disable(cfg, [user], flags) {
    return simple(cfg, "POST", user, "/disable", flags, (r) => `${r.name} disabled\n`);
  },
  async enable(cfg, [user], flags) {
    return simple(cfg, "POST", user, "/enable", flags, (r) => `${r.name} enabled\n`);
  },
  async unlock(cfg, [user], flags) {
    return simple(cfg, "POST", user, `/unlock`, flags, (r) => `${r.name}: ${r.cleared} throttle counters cleared\n`, { address: flags.address });
  },
  async purge(cfg, [user], flags) {
    return simple(cfg, "POST", user, "/purge", flags, (r) => `${r.name}: ${r.purged} expired records deleted\n`);
  },
  async delete(cfg, [user], flags) {
    if (!flags.yes) fail(`delete erases all of ${user ?? "the user"}'s data and account; add --yes to confirm`);
    return simple(cfg, "DELETE", user, "", flags, (r) => `${r.name} deleted (${r.records} records)\n`);
  },

  async export(cfg, [user], flags) {
    if (!user) fail("export needs a user (acct:<name> or uid:<uid>)");
    const info = await request(cfg, "GET", `/users/${encodeURIComponent(user)}`);
    const res = await request(cfg, "GET", `/users/${encodeURIComponent(user)}/export`, { raw: true });
    const { createWriteStream } = await import("node:fs");
    const out = flags.out ? createWriteStream(flags.out) : process.stdout;
    const bar = new Progress(`export ${info.name}`, info.records);
    let lines = 0;
    let bytes = 0;
    let tail = "";
    for await (const chunk of res.body) {
      bytes += chunk.length;
      for (const b of chunk) if (b === 10) lines++;
      tail = (tail + Buffer.from(chunk.subarray(Math.max(0, chunk.length - 200))).toString("utf8")).slice(-200);
      if (!out.write(chunk)) await new Promise((r) => out.once("drain", r));
      bar.update(Math.max(0, lines - 3 - info.collections), `${size(bytes)}`);
    }
    if (flags.out) await new Promise((r, j) => out.end((e) => (e ? j(e) : r())));
    if (!/"type":"end"[^\n]*\n?$/.test(tail)) throw new ApiError("the export ended early (no end line); the file is incomplete");
    bar.end(`done: ${size(bytes)}`);
    const summary = { user: info.name, bytes, lines };
    if (flags.json) return flags.out ? summary : "";
    return flags.out ? `exported ${info.name} to ${flags.out} (${size(bytes)})\n` : "";
  },

  async import(cfg, files, flags) {
    if (files.length === 0) fail("import needs a file (an export, or a tools/import output)");
    if (cfg.data) return withLocalServer(cfg.data, (local) => COMMANDS.import(local, files, flags));
    if (files.length > 1 && flags.as) fail("--as takes one file");
    if (files.length === 1) return importOne(cfg, files[0], flags);
    // Several files (an importer's output): each all or nothing; go on after a failure, fail at the end.
    const results = [];
    let failed = 0;
    for (const f of files) {
      try {
        const r = await importOne(cfg, f, { ...flags, json: true });
        results.push({ file: f, ...r });
        if (!flags.json) process.stdout.write(`${f}: ${r.records} records into ${r.target}\n`);
      } catch (err) {
        failed++;
        results.push({ file: f, error: err.message });
        process.stderr.write(`admin: ${f}: ${err.message}\n`);
      }
    }
    if (failed) throw new ApiError(`${failed} of ${files.length} imports failed (the others are in)`);
    return flags.json ? results : `imported ${files.length} files\n`;
  },
};

/**
 * Runs `fn` against a server of its own on a self-hosted data folder:
 * scripts/serve.mjs on a loopback port with a random admin token for this run
 * only (handed over in its environment, never written to config.env), stopped
 * again afterwards. serve refuses a folder another serve holds.
 */
async function withLocalServer(dataDir, fn) {
  const { spawn } = await import("node:child_process");
  const { createServer } = await import("node:net");
  const { randomBytes } = await import("node:crypto");
  const path = await import("node:path");
  const { fileURLToPath } = await import("node:url");
  if (!existsSync(path.join(dataDir, "config.env"))) fail(`${dataDir} is not a data folder of npm run serve (no config.env)`);
  const port = await new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port: p } = s.address();
      s.close(() => resolve(p));
    });
    s.on("error", reject);
  });
  const token = randomBytes(24).toString("hex");
  const serve = path.join(path.dirname(fileURLToPath(import.meta.url)), "serve.mjs");
  const child = spawn(process.execPath, [serve, "--port", String(port), "--host", "127.0.0.1", "--data", dataDir], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WEAVE_ADMIN_TOKEN_ONCE: token },
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise((resolve) => child.on("exit", resolve));
  process.stderr.write(`admin: starting the self-hosted server on ${dataDir}\n`);
  try {
    await new Promise((resolve, reject) => {
      const check = () => {
        if (out.split("\n").some((l) => l.startsWith("READY "))) resolve();
      };
      child.stdout.on("data", check);
      exited.then(() => reject(new ApiError(`the server on ${dataDir} did not start:\n${out.slice(-1500)}`)));
    });
    return await fn({ url: `http://127.0.0.1:${port}`, token });
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}

async function importOne(cfg, file, flags) {
  {
    if (!existsSync(file)) fail(`no such file: ${file}`);
    const total = statSync(file).size;
    const bar = new Progress(`import ${file}`, total);
    const rl = readLines(file);
    const head = [];
    let session = null;
    let target = null;
    let chunk = [];
    let chunkBytes = 0;
    let chunkStart = 4;
    let lineNo = 0;
    let read = 0;
    let endLine = null;
    const send = async () => {
      if (chunk.length === 0) return;
      await request(cfg, "POST", `/imports/${session}`, { body: chunk.join("\n"), query: { line: chunkStart } });
      chunkStart = lineNo + 1;
      chunk = [];
      chunkBytes = 0;
      bar.update(read, `${size(read)} of ${size(total)}`);
    };
    try {
      for await (const line of rl) {
        lineNo++;
        read += Buffer.byteLength(line) + 1;
        if (line.trim() === "") continue;
        if (endLine !== null) throw new ApiError(`line ${lineNo}: data after the end line`);
        if (head.length < 3) {
          head.push(line);
          if (head.length === 3) {
            const r = await request(cfg, "POST", "/imports", {
              body: head.join("\n"),
              query: { as: flags.as, replace: flags.replace ? "1" : undefined },
            });
            session = r.session;
            target = r.target;
            chunkStart = lineNo + 1;
          }
          continue;
        }
        if (line.length < 300 && isEndLine(line)) {
          endLine = line;
          continue;
        }
        chunk.push(line);
        chunkBytes += line.length;
        if (chunkBytes >= 1024 * 1024 || chunk.length >= 2000) await send();
      }
      if (session === null) throw new ApiError("the file is too short to be an export (header, subject and store lines expected)");
      await send();
      if (endLine === null) throw new ApiError("the file has no end line: it is incomplete; nothing was imported");
      const r = await request(cfg, "POST", `/imports/${session}/commit`, { body: endLine });
      bar.end(`done: ${r.records} records, ${r.collections} collections into ${r.target}`);
      if (flags.json) return r;
      return `imported ${r.records} records in ${r.collections} collections into ${r.target}${r.replacedRecords ? ` (replacing ${r.replacedRecords} records)` : ""}\n`;
    } catch (err) {
      if (session !== null) {
        try {
          await request(cfg, "DELETE", `/imports/${session}`);
        } catch {
          /* the server drops stale staging on the next import anyway */
        }
      }
      bar.end("failed");
      throw new ApiError(`${err.message}${target ? ` (${target} left as it was)` : ""}`);
    }
  }
}

/** The lines of a file, read 1 MiB at a time only as they are consumed (memory stays bounded). */
async function* readLines(file) {
  const fh = await open(file, "r");
  const buf = Buffer.alloc(1 << 20);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let carry = "";
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const parts = (carry + decoder.decode(buf.subarray(0, bytesRead), { stream: true })).split("\n");
      carry = parts.pop() ?? "";
      for (const p of parts) yield p.endsWith("\r") ? p.slice(0, -1) : p;
    }
    carry += decoder.decode();
    if (carry !== "") yield carry;
  } finally {
    await fh.close();
  }
}

function isEndLine(line) {
  try {
    return JSON.parse(line).type === "end";
  } catch {
    return false;
  }
}

async function simple(cfg, method, user, suffix, flags, human, query) {
  if (!user) fail("this command needs a user (acct:<name> or uid:<uid>)");
  const r = await request(cfg, method, `/users/${encodeURIComponent(user)}${suffix}`, { query });
  return flags.json ? r : human(r);
}

// ------------------------------------------------------------------ main

const { flags, rest } = parseArgs(process.argv.slice(2));
const [command, ...args] = rest;
if (!command || flags.help || command === "help") {
  process.stdout.write(`${HELP}\n`);
  process.exit(command || flags.help ? 0 : 2);
}
const fn = COMMANDS[command];
if (!fn) fail(`unknown command ${JSON.stringify(command)}\n\n${HELP}`);
if (flags.data !== undefined && command !== "import") fail("--data is for import only (the other commands talk to a running server: --url)");
try {
  const out = await fn(settings(flags), args, flags);
  if (typeof out === "string") process.stdout.write(out);
  else process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
} catch (err) {
  if (err instanceof ApiError) fail(err.message, 1);
  throw err;
} finally {
  // For the memory measurements (scripts/admin-roundtrip.mjs).
  if (process.env.ADMIN_REPORT_RSS === "1") process.stderr.write(`maxrss_kb=${process.resourceUsage().maxRSS}\n`);
}
