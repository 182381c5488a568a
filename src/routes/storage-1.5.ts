/**
 * @module storage-1.5
 * The Storage API 1.5 route table (storage-1.5 §2) as a Hono sub-app. Every
 * handler reads the same way: parse and validate (protocol/v1_5), one call to
 * the user's Durable Object, render. Preconditions, timestamps, batches and
 * limits are decided by the engine inside one transaction; this layer only
 * maps its results and failures to the wire.
 *
 * Evaluation order (§3): route match (404/405) → authentication (401, from
 * the injected middleware) → uid match (400) → query (400) → Accept (406) →
 * Content-Type (415) → size (413) → body (400) → batch/limit headers (400)
 * → preconditions and the operation (in the engine).
 */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { hawkAuth } from "../auth/hawk-middleware";
import { ConfigError, getConfig, type Storage15Config } from "../config";
import type { AppEnv, Principal } from "../env";
import { formatTs, nowTick } from "../lib/timestamp";
import { urlSearch } from "../lib/url";
import {
  badRequest,
  bodyType,
  checkAnnouncedSizes,
  Code15,
  COLLECTION_RE,
  BSO_ID_RE,
  CONTENT_TYPE,
  isJsonObject,
  isKnownBadPayload,
  negotiate15,
  notFound,
  parseBatchQuery,
  parseIds,
  parseJsonBody,
  parseListQuery,
  parsePostBody,
  parsePreconditions,
  render15,
  renderBso,
  renderObject,
  renderPostResult,
  SyncError,
  utf8Length,
  validateBso,
} from "../protocol/v1_5";
import { AccessRefused, callStore, userStoreFor, type StoreApi } from "../storage/stub";
import { postItems15 } from "../protocol/post-items";
import { BodyTooLarge, readCapped, toArrayBuffer } from "../protocol/body";
import type { Failure } from "../storage/types";
import { syncCors } from "./cors";

const WEAVE_TIMESTAMP = "X-Weave-Timestamp";
const methodNotAllowed = () => new Response(null, { status: 405 });
const LAST_MODIFIED = "X-Last-Modified";
/**
 * Payload bytes one full listing may carry before it continues on the next
 * page (X-Weave-Next-Offset): keeps an answer well inside the Durable Object
 * RPC limit (32 MiB) and the Worker's memory whatever the client's `limit`.
 */
export const PAGE_BYTES = 8 * 1024 * 1024;

const U = "/1.5/:uid{[0-9]{1,10}}";

// ------------------------------------------------------------------ helpers

function limits(c: Context<AppEnv>): Storage15Config {
  return getConfig(c.env).storage15;
}

/** Headers carrying a resource's last-modified and the response timestamp max(T, last-modified) (§5.5, §5.6). */
function stampHeaders(ts: number, lastModified: number): Record<string, string> {
  return { [LAST_MODIFIED]: formatTs(lastModified), [WEAVE_TIMESTAMP]: formatTs(Math.max(ts, lastModified)) };
}

function reply(
  body: BodyInit,
  ts: number,
  lastModified: number,
  extra: Record<string, string> = {},
  status = 200,
  contentType = "application/json",
): Response {
  return new Response(body, {
    status,
    headers: { "Content-Type": contentType, ...stampHeaders(ts, lastModified), ...extra },
  });
}

/** The one map from engine failures to 1.5 wire errors (§11.2). */
function fail(f: Failure, ts: number): never {
  switch (f.kind) {
    case "not-modified":
      throw new SyncError(304, null, stampHeaders(ts, f.lastModified));
    case "precondition-failed":
      throw new SyncError(412, null, stampHeaders(ts, f.lastModified));
    case "over-quota":
      throw new SyncError(400, Code15.OVER_QUOTA, { [WEAVE_TIMESTAMP]: formatTs(ts) });
    case "rejected":
      throw new SyncError(400, f.code, { [WEAVE_TIMESTAMP]: formatTs(ts) });
    case "not-found":
      throw new SyncError(404, Code15.GENERIC, { [WEAVE_TIMESTAMP]: formatTs(ts) });
    case "batch-not-found":
      throw new SyncError(400, Code15.GENERIC, { [WEAVE_TIMESTAMP]: formatTs(ts) });
    case "too-large":
      throw new SyncError(400, Code15.SIZE_LIMIT, { [WEAVE_TIMESTAMP]: formatTs(ts) });
  }
}

