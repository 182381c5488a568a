/**
 * @module d1-migrate
 * The Worker keeps its D1 schema current by itself: on the first request of
 * each isolate it applies every migration of `migrations/*.sql` (bundled into
 * src/d1-migrate-bundle.ts) that the database has not recorded yet, so a
 * deployment whose code is newer than its database (an update deployed
 * without `wrangler d1 migrations apply`, the Deploy button) is never left
 * half-migrated.
 *
 * Bookkeeping is wrangler's own `d1_migrations` table (same columns, same
 * file names), so `wrangler d1 migrations apply` and the Worker agree on what
 * has been applied, whichever ran first.
 *
 * Concurrency: each migration is one D1 batch (one transaction) that starts
 * by inserting the migration's name. Two isolates migrating at once both try;
 * D1 runs the batches one after the other, the second one's insert hits the
 * UNIQUE name and rolls its whole batch back, and that isolate re-reads the
 * table, finds the name, and carries on. No statement of a migration ever runs
 * twice, so migrations need not be idempotent (ours are, as a second guard).
 */
import type { MiddlewareHandler } from "hono";
import { D1_MIGRATIONS } from "./d1-migrate-bundle";

/** One migration file: its name and its statements (as wrangler splits them). */
export interface D1Migration {
  name: string;
  queries: string[];
}

const TABLE = "d1_migrations";

/** The table wrangler creates (`wrangler d1 migrations apply`), column for column. */
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${TABLE}(
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT UNIQUE,
  applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)`;

async function appliedNames(db: D1Database): Promise<Set<string>> {
  const { results } = await db.prepare(`SELECT name FROM ${TABLE}`).all<{ name: string }>();
  return new Set(results.map((r) => r.name));
}

function isMissingTable(err: unknown): boolean {
  return err instanceof Error && /no such table/i.test(err.message);
}

/**
 * Applies the migrations `db` has not recorded, in order; returns the names it
 * applied (empty when the schema was current: one query). Throws when a
 * migration fails for any reason other than another writer having applied it.
 */
export async function migrateD1(db: D1Database, migrations: readonly D1Migration[] = D1_MIGRATIONS): Promise<string[]> {
  let applied: Set<string>;
  try {
    applied = await appliedNames(db);
  } catch (err) {
    if (!isMissingTable(err)) throw err;
    await db.prepare(CREATE_TABLE).run();
    applied = await appliedNames(db);
  }
  const done: string[] = [];
  for (const m of migrations) {
    if (applied.has(m.name)) continue;
    try {
      await db.batch([
        db.prepare(`INSERT INTO ${TABLE} (name) VALUES (?)`).bind(m.name),
        ...m.queries.map((q) => db.prepare(q)),
      ]);
      done.push(m.name);
    } catch (err) {
      // Lost the race to another isolate (or to wrangler): its row is there now.
      applied = await appliedNames(db);
      if (!applied.has(m.name)) throw err;
    }
  }
  return done;
}

/** Per isolate and per D1 binding: the migration run (settled once it succeeded). */
const runs = new WeakMap<D1Database, Promise<string[]>>();

/**
 * Hono middleware: before the first request of an isolate is handled, bring
 * `env.DB` up to date. Later requests wait only for that one run. A failure
 * (D1 unreachable) is logged and the request goes on (routes that need D1
 * answer their own error); the next request tries again.
 */
export function d1Migrations(): MiddlewareHandler<{ Bindings: Env }> {
  return async function d1Migrations(c, next) {
    const db = c.env.DB;
    let run = runs.get(db);
    if (!run) {
      run = migrateD1(db);
      runs.set(db, run);
      run.then(
        (names) => {
          if (names.length > 0) console.log(`D1 schema migrated: applied ${names.join(", ")}`);
        },
        () => runs.delete(db),
      );
    }
    try {
      await run;
    } catch (err) {
      console.error("D1 schema migration failed (retried on the next request):", err);
    }
    await next();
  };
}
