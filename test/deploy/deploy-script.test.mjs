// `npm run deploy` (scripts/deploy.mjs) against a stand-in wrangler
// (test/deploy/fake-wrangler.mjs) that keeps a pretend Cloudflare account and
// records every invocation. Runs in Node: `node --test test/deploy/deploy-script.test.mjs`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, test } from "node:test";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const fake = join(repo, "test", "deploy", "fake-wrangler.mjs");
chmodSync(fake, 0o755);

const dirs = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A copy of the project's deploy inputs in a temp dir (a "fresh clone"). */
function project({ withNodeModules = false, toml } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "weave-deploy-"));
  dirs.push(dir);
  mkdirSync(join(dir, "scripts"));
  mkdirSync(join(dir, "src"));
  for (const f of ["deploy.mjs", "deploy-d1-bundle.mjs"]) copyFileSync(join(repo, "scripts", f), join(dir, "scripts", f));
  cpSync(join(repo, "migrations"), join(dir, "migrations"), { recursive: true });
  copyFileSync(join(repo, "src", "d1-migrate-bundle.ts"), join(dir, "src", "d1-migrate-bundle.ts"));
  writeFileSync(join(dir, "wrangler.toml"), toml ?? readFileSync(join(repo, "wrangler.toml"), "utf8"));
  if (withNodeModules) symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"));
  const state = join(dir, ".fake-state.json");
  const log = join(dir, ".fake-log.jsonl");
  const deploy = () => {
    const r = spawnSync(process.execPath, [join(dir, "scripts", "deploy.mjs")], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, WEAVE_WRANGLER: fake, FAKE_WRANGLER_STATE: state, FAKE_WRANGLER_LOG: log, NO_COLOR: "1" },
      timeout: 120_000,
    });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };
  const calls = () =>
    existsSync(log)
      ? readFileSync(log, "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l))
      : [];
  const commands = () => calls().map((c) => c.args.filter((a, i) => !a.startsWith("-") && c.args[i - 1] !== "--format").slice(0, 3).join(" "));
  const account = () => JSON.parse(readFileSync(state, "utf8"));
  const setAccount = (s) => writeFileSync(state, JSON.stringify(s));
  return { dir, deploy, calls, commands, account, setAccount, log };
}

/** The repository's D1 migrations, in the order wrangler applies them. */
const MIGRATIONS = readdirSync(join(repo, "migrations")).filter((f) => /^\d{4}_.*\.sql$/.test(f)).sort();
/** A migration file the tests add, numbered after the last real one. */
const NEXT = `${String(Number(MIGRATIONS.at(-1).slice(0, 4)) + 1).padStart(4, "0")}_example.sql`;

function assertSecretNeverShown(p, runs) {
  const secret = p.account().secrets.SYNC_MASTER_SECRET;
  assert.match(secret, /^[0-9a-f]{64}$/);
  for (const r of runs) assert.ok(!r.out.includes(secret), "the secret appears in the script's output");
  assert.ok(!readFileSync(p.log, "utf8").includes(secret), "the secret appears in wrangler's arguments");
}

test("first run on a fresh account: create the database, migrate, create the secret, deploy (in that order)", () => {
  const p = project();
  const r = p.deploy();
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(p.commands(), [
    "whoami",
    "d1 list",
    "d1 create weave-edge",
    "d1 migrations apply",
    "secret list",
    "secret put SYNC_MASTER_SECRET",
    "deploy",
  ]);
  const calls = p.calls();
  assert.deepEqual(calls[3].args, ["d1", "migrations", "apply", "DB", "--remote"]);
  assert.equal(calls[5].stdinBytes, 64, "the secret goes in on stdin");
  const acct = p.account();
  assert.equal(acct.databases.length, 1);
  assert.deepEqual(acct.applied[acct.databases[0].uuid], MIGRATIONS);
  assert.equal(acct.deployments, 1);
  assert.equal(acct.secretWrites, 1);
  assert.match(r.out, /Setup page: https:\/\/weave-edge\.owner-example\.workers\.dev\/\n/);
  assertSecretNeverShown(p, [r]);
  // Nothing about the database was written into the tracked config.
  assert.equal(readFileSync(join(p.dir, "wrangler.toml"), "utf8"), readFileSync(join(repo, "wrangler.toml"), "utf8"));
});

