/**
 * @module storage-1.1
 * The Storage API 1.1 route table (storage-1.1 §3.2). Every handler reads the
 * same way: parse (protocol/v1_1), one call to the user's Durable Object,
 * render. The pipeline (pipeline-1x) has already authenticated the user and
 * checked that the path's user is the authenticated one.
 */
import type { Config } from "../config";
import type { Principal } from "../env";
import { formatTs } from "../lib/timestamp";
import { HttpError, WeaveCode, WeaveError } from "../protocol/errors";
import { pyFloat, pyStrFloat, pyString, Raw } from "../protocol/pyjson";
import { decodeBody, isJsonObject, parseJsonBody, type JsonIn } from "../protocol/json";
import { loneObjectId, postItems11, type Post11Body, type PostItems } from "../protocol/post-items";
import {
  CONTENT_TYPES,
  jsonResponse,
  negotiate,
  parseIfUnmodifiedSince,
  parseListQuery,
  renderList,
  failed11Pieces,
  renderFailed11,
  renderMap,
  renderRecord,
  tsBody,
  validateWbo,
} from "../protocol/v1_1";
import { LIST_PAGE_11, listPages } from "../storage/paging";
import { callStore, userStoreFor } from "../storage/stub";
import type { Failure, RecordFields } from "../storage/types";
import { readCapped, toArrayBuffer, BODY_LIMITS } from "../protocol/body";
import { COLLECTION, ITEM_ID, USER, VERSION, type LegacyContext, type LegacyRoute } from "./pipeline-1x";

/** Bodies above this are refused while reading, before parsing (400, Weave code 17 "size limit exceeded"). */
export const MAX_BODY_BYTES = BODY_LIMITS.storage11;

const P = `/${VERSION}/${USER}`;
const re = (s: string) => `${P}${s}`;

function store(c: LegacyContext) {
  return userStoreFor(c.env, c.principal as Principal);
}

/** Maps an engine failure to the 1.1 wire error. */
function fail(f: Failure, collection: string): never {
  switch (f.kind) {
    case "precondition-failed":
      throw new HttpError(412, collection);
    case "over-quota":
      throw new WeaveError(WeaveCode.OVER_QUOTA);
    case "rejected":
      throw new WeaveError(f.code);
    case "not-found":
      throw new HttpError(404);
    case "not-modified":
    case "batch-not-found":
    case "too-large":
      // 1.5-only outcomes (X-If-Modified-Since, batches): 1.1 never asks for them.
      throw new Error(`unexpected storage failure for 1.1: ${f.kind}`);
  }
}

function quotaLimit(config: Config): number | null {
  return config.useQuota ? config.quotaSizeKb * 1024 : null;
}

/** X-Weave-Quota-Remaining when 1 MB or less is left, from the pre-write usage (storage-1.1 §11). */
function quotaHeader(config: Config, usedBefore: number | undefined): Record<string, string> {
  if (!config.useQuota || usedBefore === undefined) return {};
  const left = config.quotaSizeKb - usedBefore / 1024;
  return left <= 1024 ? { "X-Weave-Quota-Remaining": pyStrFloat(left) } : {};
}

function stamped(body: string, ts: number, extra: Record<string, string> = {}): Response {
  return jsonResponse(body, { "X-Weave-Timestamp": formatTs(ts), ...extra });
}

async function readBody(req: Request): Promise<ArrayBuffer> {
  return toArrayBuffer(await readCapped(req, MAX_BODY_BYTES));
}

/** PUT of one record, also used for a POST whose body is a single object with an id (§8.8 step 3). */
async function putOne(
  c: LegacyContext,
  collection: string,
  id: string,
  body: JsonIn | undefined,
  ius: number | undefined,
  preconditionFirst = false,
) {
  let record: RecordFields = { id };
  let rejectAfterChecks: number | undefined;
  if (body === undefined) rejectAfterChecks = WeaveCode.JSON_PARSE;
  else if (!isJsonObject(body)) rejectAfterChecks = WeaveCode.INVALID_WBO;
  else {
    const v = validateWbo(body);
    if (!v.ok) rejectAfterChecks = WeaveCode.INVALID_WBO;
    else record = { ...v.fields, id };
  }
  const r = await callStore(() =>
    store(c).put({
      collection,
      record,
      quota: quotaLimit(c.config),
      ifUnmodifiedSince: ius,
      rejectAfterChecks,
      preconditionFirst,
    }),
  );
  if (!r.ok) fail(r.failure, collection);
  return stamped(tsBody(r.modified), r.ts, quotaHeader(c.config, r.usedBefore));
}

