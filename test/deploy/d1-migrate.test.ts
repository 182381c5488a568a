/**
 * D1 self-migration (src/d1-migrate.ts): the Worker brings a database whose
 * schema is older than its code up to date on the first request of an
 * isolate, agrees with wrangler's `d1_migrations` bookkeeping, and survives
 * concurrent first requests. Runs against a second, scratch D1 database
 * (D1_MIGRATION_SCRATCH) that each test empties first; a fresh wrapper object
 * around it stands for a fresh isolate's binding.
 */
import { applyD1Migrations, createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { D1_MIGRATIONS } from "../../src/d1-migrate-bundle";
import { migrateD1, type D1Migration } from "../../src/d1-migrate";
import { clientUsername } from "../../src/lib/usernames";

const scratch = env.D1_MIGRATION_SCRATCH;
const ALL = env.TEST_MIGRATIONS;
const TABLES = ["d1_migrations", "dev_outbox", "disabled_sync_users", "nodes", "reset_codes", "server_secrets", "services", "user", "users"];

/** Drops every table: an empty database, as `wrangler d1 create` leaves it. */
async function emptyScratch(): Promise<void> {
  const { results } = await scratch
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'")
    .all<{ name: string }>();
  for (const { name } of results) await scratch.prepare(`DROP TABLE "${name}"`).run();
  const seq = await scratch.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").first();
  if (seq) await scratch.prepare("DELETE FROM sqlite_sequence").run();
}

/** A new binding object over the scratch database: what a fresh isolate would see. */
function freshBinding(hooks: { afterFirstRead?: () => Promise<void> } = {}): D1Database {
  let reads = 0;
  return {
    prepare(query: string) {
      const stmt = scratch.prepare(query);
      if (!hooks.afterFirstRead || !query.startsWith("SELECT name FROM d1_migrations")) return stmt;
      return {
        all: async () => {
          const r = await stmt.all();
          if (reads++ === 0) await hooks.afterFirstRead!();
          return r;
        },
      } as unknown as D1PreparedStatement;
    },
    batch: (stmts: D1PreparedStatement[]) => scratch.batch(stmts),
    exec: (q: string) => scratch.exec(q),
  } as unknown as D1Database;
}

async function tables(): Promise<string[]> {
  const { results } = await scratch
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name")
    .all<{ name: string }>();
  return results.map((r) => r.name);
}

async function recorded(): Promise<string[]> {
  const { results } = await scratch.prepare("SELECT name FROM d1_migrations ORDER BY id").all<{ name: string }>();
  return results.map((r) => r.name);
}

async function fetchWorker(db: D1Database, path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://sync.test${path}`, init), { ...env, DB: db }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** A 1.1 account creation (needs the `user` table) and a JSON heartbeat (a D1 query). */
async function firstRequestsWork(db: D1Database): Promise<void> {
  const email = `migrate.${crypto.randomUUID()}@example.com`;
  const username = await clientUsername(email);
  const put = await fetchWorker(db, `/user/1.0/${username}`, { method: "PUT", body: JSON.stringify({ password: "migrate-pw-123", email }) });
  expect(put.status, await put.clone().text()).toBe(200);
  expect(await put.text()).toBe(username);
  const exists = await fetchWorker(db, `/user/1.0/${username}`);
  expect(await exists.text()).toBe("1");
  const hb = await fetchWorker(db, "/__heartbeat__", { headers: { Accept: "application/json" } });
  expect(hb.status).toBe(200);
}

beforeEach(emptyScratch);

describe("bundled migrations", () => {
  it("are exactly migrations/*.sql as wrangler splits them (regenerate: node scripts/deploy-d1-bundle.mjs)", () => {
    expect(D1_MIGRATIONS).toEqual(ALL);
    expect(ALL.length).toBeGreaterThanOrEqual(3);
  });
});

describe("the first request of an isolate migrates", () => {
  // From an empty database (k = 0) and from every older schema version
  // (migrations 1..k applied by wrangler's method), up to the current one.
  for (let k = 0; k <= ALL.length; k++) {
    const from = k === 0 ? "an empty database" : `a database with ${ALL.slice(0, k).map((m) => m.name).join(" + ")}`;
    it(`from ${from}`, async () => {
      if (k > 0) await applyD1Migrations(scratch, ALL.slice(0, k));
      expect(await tables()).toEqual(k === 0 ? [] : expect.arrayContaining(["d1_migrations"]));
      await firstRequestsWork(freshBinding());
      expect(await recorded()).toEqual(ALL.map((m) => m.name));
      expect(await tables()).toEqual(TABLES);
      const seeded = await scratch.prepare("SELECT COUNT(*) AS n FROM services WHERE service = 'sync-1.5'").first<{ n: number }>();
      expect(seeded?.n).toBe(1);
    });
  }

  it("and a schema already current costs nothing but the check (no rows added)", async () => {
    await applyD1Migrations(scratch, ALL);
    expect(await migrateD1(freshBinding())).toEqual([]);
    expect(await recorded()).toEqual(ALL.map((m) => m.name));
  });

  it("records what wrangler records: wrangler sees nothing left to apply afterwards", async () => {
    expect(await migrateD1(freshBinding())).toEqual(ALL.map((m) => m.name));
    const cols = await scratch.prepare("PRAGMA table_info(d1_migrations)").all<{ name: string; type: string }>();
    expect(cols.results.map((c) => [c.name, c.type])).toEqual([
      ["id", "INTEGER"],
      ["name", "TEXT"],
      ["applied_at", "TIMESTAMP"],
    ]);
    // applyD1Migrations is the CLI's algorithm (skip recorded names): it must add nothing.
    await applyD1Migrations(scratch, ALL);
    expect(await recorded()).toEqual(ALL.map((m) => m.name));
  });
});

describe("concurrent first requests", () => {
  it("two isolates' first requests at once both succeed, each migration recorded once", async () => {
    const a = freshBinding();
    const b = freshBinding();
    await Promise.all([firstRequestsWork(a), firstRequestsWork(b), firstRequestsWork(a), firstRequestsWork(b)]);
    expect(await recorded()).toEqual(ALL.map((m) => m.name));
  });

  it("two migrators racing on the same database both resolve", async () => {
    const results = await Promise.all([migrateD1(freshBinding()), migrateD1(freshBinding()), migrateD1(freshBinding())]);
    expect(results.flat().sort()).toEqual(ALL.map((m) => m.name).sort());
    expect(await recorded()).toEqual(ALL.map((m) => m.name));
  });

  it("losing the race rolls the whole batch back: a non-idempotent statement never runs twice", async () => {
    const once: D1Migration[] = [
      { name: "0001_once.sql", queries: ["CREATE TABLE once_a (x INTEGER)"] },
      { name: "0002_once.sql", queries: ["CREATE TABLE IF NOT EXISTS once_b (x INTEGER)", "INSERT INTO once_b VALUES (1)"] },
    ];
    // Another writer applies everything between this migrator's read and its batches.
    const db = freshBinding({ afterFirstRead: () => applyD1Migrations(scratch, once) });
    expect(await migrateD1(db, once)).toEqual([]);
    expect(await recorded()).toEqual(["0001_once.sql", "0002_once.sql"]);
    const rows = await scratch.prepare("SELECT COUNT(*) AS n FROM once_b").first<{ n: number }>();
    expect(rows?.n).toBe(1);
  });

  it("a migration that fails is not recorded, earlier ones stay, and the error surfaces", async () => {
    const broken: D1Migration[] = [
      { name: "0001_ok.sql", queries: ["CREATE TABLE ok_t (x INTEGER)"] },
      { name: "0002_broken.sql", queries: ["CREATE TABLE half_t (x INTEGER)", "THIS IS NOT SQL"] },
    ];
    await expect(migrateD1(freshBinding(), broken)).rejects.toThrow();
    expect(await recorded()).toEqual(["0001_ok.sql"]);
    expect(await tables()).toEqual(["d1_migrations", "ok_t"]);
  });
});
