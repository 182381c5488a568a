/**
 * @module admin/routes
 * The operator's JSON API under `/__admin__/` (README "Administer"). Mounted
 * by src/index.ts; answers only while the ADMIN_TOKEN secret is set (see
 * ./auth.ts), otherwise the request falls through to the ordinary 404.
 *
 * Users are named `acct:<username>` (Sync 1.1 accounts) or `uid:<uid>`
 * (Sync 1.5 tokenserver users), like their Durable Objects' name spaces.
 *
 *   GET    /__admin__/health[?user=]          settings (secrets only set/unset), migrations, node rows
 *   GET    /__admin__/users/1.1|1.5[?after=&limit=]   paged list with usage
 *   GET    /__admin__/users/<user>            detail: collections, quota, token state, throttle
 *   POST   /__admin__/users/<user>/disable|enable      (1.1 accounts and 1.5 users)
 *   POST   /__admin__/users/<user>/unlock[?address=]   clear the login throttle
 *   POST   /__admin__/users/<user>/purge      delete expired records now
 *   DELETE /__admin__/users/<user>            delete all stored data, then the account / token row
 *   GET    /__admin__/users/<user>/export     NDJSON (docs/export-format.md), streamed
 *   POST   /__admin__/imports[?as=&replace=1] begin an import (first three lines of a file)
 *   POST   /__admin__/imports/<id>[?line=]    stage collection and record lines
 *   POST   /__admin__/imports/<id>/commit     the end line; swaps the data in atomically
 *   DELETE /__admin__/imports/<id>            abandon
 */
import { Hono, type Context } from "hono";
import { getConfig } from "../config";
import type { AppEnv } from "../env";
import { ACCOUNT_ACTIVE, ACCOUNT_DISABLED, setAccountStatus } from "../auth/accounts";
import { ACTIVE, DISABLED } from "../storage/access";
import { MIGRATIONS } from "../storage/schema";
import type { StoreStats } from "../storage/transfer";
import { VERSION_INFO } from "../routes/health";
import { adminToken, checkAdmin } from "./auth";
import { selfExport } from "./self-export";
import * as db from "./db";
import {
  AdminError,
  abortImport,
  beginImport,
  commitImport,
  exportStream,
  nodeUrlFor,
  stageImport,
  storeOf,
  storeOp,
  type Subject,
} from "./transfer";

/** Largest body of one staging request (the CLI sends about 4 MiB). */
export const MAX_STAGE_BODY = 32 * 1024 * 1024;

type C = Context<AppEnv>;

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body, null, 1), { status, headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } });
}

const api = new Hono<AppEnv>().basePath("/__admin__");

api.onError((err) => {
  if (err instanceof AdminError) return json({ error: err.message }, err.status);
  console.error("admin API error:", err instanceof Error ? err.message : err);
  return json({ error: "internal error (see the server log)" }, 500);
});
api.notFound(() => json({ error: "no such admin endpoint" }, 404));

/** The admin app: mounted by index.ts; passes everything on while ADMIN_TOKEN is unset. */
export const adminApp = new Hono<AppEnv>();
adminApp.all("/__admin__/*", async (c, next) => {
  const token = adminToken(c.env);
  if (token === null) return next();
  const refused = await checkAdmin(c.env, c.req.raw, token);
  if (refused) return refused;
  return api.fetch(c.req.raw, c.env, c.executionCtx);
});
adminApp.all("/__admin__", async (c, next) => (adminToken(c.env) === null ? next() : json({ error: "see /__admin__/health" }, 404)));
// A Sync 1.1 user's own download (HTTP Basic; always on, not part of the admin API).
adminApp.get("/weave-export", selfExport);

// ------------------------------------------------------------------ helpers

function paging(c: C): { after: number; limit: number } {
  const after = Number(c.req.query("after") ?? "0");
  const limit = Number(c.req.query("limit") ?? "50");
  if (!Number.isSafeInteger(after) || after < 0) throw new AdminError(400, "after must be a non-negative integer");
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 500) throw new AdminError(400, "limit must be 1 to 500");
  return { after, limit };
}