function store(c: Context<AppEnv>): StoreApi {
  return userStoreFor(c.env, c.get("principal"));
}

function query(c: Context<AppEnv>): URLSearchParams {
  return new URLSearchParams(urlSearch(c.req.url));
}

/** The percent-decoded path parameters, validated (§2); invalid → 404 / 0, before authentication. */
function collectionParam(c: Context<AppEnv>): string {
  const name = c.req.param("collection") ?? "";
  if (!COLLECTION_RE.test(name)) throw notFound();
  return name;
}

function idParam(c: Context<AppEnv>): string {
  const id = c.req.param("id") ?? "";
  if (!BSO_ID_RE.test(id)) throw notFound();
  return id;
}

const validPath: MiddlewareHandler<AppEnv> = async function validPath(c, next) {
  if (c.req.param("collection") !== undefined) collectionParam(c);
  if (c.req.param("id") !== undefined) idParam(c);
  await next();
};

/**
 * After authentication (§3): a token principal must be present and unexpired
 * (expired ones only for GET info/collections), and its uid must be the
 * path's (400 / 0).
 */
function tokenGuard(opts: { allowExpired: boolean }): MiddlewareHandler<AppEnv> {
  return async function tokenGuard(c, next) {
    const p = c.get("principal") as Principal | undefined;
    if (!p || p.kind !== "token" || (p.expired && !opts.allowExpired)) throw new SyncError(401);
    if (p.uid !== Number(c.req.param("uid"))) throw badRequest();
    await next();
  };
}

/** Adds X-Weave-Timestamp to every response that does not carry one yet (§5.6). */
const weaveTimestamp: MiddlewareHandler<AppEnv> = async function weaveTimestamp(c, next) {
  await next();
  if (!c.res.headers.has(WEAVE_TIMESTAMP)) {
    const res = new Response(c.res.body, c.res);
    res.headers.set(WEAVE_TIMESTAMP, formatTs(nowTick()));
    c.res = res;
  }
};

/** HEAD is not part of 1.5 (the reference answers 405); Hono would otherwise run the GET handler. */
const noHead: MiddlewareHandler<AppEnv> = async function noHead(c, next) {
  if (c.req.method === "HEAD") return methodNotAllowed();
  await next();
};

function onError15(err: Error): Response {
  // The app-wide handler names the bad setting for the operator.
  if (err instanceof ConfigError) throw err;
  if (err instanceof AccessRefused) return err.response;
  return render15(err);
}

/**
 * The request body, read up to `max` bytes (413 / 17 beyond, §8.1 step 1). The
 * Hawk middleware may have read it already (with the same cap) to check a
 * payload hash; then that copy is used.
 */
async function requestBody(c: Context<AppEnv>, max: number): Promise<ArrayBuffer> {
  const cached = c.req.bodyCache.arrayBuffer;
  const body = cached ? await cached : toArrayBuffer(await readCapped(c.req.raw, max));
  if (body.byteLength > max) throw new BodyTooLarge(max);
  return body;
}

// ------------------------------------------------------------------ routes

/**
 * Storage 1.5 under `/1.5/{uid}/...`. `auth` verifies the request (Hawk) and
 * sets `c.var.principal`, or answers 401 itself; it runs only on matched
 * routes, after 404/405.
 */
