// `npm run deploy`: from a fresh clone (after `npx wrangler login`) to a
// running deployment on Cloudflare, and the same command for every update.
//
//   1. checks the login (`wrangler whoami`);
//   2. finds the D1 database named in wrangler.toml, or creates it (its id
//      is never written anywhere: wrangler finds the database by name);
//   3. applies pending D1 migrations remotely (the Worker would also do it on
//      its first request; doing it here shows failures before deploying);
//   4. creates SYNC_MASTER_SECRET (32 random bytes, hex) only if the Worker
//      has none: the value goes to wrangler on stdin and is never printed,
//      and an existing secret is never replaced (so tokens stay valid);
//   5. deploys, and prints the URL of the setup page.
//
// Re-running it updates the code in place; data and the secret are kept.
// WEAVE_WRANGLER=/path/to/wrangler runs another wrangler executable (the
// tests use a stand-in that records what it was asked to do).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = process.env.WEAVE_WRANGLER || (process.platform === "win32" ? "wrangler.cmd" : "wrangler");
const SECRET_NAME = "SYNC_MASTER_SECRET";
// npm puts node_modules/.bin on PATH; so does this, for `node scripts/deploy.mjs`.
const childEnv = { ...process.env, PATH: `${join(root, "node_modules", ".bin")}${delimiter}${process.env.PATH ?? ""}` };

class DeployError extends Error {}

function step(text) {
  console.log(`\n== ${text}`);
}

/**
 * Runs wrangler. `capture`: stdout is collected (and not shown) instead of
 * passed through; `tee`: collected and shown. `input`: written to stdin, then
 * closed; otherwise stdin is closed at once (wrangler then never prompts:
 * confirmations take their defaults).
 */
function run(args, { capture = false, tee = false, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(wrangler, args, {
      cwd: root,
      env: childEnv,
      stdio: ["pipe", capture || tee ? "pipe" : "inherit", capture ? "pipe" : "inherit"],
    });
    let out = "";
    let err = "";
    child.stdout?.on("data", (d) => {
      out += d;
      if (tee) process.stdout.write(d);
    });
    child.stderr?.on("data", (d) => (err += d));
    child.on("error", (e) => reject(new DeployError(`cannot run ${wrangler}: ${e.message}`)));
    child.on("close", (code) => resolve({ code: code ?? 1, out, err }));
    child.stdin.on("error", () => {}); // wrangler may exit before reading
    child.stdin.end(input ?? "");
  });
}

function fail(what, r) {
  const detail = `${r.out}\n${r.err}`.trim();
  return new DeployError(`${what} (wrangler exited with ${r.code})${detail ? `:\n${detail}` : ""}`);
}

/** The few wrangler.toml values this script needs (the file is ours, so a line-based read is enough). */
export function readWranglerToml(text) {
  const name = /^name\s*=\s*"([^"]+)"/m.exec(text)?.[1];
  const d1 = /\[\[d1_databases\]\]([\s\S]*?)(?=^\s*\[|$(?![\s\S]))/m.exec(text)?.[1] ?? "";
  const databaseName = /^\s*database_name\s*=\s*"([^"]+)"/m.exec(d1)?.[1];
  const binding = /^\s*binding\s*=\s*"([^"]+)"/m.exec(d1)?.[1] ?? "DB";
  const hasDatabaseId = /^\s*database_id\s*=/m.test(d1);
  const publicUrl = /^\s*PUBLIC_URL\s*=\s*"([^"]*)"/m.exec(text)?.[1] ?? "";
  return { name, databaseName, binding, hasDatabaseId, publicUrl };
}