/** Resolves `acct:<name>` / `uid:<n>`; 404 with a clear message when unknown. */
export async function resolveUser(env: Env, name: string): Promise<Subject> {
  const m = /^(acct|uid):(.+)$/.exec(name);
  if (!m) throw new AdminError(400, `name users as acct:<username> (Sync 1.1) or uid:<uid> (Sync 1.5), not ${JSON.stringify(name)}`);
  if (m[1] === "acct") {
    const account = await db.accountByName(env.DB, m[2] as string);
    if (!account) throw new AdminError(404, `unknown user ${name}`);
    return { kind: "1.1", account };
  }
  if (!/^\d{1,15}$/.test(m[2] as string)) throw new AdminError(400, `uid must be a number: ${JSON.stringify(name)}`);
  const user = await db.tokenUserByUid(env.DB, Number(m[2]));
  if (!user) throw new AdminError(404, `unknown user ${name}`);
  return { kind: "1.5", user };
}

function subjectName(s: Subject): string {
  return s.kind === "1.1" ? `acct:${s.account.username}` : `uid:${s.user.uid}`;
}

type Throttle = { inspect(): Promise<Array<{ key: string; events: number; lockedFor: number }>>; clear(): Promise<number> };
function throttleStub(env: Env, name: string): Throttle {
  return env.LIMITER.get(env.LIMITER.idFromName(name)) as unknown as Throttle;
}

async function throttleState(env: Env, s: Subject): Promise<{ locked: boolean; counters: Array<{ key: string; events: number; lockedFor: number }> } | null> {
  if (s.kind !== "1.1") return null; // Sync 1.5 has no password to throttle.
  const counters = await throttleStub(env, `acct:${s.account.username}`).inspect();
  return { locked: counters.some((k) => k.lockedFor > 0), counters };
}

async function summary(env: Env, s: Subject) {
  const [stats, throttle] = await Promise.all([
    storeOp<StoreStats>(storeOf(env, s), { op: "stats", now: Date.now() }),
    throttleState(env, s),
  ]);
  const common = {
    name: subjectName(s),
    kind: s.kind,
    records: stats.records,
    bytes: stats.bytes,
    collections: stats.collections.filter((c) => c.records > 0 || c.modified > 0).length,
    last_write: stats.lastModified || null,
    locked: throttle?.locked ?? false,
  };
  if (s.kind === "1.1") {
    const a = s.account;
    return { ...common, userid: a.userid, username: a.username, mail: a.mail, created: null, disabled: a.accountStatus !== 1 };
  }
  const u = s.user;
  return { ...common, uid: u.uid, email: u.email, created: u.created_at, disabled: u.disabled, replaced_at: u.replaced_at };
}

// ------------------------------------------------------------------ users

api.get("/users/1.1", async (c) => {
  const { after, limit } = paging(c);
  const rows = await db.listAccounts(c.env.DB, after, limit);
  const users = await Promise.all(rows.map((account) => summary(c.env, { kind: "1.1", account })));
  const last = rows.at(-1);
  return json({ total: await db.countAccounts(c.env.DB), users, next: rows.length === limit && last ? last.userid : null });
});

api.get("/users/1.5", async (c) => {
  const { after, limit } = paging(c);
  const rows = await db.listTokenUsers(c.env.DB, after, limit);
  const users = await Promise.all(rows.map((user) => summary(c.env, { kind: "1.5", user })));
  const last = rows.at(-1);
  return json({ total: await db.countTokenUsers(c.env.DB), users, next: rows.length === limit && last ? last.uid : null });
});