async function getCollection(c: LegacyContext): Promise<Response> {
  const collection = c.params.collection as string;
  const filter = parseListQuery(collection, c.query);
  const format = negotiate(c.accept);
  // Rendered in the store, paged out of it when longer than a page (storage/paging, D20).
  const pages = await listPages(store(c), filter, LIST_PAGE_11, { protocol: "1.1", format, full: filter.full });
  if (!pages.ok) fail(pages.failure, collection);
  const headers = {
    "Content-Type": CONTENT_TYPES[format],
    "X-Weave-Records": String(pages.total),
    "X-Weave-Timestamp": formatTs(pages.ts),
  };
  return new Response(pages.body, { headers });
}

async function postCollection(c: LegacyContext): Promise<Response> {
  const collection = c.params.collection as string;
  const ius = parseIfUnmodifiedSince(c.req);
  const text = decodeBody(await readBody(c.req));
  const parsed: Post11Body =
    text === undefined ? { kind: "value", value: undefined } : postItems11(text, { maxCount: c.config.batchMaxCount, maxBytes: c.config.batchMaxBytes });
  let items: PostItems = { records: [], failed: new Map() };
  let rejectAfterChecks: number | undefined;
  if (parsed.kind === "items") {
    items = parsed.items;
  } else if (parsed.value === undefined) {
    rejectAfterChecks = WeaveCode.JSON_PARSE;
  } else {
    // A lone object with an id is a PUT of that id (§8.8 step 3).
    const id = loneObjectId(parsed.value);
    if (id !== null) {
      // The POST checks X-If-Unmodified-Since before handing over to PUT, whose
      // own first check is the quota (§8.8 step 1 then §8.7 step 1): a stale
      // header must win over "over quota".
      return putOne(c, collection, id, parsed.value, ius, true);
    }
    rejectAfterChecks = WeaveCode.INVALID_WBO;
  }
  const { records, failed } = items;
  const r = await callStore(() =>
    store(c).post({
      collection,
      records,
      quota: quotaLimit(c.config),
      ifUnmodifiedSince: ius,
      rejectAfterChecks,
    }),
  );
  if (!r.ok) fail(r.failure, collection);
  // A record id failing after an earlier success keeps both entries, as the reference reports them.
  const tail = `, "modified": ${formatTs(r.ts)}, "success": [${r.success.map(pyString).join(", ")}]}`;
  const headers = quotaHeader(c.config, r.usedBefore);
  if (failed.size <= STREAM_FAILED_OVER) return stamped(`{"failed": ${renderFailed11(failed)}${tail}`, r.ts, headers);
  // Only a POST far past the count limit gets here: its answer is written as it is sent.
  const encoder = new TextEncoder();
  const pieces = failed11Pieces(failed);
  let done = false;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(`{"failed": `));
    },
    pull(controller) {
      if (done) return;
      const next = pieces.next();
      if (next.done) {
        done = true;
        controller.enqueue(encoder.encode(tail));
        controller.close();
      } else {
        controller.enqueue(encoder.encode(next.value));
      }
    },
  });
  return new Response(stream, { status: 200, headers: { "Content-Type": "application/json", "X-Weave-Timestamp": formatTs(r.ts), ...headers } });
}

/** A POST answer listing more failures than this is streamed (a normal one lists at most a few hundred). */
const STREAM_FAILED_OVER = 10_000;