function parseJsonOutput(text) {
  const start = text.search(/[[{]/);
  if (start < 0) throw new Error("no JSON in output");
  return JSON.parse(text.slice(start));
}

/** The setup page's URL: PUBLIC_URL if set, else what `wrangler deploy` printed (workers.dev, then a custom domain). */
export function setupPageUrl(deployOutput, publicUrl) {
  if (publicUrl) {
    const base = /^https?:\/\//.test(publicUrl) ? publicUrl : `https://${publicUrl}`;
    return base.replace(/\/*$/, "/");
  }
  const dev = /https:\/\/[a-z0-9.-]+\.workers\.dev\b/i.exec(deployOutput)?.[0];
  if (dev) return `${dev}/`;
  const domain = /^\s*([a-z0-9.-]+\.[a-z]{2,})\s+\(custom domain\)/im.exec(deployOutput)?.[1];
  if (domain) return `https://${domain}/`;
  return null;
}

async function regenerateMigrationBundle() {
  try {
    const { writeBundle } = await import("./deploy-d1-bundle.mjs");
    if (await writeBundle(root)) console.log("updated src/d1-migrate-bundle.ts from migrations/ (commit it)");
  } catch (err) {
    console.log(`(could not regenerate src/d1-migrate-bundle.ts: ${err.message}; deploying the committed one)`);
  }
}

async function main() {
  const cfg = readWranglerToml(readFileSync(join(root, "wrangler.toml"), "utf8"));
  if (!cfg.name || !cfg.databaseName) throw new DeployError("wrangler.toml needs `name` and a [[d1_databases]] `database_name`");

  step("Cloudflare login");
  const who = await run(["whoami"], { capture: true });
  if (who.code !== 0 || /not authenticated/i.test(who.out + who.err)) {
    throw new DeployError("Not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN), then `npm run deploy` again.");
  }
  const email = /associated with the email (\S+?)\.?$/m.exec(who.out)?.[1];
  console.log(email ? `logged in as ${email}` : "logged in");

  step(`D1 database "${cfg.databaseName}"`);
  if (cfg.hasDatabaseId) {
    console.log("wrangler.toml names its database_id: using it");
  } else {
    const list = await run(["d1", "list", "--json"], { capture: true });
    if (list.code !== 0) throw fail("listing D1 databases failed", list);
    let dbs;
    try {
      dbs = parseJsonOutput(list.out);
    } catch {
      throw new DeployError(`unexpected output of \`wrangler d1 list --json\`:\n${list.out}`);
    }
    const found = Array.isArray(dbs) && dbs.find((d) => d?.name === cfg.databaseName);
    if (found) {
      console.log(`found (${found.uuid})`);
    } else {
      console.log("not found: creating it");
      const created = await run(["d1", "create", cfg.databaseName, "--no-update-config"], { capture: true });
      if (created.code !== 0) throw fail(`creating D1 database ${cfg.databaseName} failed`, created);
      console.log(`created "${cfg.databaseName}"`);
    }
  }

  step("D1 migrations");
  await regenerateMigrationBundle();
  const migrated = await run(["d1", "migrations", "apply", cfg.binding, "--remote"]);
  if (migrated.code !== 0) throw fail("applying D1 migrations failed", migrated);

  step(`secret ${SECRET_NAME}`);
  const secrets = await run(["secret", "list", "--format", "json"], { capture: true });
  let present;
  if (secrets.code === 0) {
    try {
      const parsed = parseJsonOutput(secrets.out);
      present = Array.isArray(parsed) && parsed.some((s) => s?.name === SECRET_NAME);
    } catch {
      throw new DeployError(`unexpected output of \`wrangler secret list\`; not touching ${SECRET_NAME}:\n${secrets.out}`);
    }
  } else if (/not found|does not exist|\b10007\b/i.test(secrets.out + secrets.err)) {
    present = false; // no Worker yet: first deployment
  } else {
    // Unknown state: never create a secret that could replace an existing one.
    throw fail(`could not list the Worker's secrets, so ${SECRET_NAME} is left alone`, secrets);
  }
  if (present) {
    console.log(`${SECRET_NAME} is set: kept as it is`);
  } else {
    const value = randomBytes(32).toString("hex");
    const put = await run(["secret", "put", SECRET_NAME], { capture: true, input: value });
    if (put.code !== 0) throw fail(`creating ${SECRET_NAME} failed`, put);
    console.log(`${SECRET_NAME} created (random, 32 bytes; not shown, not stored anywhere else)`);
  }

  step("deploy");
  const deployed = await run(["deploy"], { tee: true });
  if (deployed.code !== 0) throw fail("wrangler deploy failed", { ...deployed, out: "" });

  const url = setupPageUrl(deployed.out, cfg.publicUrl);
  console.log("\nDeployed.");
  if (url) console.log(`Setup page: ${url}`);
  else console.log("Setup page: at / of your Worker's URL (see the output of wrangler deploy above).");
  if (!cfg.publicUrl) console.log("Tip: set PUBLIC_URL in wrangler.toml [vars] to the URL your clients use, then run `npm run deploy` again.");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    console.error(`\ndeploy failed: ${err instanceof DeployError ? err.message : (err?.stack ?? err)}`);
    process.exit(1);
  });
}