test("second run: updates in place; same database, no migration re-run, the secret untouched", () => {
  const p = project();
  const first = p.deploy();
  assert.equal(first.code, 0, first.out);
  const before = p.account();
  const n = p.calls().length;
  const second = p.deploy();
  assert.equal(second.code, 0, second.out);
  assert.deepEqual(p.commands().slice(n), ["whoami", "d1 list", "d1 migrations apply", "secret list", "deploy"]);
  const after = p.account();
  assert.deepEqual(after.databases, before.databases);
  assert.deepEqual(after.applied, before.applied);
  assert.equal(after.secrets.SYNC_MASTER_SECRET, before.secrets.SYNC_MASTER_SECRET);
  assert.equal(after.secretWrites, 1);
  assert.equal(after.deployments, 2);
  assert.match(second.out, /No migrations to apply/);
  assert.match(second.out, /SYNC_MASTER_SECRET is set: kept/);
  assertSecretNeverShown(p, [first, second]);
});

test("an existing deployment with its own secret (set by hand) keeps it", () => {
  const p = project();
  p.setAccount({
    loggedIn: true,
    databases: [{ uuid: "11111111-2222-3333-4444-555555555555", name: "weave-edge", created_at: "2026-01-01T00:00:00Z" }],
    applied: { "11111111-2222-3333-4444-555555555555": MIGRATIONS.slice(0, 1) },
    worker: { draft: false },
    secrets: { SYNC_MASTER_SECRET: "operator-chosen-secret-value", SHARED_SECRET: "x" },
    deployments: 7,
  });
  const r = p.deploy();
  assert.equal(r.code, 0, r.out);
  assert.ok(!p.commands().some((c) => c.startsWith("secret put") || c.startsWith("d1 create")), p.commands().join(", "));
  const acct = p.account();
  assert.equal(acct.secrets.SYNC_MASTER_SECRET, "operator-chosen-secret-value");
  assert.deepEqual(acct.applied["11111111-2222-3333-4444-555555555555"], MIGRATIONS, "the missing migrations applied");
  assert.equal(acct.deployments, 8);
});

test("a new migration file: the next run applies only it and bundles it into the Worker", () => {
  const p = project({ withNodeModules: true });
  assert.equal(p.deploy().code, 0);
  writeFileSync(join(p.dir, "migrations", NEXT), `-- Migration number: ${NEXT.slice(0, 4)}\nCREATE TABLE IF NOT EXISTS example_t (x INTEGER);\n`);
  const r = p.deploy();
  assert.equal(r.code, 0, r.out);
  const acct = p.account();
  assert.deepEqual(acct.applied[acct.databases[0].uuid], [...MIGRATIONS, NEXT]);
  const bundle = readFileSync(join(p.dir, "src", "d1-migrate-bundle.ts"), "utf8");
  assert.ok(bundle.includes(`"name": "${NEXT}"`), "the new migration is bundled");
  assert.match(bundle, /CREATE TABLE IF NOT EXISTS example_t/);
});

test("not logged in: says to run `npx wrangler login` and does nothing else", () => {
  const p = project();
  p.setAccount({ loggedIn: false, databases: [], applied: {}, worker: null, secrets: {}, deployments: 0 });
  const r = p.deploy();
  assert.equal(r.code, 1);
  assert.match(r.out, /npx wrangler login/);
  assert.deepEqual(p.commands(), ["whoami"]);
});

test("secrets cannot be listed: no new secret is created and nothing is deployed", () => {
  const p = project();
  assert.equal(p.deploy().code, 0);
  const s = p.account();
  p.setAccount({ ...s, secretListFails: true });
  const r = p.deploy();
  assert.equal(r.code, 1);
  assert.match(r.out, /left alone/);
  const acct = p.account();
  assert.equal(acct.secretWrites, 1);
  assert.equal(acct.secrets.SYNC_MASTER_SECRET, s.secrets.SYNC_MASTER_SECRET);
  assert.equal(acct.deployments, 1);
  assert.equal(p.commands().at(-1), "secret list");
});

test("PUBLIC_URL set: the setup page is printed at that URL", () => {
  const toml = readFileSync(join(repo, "wrangler.toml"), "utf8").replace(/^PUBLIC_URL = ""$/m, 'PUBLIC_URL = "https://sync.example.com"');
  const p = project({ toml });
  const r = p.deploy();
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Setup page: https:\/\/sync\.example\.com\/\n/);
});