const routes: LegacyRoute[] = [
  {
    method: "GET",
    path: re("/info/collections"),
    auth: "basic",
    async handler(c) {
      const r = await callStore(() => store(c).info({ view: "collections" }));
      if (!r.ok) fail(r.failure, "");
      const collections = r.collections ?? [];
      const format = negotiate(c.accept);
      const headers = {
        "X-Weave-Records": String(collections.length),
        "X-Weave-Timestamp": formatTs(r.ts),
      };
      if (format !== "json") {
        // REF-QUIRK (§7.3): only the keys survive the list encodings.
        const body = renderList(collections.map(([name]) => pyString(name)), format);
        return new Response(body, { headers: { "Content-Type": CONTENT_TYPES[format], ...headers } });
      }
      return jsonResponse(renderMap(collections.map(([n, m]) => [n, m === null ? null : new Raw(formatTs(m))])), headers);
    },
  },
  {
    method: "GET",
    path: re("/info/collection_counts"),
    auth: "basic",
    async handler(c) {
      const r = await callStore(() => store(c).info({ view: "counts" }));
      if (!r.ok) fail(r.failure, "");
      const totals = r.totals ?? [];
      const format = negotiate(c.accept);
      const headers = { "X-Weave-Records": String(totals.length), "X-Weave-Timestamp": formatTs(r.ts) };
      if (format !== "json") {
        const body = renderList(totals.map((t) => pyString(t.name)), format);
        return new Response(body, { headers: { "Content-Type": CONTENT_TYPES[format], ...headers } });
      }
      return jsonResponse(renderMap(totals.map((t) => [t.name, t.records])), headers);
    },
  },
  {
    method: "GET",
    path: re("/info/quota"),
    auth: "basic",
    async handler(c) {
      const r = await callStore(() => store(c).info({ view: "quota" }));
      if (!r.ok) fail(r.failure, "");
      const limit = c.config.useQuota ? String(c.config.quotaSizeKb) : "null";
      return stamped(`[${pyFloat((r.used ?? 0) / 1024).text}, ${limit}]`, r.ts);
    },
  },
  {
    method: "GET",
    path: re("/info/collection_usage"),
    auth: "basic",
    async handler(c) {
      const r = await callStore(() => store(c).info({ view: "usage" }));
      if (!r.ok) fail(r.failure, "");
      return stamped(renderMap((r.totals ?? []).map((t) => [t.name, pyFloat(t.bytes / 1024)])), r.ts);
    },
  },
  {
    method: "GET",
    path: re(`/storage/${COLLECTION}`),
    auth: "basic",
    handler: getCollection,
  },
  {
    method: "POST",
    path: re(`/storage/${COLLECTION}`),
    auth: "basic",
    handler: postCollection,
  },
  {
    method: "PUT",
    path: re(`/storage/${COLLECTION}`),
    auth: "basic",
    handler: postCollection,
  },
  {
    method: "DELETE",
    path: re(`/storage/${COLLECTION}`),
    auth: "basic",
    async handler(c) {
      const collection = c.params.collection as string;
      const filter = parseListQuery(collection, c.query);
      const ius = parseIfUnmodifiedSince(c.req);
      const { full: _full, ...selection } = filter;
      const r = await callStore(() => store(c).deleteRecords({ ...selection, ifUnmodifiedSince: ius }));
      if (!r.ok) fail(r.failure, collection);
      return stamped(formatTs(r.ts), r.ts);
    },
  },
  {
    method: "GET",
    path: re(`/storage/${COLLECTION}/${ITEM_ID}`),
    auth: "basic",
    async handler(c) {
      const collection = c.params.collection as string;
      const r = await callStore(() => store(c).get({ collection, id: c.params.id as string }));
      if (!r.ok) fail(r.failure, collection);
      return stamped(renderRecord(r.record), r.ts);
    },
  },
  {
    method: "PUT",
    path: re(`/storage/${COLLECTION}/${ITEM_ID}`),
    auth: "basic",
    async handler(c) {
      const ius = parseIfUnmodifiedSince(c.req);
      // A body id is validated like any other (§5.2 V2) but the URL id wins (§5.1).
      const body = parseJsonBody(await readBody(c.req));
      return putOne(c, c.params.collection as string, c.params.id as string, body, ius);
    },
  },
  {
    method: "DELETE",
    path: re(`/storage/${COLLECTION}/${ITEM_ID}`),
    auth: "basic",
    async handler(c) {
      const collection = c.params.collection as string;
      const ius = parseIfUnmodifiedSince(c.req);
      const r = await callStore(() => store(c).deleteRecord({ collection, id: c.params.id as string, ifUnmodifiedSince: ius }));
      if (!r.ok) fail(r.failure, collection);
      return stamped(formatTs(r.ts), r.ts);
    },
  },
  {
    method: "DELETE",
    path: re("/storage"),
    auth: "basic",
    async handler(c) {
      if (!c.req.headers.has("X-Confirm-Delete")) throw new WeaveError(WeaveCode.INVALID_WRITE);
      const r = await callStore(() => store(c).deleteStorage({}));
      if (!r.ok) fail(r.failure, "");
      return stamped(formatTs(r.ts), r.ts);
    },
  },
];

/** Every 1.1 storage route only runs storage operations: all use the store fast path (pipeline-1x `gated`). */
export const storage11Routes: LegacyRoute[] = routes.map((r) => ({ ...r, gated: true }));
