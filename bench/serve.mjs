/**
 * @module bench/serve
 * Host process for one Worker on the runtime without wrangler's dev proxy:
 * loads a bundled Worker into Miniflare (which runs workerd and lets clients
 * talk to workerd's socket directly), applies D1 migrations, prints one line
 * `READY <json>` and then serves until SIGTERM/SIGINT or stdin closes.
 *
 * Usage (from bench/run.mjs): node bench/serve.mjs '<json options>'
 *   { config: wrangler config path, script: bundled entry (ESM),
 *     vars: {NAME: value} overriding [vars], persist: dir, migrations: dir|null,
 *     inspectorPort?: number (V8 inspector, for bench/profile.mjs) }
 */
import { createRequire } from "node:module";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import path from "node:path";

const opts = JSON.parse(process.argv[2]);
const require = createRequire(import.meta.url);
const wranglerEntry = require.resolve("wrangler");
// The Miniflare that wrangler itself runs, so both ways of serving use one runtime version.
const mfEntry = createRequire(wranglerEntry).resolve("miniflare");
const { Miniflare, Log, LogLevel, convertV4MiniflareOptions } = await import(mfEntry);
const { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } = await import(wranglerEntry);

const { workerOptions } = unstable_getMiniflareWorkerOptions(path.resolve(opts.config));
delete workerOptions.rootPath;
// Our bundles are single ES modules; the v4->v5 option converter refuses module rules,
// and empty binding tables only add noise.
delete workerOptions.modulesRules;
for (const [k, v] of Object.entries(workerOptions)) {
  if (v && typeof v === "object" && Object.keys(v).length === 0) delete workerOptions[k];
}
const worker = {
  ...workerOptions,
  name: "bench",
  modules: true,
  scriptPath: path.resolve(opts.script),
  modulesRoot: path.dirname(path.resolve(opts.script)),
  bindings: { ...workerOptions.bindings, ...opts.vars },
  // A socket straight into this Worker: skips Miniflare's entry Worker (an extra hop
  // that adds cf-object and pretty-error handling), like a deployed Worker's front door.
  unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
};
// Miniflare 5 takes a new options shape; wrangler still describes Workers in the v4 one.
const mf = new Miniflare(convertV4MiniflareOptions({
  workers: [worker],
  host: "127.0.0.1",
  logRequests: false,
  cf: false, // loopback only: never fetch the Request.cf placeholder from the network
  port: 0,
  resourcePersistencePath: opts.persist,
  log: new Log(LogLevel.WARN),
  // bench/profile.mjs: the V8 inspector of the Worker's isolate (loopback)
  ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort } : {}),
}));

let closing = false;
async function close(code = 0) {
  if (closing) return;
  closing = true;
  try {
    await mf.dispose();
  } finally {
    process.exit(code);
  }
}
process.on("SIGTERM", () => close(0));
process.on("SIGINT", () => close(0));
process.stdin.on("end", () => close(0));
process.stdin.resume();

try {
  const entryUrl = await mf.ready;
  const url = opts.entry ? entryUrl : await mf.unsafeGetDirectURL("bench");
  let applied = 0;
  if (opts.migrations && existsSync(opts.migrations) && workerOptions.d1Databases) {
    const binding = Object.keys(workerOptions.d1Databases)[0];
    const db = await mf.getD1Database(binding);
    const files = readdirSync(opts.migrations).filter((f) => f.endsWith(".sql")).sort();
    for (const f of files) {
      const sql = readFileSync(path.join(opts.migrations, f), "utf8");
      const stmts = unstable_splitSqlQuery(sql).filter((s) => s.trim());
      if (stmts.length) await db.batch(stmts.map((s) => db.prepare(s)));
      applied++;
    }
  }
  process.stdout.write(`READY ${JSON.stringify({ url: url.href, entryUrl: entryUrl.href, migrations: applied })}\n`);
} catch (err) {
  process.stderr.write(`serve: ${err?.stack ?? err}\n`);
  await close(1);
}