export function storage15Routes(auth: MiddlewareHandler<AppEnv>): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.onError(onError15);
  app.use("/1.5/*", syncCors, weaveTimestamp, noHead);
  app.use("/1.5", syncCors, weaveTimestamp, noHead);

  const user = [auth, tokenGuard({ allowExpired: false })] as const;

  // -------- info (§6)

  // Reference: no authentication (§2).
  app.get(`${U}/info/configuration`, (c) => {
    const l = limits(c);
    const body = renderObject([
      ["max_request_bytes", String(l.maxRequestBytes)],
      ["max_post_records", String(l.maxPostRecords)],
      ["max_post_bytes", String(l.maxPostBytes)],
      ["max_total_records", String(l.maxTotalRecords)],
      ["max_total_bytes", String(l.maxTotalBytes)],
      ["max_record_payload_bytes", String(l.maxRecordPayloadBytes)],
    ]);
    return reply(body, nowTick(), 0);
  });

  app.get(`${U}/info/collections`, auth, tokenGuard({ allowExpired: true }), async (c) => {
    const pre = parsePreconditions(c.req.raw.headers);
    const r = await callStore(() => store(c).info({ view: "collections", ...pre }));
    if (!r.ok) fail(r.failure, r.ts);
    const entries = (r.collections ?? []).map(([n, m]) => [n, formatTs(m ?? 0)] as [string, string]);
    return reply(renderObject(entries), r.ts, r.lastModified, { "X-Weave-Records": String(entries.length) });
  });

  for (const [path, view] of [
    ["collection_counts", "counts"],
    ["collection_usage", "usage"],
  ] as const) {
    app.get(`${U}/info/${path}`, ...user, async (c) => {
      const pre = parsePreconditions(c.req.raw.headers);
      const r = await callStore(() => store(c).info({ view, ...pre }));
      if (!r.ok) fail(r.failure, r.ts);
      const entries = (r.totals ?? []).map(
        (t) => [t.name, view === "counts" ? String(t.records) : JSON.stringify(t.bytes / 1024)] as [string, string],
      );
      return reply(renderObject(entries), r.ts, r.lastModified, { "X-Weave-Records": String(entries.length) });
    });
  }

  app.get(`${U}/info/quota`, ...user, async (c) => {
    const pre = parsePreconditions(c.req.raw.headers);
    const r = await callStore(() => store(c).info({ view: "quota", ...pre }));
    if (!r.ok) fail(r.failure, r.ts);
    const quota = limits(c).quotaBytes;
    const body = `[${JSON.stringify((r.used ?? 0) / 1024)},${quota === null ? "null" : JSON.stringify(quota / 1024)}]`;
    return reply(body, r.ts, r.lastModified);
  });

  // -------- whole storage (§6.6)

  const deleteStorage = async (c: Context<AppEnv>) => {
    const pre = parsePreconditions(c.req.raw.headers);
    const r = await callStore(() => store(c).deleteStorage(pre));
    if (!r.ok) fail(r.failure, r.ts);
    return reply("null", r.ts, r.lastModified);
  };
  app.delete(U, ...user, deleteStorage);
  app.delete(`${U}/storage`, ...user, deleteStorage);

  // -------- collections (§7, §8.2, §9, §10.1)

  app.get(`${U}/storage/:collection`, validPath, ...user, async (c) => {
    const collection = collectionParam(c);
    const q = parseListQuery(query(c));
    const format = negotiate15(c.req.header("Accept") ?? null);
    const pre = parsePreconditions(c.req.raw.headers);
    // Rendered in the store: one call, the body streamed out of it (storage/paging).
    const r = await callStore(() =>
      store(c).listRendered({
        collection,
        ...q,
        ...pre,
        pageCap: limits(c).maxTotalRecords,
        pageBytes: PAGE_BYTES,
        render: { protocol: "1.5", format, full: q.full },
      }),
    );
    if (!r.ok) fail(r.failure, r.ts);
    const extra: Record<string, string> = { "X-Weave-Records": String(r.count) };
    if (r.nextOffset !== undefined) {
      // A listing that started from a "<ms>:<n>" token keeps its bound on the next page.
      extra["X-Weave-Next-Offset"] = q.offsetBound === undefined ? String(r.nextOffset) : `${q.offsetBound}:${r.nextOffset}`;
    }
    return reply(r.body, r.ts, r.lastModified, extra, 200, CONTENT_TYPE[format]);
  });

  app.post(`${U}/storage/:collection`, validPath, ...user, async (c) => {
    const collection = collectionParam(c);
    const lim = limits(c);
    const batch = parseBatchQuery(query(c));
    const type = bodyType(c.req.header("Content-Type") ?? null);
    const bytes = await requestBody(c, lim.maxRequestBytes);
    const items = parsePostBody(bytes, type);
    if (items === undefined) throw badRequest(Code15.INVALID_BSO);
    checkAnnouncedSizes(c.req.raw.headers, [
      ["X-Weave-Records", lim.maxPostRecords],
      ["X-Weave-Bytes", lim.maxPostBytes],
      ["X-Weave-Total-Records", lim.maxTotalRecords],
      ["X-Weave-Total-Bytes", lim.maxTotalBytes],
    ]);
    const { records, failed } = postItems15(items, collection, lim);
    const pre = parsePreconditions(c.req.raw.headers);
    const r = await callStore(() =>
      store(c).post({
        collection,
        records,
        quota: lim.quotaBytes,
        ...pre,
        batch,
        batchLimits: { records: lim.maxTotalRecords, bytes: lim.maxTotalBytes },
      }),
    );
    if (!r.ok) fail(r.failure, r.ts);
    if (r.batch !== undefined) {
      // Staged only: 202, no "modified", the collection's unchanged timestamp (§9.2).
      return reply(renderPostResult({ batch: r.batch, success: r.success, failed }), r.ts, r.lastModified, {}, 202);
    }
    return reply(renderPostResult({ modified: r.ts, success: r.success, failed }), r.ts, r.lastModified);
  });

  app.delete(`${U}/storage/:collection`, validPath, ...user, async (c) => {
    const collection = collectionParam(c);
    const raw = query(c).get("ids");
    let ids: string[] | undefined;
    if (raw !== null) {
      ids = parseIds(raw);
      // An empty list would otherwise mean "the whole collection" (§10.1, recommended).
      if (ids.length === 0) throw badRequest();
    }
    const pre = parsePreconditions(c.req.raw.headers);
    const r = await callStore(() => store(c).deleteRecords({ collection, ...pre, ...(ids ? { ids } : {}) }));
    if (!r.ok) fail(r.failure, r.ts);
    return reply(formatTs(r.lastModified), r.ts, r.lastModified);
  });

  // -------- records (§7.6, §8.1, §10.2)

  app.get(`${U}/storage/:collection/:id`, validPath, ...user, async (c) => {
    const collection = collectionParam(c);
    const id = idParam(c);
    const pre = parsePreconditions(c.req.raw.headers);
    const r = await callStore(() => store(c).get({ collection, id, ...pre }));
    if (!r.ok) fail(r.failure, r.ts);
    return reply(renderBso(r.record), r.ts, r.lastModified);
  });

  app.put(`${U}/storage/:collection/:id`, validPath, ...user, async (c) => {
    const collection = collectionParam(c);
    const id = idParam(c);
    const lim = limits(c);
    // REF-QUIRK (§8.1): application/newlines passes the type gate, then fails as JSON.
    const type = bodyType(c.req.header("Content-Type") ?? null);
    const bytes = await requestBody(c, lim.maxRequestBytes);
    const body = type === "json" ? parseJsonBody(bytes) : undefined;
    if (!isJsonObject(body)) throw badRequest(Code15.INVALID_BSO);
    const v = validateBso(body);
    if (!v.ok) throw badRequest(Code15.INVALID_BSO);
    const payload = v.fields.payload;
    if (payload !== undefined && utf8Length(payload) > lim.maxRecordPayloadBytes) throw badRequest(Code15.INVALID_BSO);
    if (isKnownBadPayload(collection, payload)) throw badRequest(Code15.INVALID_BSO);
    const pre = parsePreconditions(c.req.raw.headers);
    const r = await callStore(() =>
      store(c).put({ collection, record: { ...v.fields, id }, quota: lim.quotaBytes, ...pre }),
    );
    if (!r.ok) fail(r.failure, r.ts);
    return reply(formatTs(r.ts), r.ts, r.ts);
  });

  app.delete(`${U}/storage/:collection/:id`, validPath, ...user, async (c) => {
    const collection = collectionParam(c);
    const id = idParam(c);
    const pre = parsePreconditions(c.req.raw.headers);
    const r = await callStore(() => store(c).deleteRecord({ collection, id, ...pre }));
    if (!r.ok) fail(r.failure, r.ts);
    return reply(`{"modified":${formatTs(r.ts)}}`, r.ts, r.lastModified);
  });

  // -------- 405 on known paths, 404 for everything else under /1.5 (§2, §11.2)

  for (const path of [
    `${U}/info/configuration`,
    `${U}/info/collections`,
    `${U}/info/collection_counts`,
    `${U}/info/collection_usage`,
    `${U}/info/quota`,
    U,
    `${U}/storage`,
  ]) {
    app.all(path, methodNotAllowed);
  }
  app.all(`${U}/storage/:collection`, validPath, methodNotAllowed);
  app.all(`${U}/storage/:collection/:id`, validPath, methodNotAllowed);
  app.all("/1.5/*", () => {
    throw notFound();
  });
  app.all("/1.5", () => {
    throw notFound();
  });
  return app;
}

/**
 * The production mount: Storage 1.5 behind Hawk (hawk.md). Mount it once,
 * `app.route("/", storage15App)`, and do not add `hawkAuth()` again with
 * `app.use`: the nonce of a request may only be seen once.
 */
export const storage15App: Hono<AppEnv> = storage15Routes(hawkAuth());
