#!/usr/bin/env node
// A stand-in for `wrangler` (for test/deploy/deploy-script.test.mjs): keeps a
// pretend Cloudflare account in the JSON file $FAKE_WRANGLER_STATE, appends
// every invocation (argv, cwd, stdin length) to $FAKE_WRANGLER_LOG, and
// answers the commands scripts/deploy.mjs uses with wrangler 4's output
// (messages, exit codes, JSON shapes). Knobs in the state file:
//   loggedIn: false           → whoami says "not authenticated"
//   secretListFails: true     → `secret list` fails with an API error
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const stateFile = process.env.FAKE_WRANGLER_STATE;
const logFile = process.env.FAKE_WRANGLER_LOG;
if (!stateFile || !logFile) {
  console.error("fake wrangler: FAKE_WRANGLER_STATE and FAKE_WRANGLER_LOG must be set");
  process.exit(2);
}
const state = existsSync(stateFile)
  ? JSON.parse(readFileSync(stateFile, "utf8"))
  : { loggedIn: true, databases: [], applied: {}, worker: null, secrets: {}, deployments: 0 };
const save = () => writeFileSync(stateFile, JSON.stringify(state, null, 2));

const args = process.argv.slice(2);
const stdin = process.stdin.isTTY ? "" : readFileSync(0, "utf8");
appendFileSync(logFile, `${JSON.stringify({ args, cwd: process.cwd(), stdinBytes: stdin.length })}\n`);

const NAME = /^name\s*=\s*"([^"]+)"/m.exec(readFileSync(join(process.cwd(), "wrangler.toml"), "utf8"))?.[1] ?? "worker";
const banner = () => console.log(" ⛅️ wrangler 4.164.0 (fake)\n─────────────────────────────");
const error = (msg, code = 1) => {
  console.error(`\n✘ [ERROR] ${msg}\n`);
  save();
  process.exit(code);
};
const requireLogin = () => {
  if (!state.loggedIn) error("In a non-interactive environment, it's necessary to set a CLOUDFLARE_API_TOKEN environment variable for wrangler to work.");
};
const dbByName = (name) => state.databases.find((d) => d.name === name);
const dbForBinding = (nameOrBinding) => {
  const toml = readFileSync(join(process.cwd(), "wrangler.toml"), "utf8");
  const dbName = /database_name\s*=\s*"([^"]+)"/.exec(toml)?.[1];
  return dbByName(nameOrBinding === "DB" ? dbName : nameOrBinding) ?? { missing: nameOrBinding === "DB" ? dbName : nameOrBinding };
};
const uuid = () => crypto.randomUUID();

// Positional words only (options and the values of --format / --name dropped).
const words = args.filter((a, i) => !a.startsWith("-") && !["--format", "--name"].includes(args[i - 1] ?? ""));
const cmd = words.join(" ");
switch (true) {
  case cmd === "whoami": {
    banner();
    console.log("Getting User settings...");
    if (!state.loggedIn) console.log("You are not authenticated. Please run `wrangler login`.");
    else console.log("👋 You are logged in with an OAuth Token, associated with the email owner@example.com.");
    break;
  }
  case cmd === "d1 list": {
    requireLogin();
    console.log(JSON.stringify(state.databases.map((d) => ({ uuid: d.uuid, name: d.name, created_at: d.created_at, version: "production", num_tables: 0, file_size: 12288 })), null, 2));
    break;
  }
  case cmd.startsWith("d1 create "): {
    requireLogin();
    banner();
    const name = args[2];
    if (dbByName(name)) error(`A database with that name already exists [code: 7502]`);
    const db = { uuid: uuid(), name, created_at: new Date().toISOString() };
    state.databases.push(db);
    console.log(`✅ Successfully created DB '${name}' in region WEUR\nCreated your new D1 database.\n`);
    console.log("To access your new D1 Database in your Worker, add the following snippet to your configuration file:");
    console.log(`[[d1_databases]]\nbinding = "${name.replaceAll("-", "_")}"\ndatabase_name = "${name}"\ndatabase_id = "${db.uuid}"`);
    break;
  }
  case cmd.startsWith("d1 migrations apply "): {
    requireLogin();
    banner();
    if (!args.includes("--remote")) error("fake wrangler: expected --remote");
    const db = dbForBinding(args[3]);
    if (db.missing) error(`Couldn't find a D1 DB named '${db.missing}' (bound as '${args[3]}') in the API. Run 'wrangler d1 create ${db.missing}' to create it.`);
    const files = readdirSync(join(process.cwd(), "migrations")).filter((f) => f.endsWith(".sql")).sort();
    const applied = (state.applied[db.uuid] ??= []);
    const todo = files.filter((f) => !applied.includes(f));
    console.log(`Resource location: remote`);
    if (todo.length === 0) {
      console.log("✅ No migrations to apply!");
      break;
    }
    console.log("Migrations to be applied:");
    console.log(todo.map((f) => `│ ${f} │`).join("\n"));
    for (const f of todo) applied.push(f);
    console.log(`🚣 Executed ${todo.length * 3} commands in 1.23ms`);
    console.log(todo.map((f) => `│ ${f} │ ✅ │`).join("\n"));
    break;
  }
  case cmd === "secret list": {
    requireLogin();
    if (state.secretListFails) error("A request to the Cloudflare API (/accounts/x/workers/scripts/y/secrets) failed.\n  Internal server error [code: 10013]");
    if (!state.worker) error(`Worker "${NAME}" not found.\n\n  If this is a new Worker, run \`wrangler deploy\` first to create it.\n  Otherwise, check that the Worker name is correct and you're logged into the right account.`);
    console.log(JSON.stringify(Object.keys(state.secrets).map((name) => ({ name, type: "secret_text" })), null, "  "));
    break;
  }
  case cmd.startsWith("secret put "): {
    requireLogin();
    banner();
    const name = args[2];
    const value = stdin.replace(/\s+$/, "");
    if (!value) error("Secret value must not be empty (fake: expected it on stdin)");
    if (!state.worker) {
      console.log(`There doesn't seem to be a Worker called "${NAME}". Do you want to create a new Worker with that name and add secrets to it? … yes`);
      console.log(`🌀 Creating new Worker "${NAME}"...`);
      state.worker = { draft: true };
    }
    console.log(`🌀 Creating the secret for the Worker "${NAME}" `);
    state.secrets[name] = value; // what Cloudflare keeps (the test checks it is never shown elsewhere)
    state.secretWrites = (state.secretWrites ?? 0) + 1;
    console.log(`✨ Success! Uploaded secret ${name}`);
    break;
  }
  case cmd === "deploy": {
    requireLogin();
    banner();
    const db = dbForBinding("DB");
    if (db.missing) error(`fake wrangler: deploy would provision "${db.missing}" itself; the script must create it first`);
    state.worker = { draft: false };
    state.deployments += 1;
    console.log("Total Upload: 282.78 KiB / gzip: 75.64 KiB");
    console.log("Your Worker has access to the following bindings:");
    console.log(`env.DB (${db.name})                       D1 Database`);
    console.log(`Uploaded ${NAME} (3.12 sec)`);
    console.log(`Deployed ${NAME} triggers (0.41 sec)`);
    console.log(`  https://${NAME}.owner-example.workers.dev`);
    console.log(`Current Version ID: ${uuid()}`);
    break;
  }
  default:
    error(`fake wrangler: unexpected command: ${args.join(" ")}`, 3);
}
save();