api.get("/users/:user", async (c) => {
  const s = await resolveUser(c.env, c.req.param("user"));
  const cfg = getConfig(c.env);
  const [stats, throttle] = await Promise.all([
    storeOp<StoreStats>(storeOf(c.env, s), { op: "stats", now: Date.now() }),
    throttleState(c.env, s),
  ]);
  const base = await summary(c.env, s);
  const quota =
    s.kind === "1.1"
      ? { enabled: cfg.useQuota, limit_bytes: cfg.useQuota ? Math.round(cfg.quotaSizeKb * 1024) : null, used: stats.bytes, unit: "characters" }
      : { enabled: cfg.storage15.quotaBytes !== null, limit_bytes: cfg.storage15.quotaBytes, used: stats.bytes, unit: "bytes" };
  const token =
    s.kind === "1.5"
      ? {
          generation: s.user.generation,
          keys_changed_at: s.user.keys_changed_at,
          client_state: s.user.client_state,
          node: s.user.node,
          replaced_at: s.user.replaced_at,
        }
      : null;
  return json({
    ...base,
    collections: stats.collections.map((k) => ({
      name: k.name,
      records: k.records,
      expired: k.expired,
      bytes: k.bytes,
      modified: k.modified || null,
      newest_record: k.newest,
    })),
    store: {
      schema_version: stats.schemaVersion,
      last_modified: stats.lastModified,
      storage_tombstone: stats.storageTombstone,
      pending_batches: stats.pendingBatches,
      next_expiry: stats.nextExpiry,
      import_pending: stats.importPending,
    },
    quota,
    token,
    throttle,
  });
});

/**
 * Disables or re-enables a user; acknowledged only once every way in is
 * closed: a 1.1 account's store stops its fast path before the account row
 * changes (src/auth/accounts.ts), a 1.5 user's store refuses its tokens
 * (access record, checked in the same call as each storage operation)
 * before the tokenserver stops issuing new ones (disabled_sync_users).
 * Enabling goes the other way round.
 */
async function setDisabled(c: C, disabled: boolean) {
  const s = await resolveUser(c.env, c.req.param("user") as string);
  if (s.kind === "1.1") {
    await setAccountStatus(c.env, s.account.userid, disabled ? ACCOUNT_DISABLED : ACCOUNT_ACTIVE);
  } else {
    const store = storeOf(c.env, s);
    if (disabled) {
      await store.accessCommit({ fp: null, disabled: DISABLED });
      await db.setTokenUserDisabled(c.env.DB, s.user.email, true);
    } else {
      await db.setTokenUserDisabled(c.env.DB, s.user.email, false);
      await store.accessCommit({ fp: null, disabled: ACTIVE });
    }
  }
  return json({ name: subjectName(s), disabled });
}
api.post("/users/:user/disable", (c) => setDisabled(c, true));
api.post("/users/:user/enable", (c) => setDisabled(c, false));

api.post("/users/:user/unlock", async (c) => {
  const s = await resolveUser(c.env, c.req.param("user"));
  if (s.kind !== "1.1") throw new AdminError(400, "only Sync 1.1 accounts have a login throttle");
  let cleared = await throttleStub(c.env, `acct:${s.account.username}`).clear();
  const address = c.req.query("address");
  if (address) cleared += await throttleStub(c.env, `addr:${address}`).clear();
  return json({ name: subjectName(s), cleared });
});

api.post("/users/:user/purge", async (c) => {
  const s = await resolveUser(c.env, c.req.param("user"));
  const purged = await storeOp<number>(storeOf(c.env, s), { op: "purge", now: Date.now() });
  return json({ name: subjectName(s), purged });
});

api.delete("/users/:user", async (c) => {
  const s = await resolveUser(c.env, c.req.param("user"));
  const store = storeOf(c.env, s);
  const before = await storeOp<StoreStats>(store, { op: "stats", now: Date.now() });
  // Data first: if this fails, the account still exists and the delete can be retried.
  await store.wipe();
  if (s.kind === "1.1") await db.deleteAccountRow(c.env.DB, s.account.userid);
  else await db.deleteTokenUserRow(c.env.DB, s.user.uid);
  return json({ name: subjectName(s), deleted: true, records: before.records });
});

// ------------------------------------------------------------------ export / import

api.get("/users/:user/export", async (c) => {
  const s = await resolveUser(c.env, c.req.param("user"));
  const file = `${subjectName(s).replace(":", "-")}.ndjson`;
  return new Response(exportStream(c.env, s, `${VERSION_INFO.source} ${VERSION_INFO.version}`), {
    headers: {
      "Content-Type": "application/x-ndjson",
      "Content-Disposition": `attachment; filename="${file}"`,
      "Cache-Control": "no-store",
    },
  });
});

async function bodyText(c: C): Promise<string> {
  const len = Number(c.req.header("Content-Length") ?? "0");
  if (len > MAX_STAGE_BODY) throw new AdminError(413, `send at most ${MAX_STAGE_BODY} bytes per request`);
  const text = await c.req.text();
  if (text.length > MAX_STAGE_BODY) throw new AdminError(413, `send at most ${MAX_STAGE_BODY} bytes per request`);
  return text;
}

api.post("/imports", async (c) => {
  const lines = (await bodyText(c)).split("\n").filter((l) => l.trim() !== "");
  const as = c.req.query("as");
  const r = await beginImport(c.env, lines, {
    as: as === undefined || as === "" ? undefined : as.replace(/^(acct|uid):/, ""),
    replace: c.req.query("replace") === "1",
    nodeUrl: nodeUrlFor(c.env, c.req.url),
  });
  return json(r, 201);
});

api.post("/imports/:id", async (c) => {
  const first = Number(c.req.query("line") ?? "1");
  const staged = await stageImport(c.env, c.req.param("id"), await bodyText(c), Number.isSafeInteger(first) ? first : 1);
  return json({ staged });
});

api.post("/imports/:id/commit", async (c) => {
  return json(await commitImport(c.env, c.req.param("id"), (await bodyText(c)).trim()));
});

api.delete("/imports/:id", async (c) => {
  await abortImport(c.env, c.req.param("id"));
  return json({ aborted: true });
});

// ------------------------------------------------------------------ health

const SECRET_NAMES = [
  "ADMIN_TOKEN",
  "SYNC_MASTER_SECRET",
  "SYNC_MASTER_SECRET_PREVIOUS",
  "FXA_METRICS_HASH_SECRET",
  "SHARED_SECRET",
  "MAIL_API_URL",
  "MAIL_API_KEY",
  "TURNSTILE_SECRET_KEY",
];
const SECRET_KEY = /secret|apikey|apiurl|password|token$/i;

/** A copy of a settings object with every secret-looking value replaced by "set" / "unset". */
export function redact(v: unknown, key = ""): unknown {
  if (SECRET_KEY.test(key)) return v === null || v === undefined || v === "" ? "unset" : "set";
  if (v instanceof Set) return [...v];
  if (Array.isArray(v)) return v.map((x) => redact(x));
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redact(x, k)]));
  }
  return v;
}

api.get("/health", async (c) => {
  const env = c.env as unknown as Record<string, unknown>;
  let sync15: unknown;
  try {
    sync15 = redact(getConfig(c.env).tokenserver);
  } catch (err) {
    sync15 = { error: err instanceof Error ? err.message : String(err) };
  }
  let d1: unknown;
  try {
    await c.env.DB.prepare("SELECT 1").first();
    d1 = { ok: true, migrations: await db.d1Migrations(c.env.DB), nodes: await db.listNodes(c.env.DB) };
  } catch (err) {
    d1 = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  const latest = Math.max(...MIGRATIONS.map((m) => m.version));
  let user: unknown = null;
  const name = c.req.query("user");
  if (name) {
    const s = await resolveUser(c.env, name);
    const stats = await storeOp<StoreStats>(storeOf(c.env, s), { op: "stats", now: Date.now() });
    user = { name: subjectName(s), schema_version: stats.schemaVersion };
  }
  return json({
    version: VERSION_INFO,
    settings: redact(getConfig(c.env)),
    sync15,
    secrets: Object.fromEntries(SECRET_NAMES.map((n) => [n, typeof env[n] === "string" && (env[n] as string) !== "" ? "set" : "unset"])),
    d1,
    store_schema: { latest, migrations: MIGRATIONS.map((m) => `${m.version} ${m.name}`), user },
  });
});
