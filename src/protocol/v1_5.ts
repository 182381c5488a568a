/**
 * @module v1_5
 * Storage 1.5 at the edge (storage-1.5.md): path and BSO validation (§2,
 * §4.1), client timestamps (§5.1), preconditions (§12.1-12.2), collection
 * query parameters and offset tokens (§7.1, §7.3), Accept / Content-Type
 * negotiation (§7.4, §8), request bodies including application/newlines
 * (§8.2), the batch parameters (§9.1), and rendering of records, results and
 * bare-number errors (§11). Nothing here touches storage.
 */
import { formatTs } from "../lib/timestamp";
import type { RecordFields, SortOrder, StoredRecord } from "../storage/types";
import { BodyTooLarge } from "./body";
import { ApiError, classify, INFRA_RETRY_AFTER_SECONDS, logCrash, logOutage } from "./errors";
import { isJsonObject, JsonNumber, parseJsonBody, parseJsonText, type JsonIn } from "./json";
import { hasLoneSurrogate, utf8Length } from "./v1_1";

// ------------------------------------------------------------------ errors

/** Weave error codes used by 1.5 bodies (storage-1.5 §11.1). */
export const Code15 = {
  GENERIC: 0,
  INVALID_BSO: 8,
  OVER_QUOTA: 14,
  SIZE_LIMIT: 17,
} as const;

/**
 * A 1.5 protocol error: an {@link ApiError} whose body is a bare JSON integer
 * (or nothing when `code` is null, as for 304/405/412). Rendered only by
 * {@link render15}.
 */
export class SyncError extends ApiError {
  constructor(status: number, code: number | null = Code15.GENERIC, headers: Record<string, string> = {}) {
    super(status, code, "", headers);
  }
}

export const badRequest = (code: number = Code15.GENERIC) => new SyncError(400, code);
export const notFound = () => new SyncError(404);

export function errorResponse15(err: ApiError): Response {
  const headers = new Headers(err.headers);
  if (err.code === null) return new Response(null, { status: err.status, headers });
  headers.set("Content-Type", "application/json");
  return new Response(String(err.code), { status: err.status, headers });
}

/**
 * The 1.5 renderer: protocol errors as they are, a body over the cap as 413 /
 * 17, an infrastructure failure as 503 / 0 with a short Retry-After, anything
 * else (a bug) as a logged 500.
 */
export function render15(err: unknown): Response {
  if (err instanceof ApiError) return errorResponse15(err);
  if (err instanceof BodyTooLarge) return errorResponse15(new SyncError(413, Code15.SIZE_LIMIT));
  const c = classify(err);
  if (c.kind === "outage") {
    logOutage(c.cause, "storage 1.5");
    return errorResponse15(new SyncError(503, Code15.GENERIC, { "Retry-After": String(INFRA_RETRY_AFTER_SECONDS) }));
  }
  logCrash(c.cause, "storage 1.5");
  return errorResponse15(new SyncError(500));
}

// ------------------------------------------------------------------ names and ids

export const COLLECTION_RE = /^[a-zA-Z0-9._-]{1,32}$/;
/** Printable ASCII, 1..64 characters; no `m` flag, so "A\n" fails (storage-1.5 §4.1). */
export const BSO_ID_RE = /^[ -~]{1,64}$/;
/** Our batch ids are 22 base64url characters; anything outside this alphabet cannot be one (§9.1). */
export const BATCH_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_IDS = 100;
export const MAX_SORTINDEX = 999_999_999;
export const MAX_TTL = 999_999_999;
/** Longest timestamp or count read from a header or parameter; longer ones are invalid (400 / 0). */
export const MAX_HEADER_NUMBER_CHARS = 64;
/** Longest Accept header negotiated; a longer one is answered as if absent (JSON). */
export const MAX_ACCEPT_CHARS = 4096;

// ------------------------------------------------------------------ timestamps

const DECIMAL = /^\s*\+?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/**
 * A client timestamp (decimal seconds) as ms, a multiple of 10
 * (storage-1.5 §5.1): round to the ms, then drop the last digit. Null for
 * non-numeric or negative text.
 */
export function parseTs15(text: string): number | null {
  if (text.length > MAX_HEADER_NUMBER_CHARS || !DECIMAL.test(text)) return null;
  const v = Number(text.trim());
  if (!Number.isFinite(v) || v < 0) return null;
  const ms = Math.min(Math.round(v * 1000), Number.MAX_SAFE_INTEGER);
  return ms - (ms % 10);
}

export interface Conditions {
  ifModifiedSince?: number;
  ifUnmodifiedSince?: number;
}

/** X-If-Modified-Since / X-If-Unmodified-Since (§12.1-12.2): both, or an invalid value → 400 / 0. */
export function parsePreconditions(headers: Headers): Conditions {
  const ims = headers.get("X-If-Modified-Since");
  const ius = headers.get("X-If-Unmodified-Since");
  if (ims !== null && ius !== null) throw badRequest();
  const out: Conditions = {};
  if (ims !== null) {
    const t = parseTs15(ims);
    if (t === null) throw badRequest();
    out.ifModifiedSince = t;
  }
  if (ius !== null) {
    const t = parseTs15(ius);
    if (t === null) throw badRequest();
    out.ifUnmodifiedSince = t;
  }
  return out;
}

// ------------------------------------------------------------------ query parameters

/** `ids=a,b,c` (§7.1): already percent-decoded, split, trimmed, empties dropped; ≤ 100 valid ids. */
export function parseIds(raw: string): string[] {
  const ids = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (ids.length > MAX_IDS) throw badRequest();
  for (const id of ids) if (!BSO_ID_RE.test(id)) throw badRequest();
  return ids;
}

export interface ListQuery {
  ids?: string[];
  newer?: number;
  older?: number;
  full: boolean;
  limit?: number;
  offset?: number;
  offsetBound?: number;
  sort?: SortOrder;
}

const UINT = /^\d+$/;

/** GET /storage/{c} parameters (storage-1.5 §7.1); unknown ones are ignored. */
export function parseListQuery(q: URLSearchParams): ListQuery {
  const out: ListQuery = { full: q.has("full") };
  const ids = q.get("ids");
  if (ids !== null) out.ids = parseIds(ids);
  for (const name of ["newer", "older"] as const) {
    const v = q.get(name);
    if (v === null) continue;
    const t = parseTs15(v);
    if (t === null) throw badRequest();
    out[name] = t;
  }
  const limit = q.get("limit");
  if (limit !== null) {
    if (!UINT.test(limit)) throw badRequest();
    out.limit = Math.min(Number(limit), Number.MAX_SAFE_INTEGER);
  }
  const offset = q.get("offset");
  if (offset !== null) {
    // Our own tokens are skip counts; the reference's "<ms>:<n>" form is accepted too (§7.3).
    const m = /^(?:(\d+):)?(\d+)$/.exec(offset);
    if (!m) throw badRequest();
    out.offset = Math.min(Number(m[2]), Number.MAX_SAFE_INTEGER);
    if (m[1] !== undefined) {
      const ms = Number(m[1]);
      if ((out.newer !== undefined && ms < out.newer) || (out.older !== undefined && ms > out.older)) throw badRequest();
      out.offsetBound = ms;
    }
  }
  const sort = q.get("sort");
  if (sort !== null) {
    if (sort !== "newest" && sort !== "oldest" && sort !== "index") throw badRequest();
    out.sort = sort;
  }
  return out;
}

export type BatchParam = { id: string | null; commit: boolean } | undefined;

/**
 * `batch` and `commit` (storage-1.5 §9.1). Returns undefined for a plain
 * POST, including `batch=true&commit=true`, which is exactly one.
 */
export function parseBatchQuery(q: URLSearchParams): BatchParam {
  const commitRaw = q.get("commit");
  if (commitRaw !== null && commitRaw.toLowerCase() !== "true") throw badRequest();
  const commit = commitRaw !== null;
  const batch = q.get("batch");
  if (batch === null) {
    if (commit) throw badRequest();
    return undefined;
  }
  if (batch === "" || batch.toLowerCase() === "true") return commit ? undefined : { id: null, commit: false };
  if (!BATCH_ID_RE.test(batch)) throw badRequest();
  return { id: batch, commit };
}

/** X-Weave-Records / -Bytes / -Total-Records / -Total-Bytes (§8.2, §9.5): non-integer → 400 / 0, over the limit → 400 / 17. */
export function checkAnnouncedSizes(headers: Headers, limits: Array<[string, number]>): void {
  for (const [name, max] of limits) {
    const v = headers.get(name);
    if (v === null) continue;
    if (v.length > MAX_HEADER_NUMBER_CHARS || !UINT.test(v.trim())) throw badRequest();
    if (Number(v.trim()) > max) throw badRequest(Code15.SIZE_LIMIT);
  }
}

// ------------------------------------------------------------------ negotiation

export type OutputFormat = "json" | "newlines";

/**
 * Collection GET output (storage-1.5 §7.4): Accept entries by q (stable),
 * first usable one wins; text/plain and application/* count as JSON. No
 * header or an unparseable one → JSON; nothing usable → 406.
 */
export function negotiate15(accept: string | null): OutputFormat {
  if (accept === null || accept.length > MAX_ACCEPT_CHARS || accept.trim() === "") return "json";
  const entries: Array<{ media: string; q: number; i: number }> = [];
  accept.split(",").forEach((part, i) => {
    const [mediaRaw, ...params] = part.split(";");
    const media = (mediaRaw ?? "").trim().toLowerCase();
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split("=", 2).map((s) => s.trim());
      if (k === "q" && v !== undefined) {
        const n = Number(v);
        if (!Number.isNaN(n)) q = n;
      }
    }
    if (media !== "") entries.push({ media, q, i });
  });
  if (entries.length === 0) return "json";
  entries.sort((a, b) => b.q - a.q || a.i - b.i);
  for (const e of entries) {
    if (e.q <= 0) continue;
    switch (e.media) {
      case "*/*":
      case "application/*":
      case "application/json":
      case "text/plain":
        return "json";
      case "application/newlines":
        return "newlines";
    }
  }
  throw new SyncError(406);
}

export type BodyType = "json" | "newlines";

/**
 * Request body type from Content-Type (storage-1.5 §8.1, §8.2): JSON for
 * application/json, text/plain and a missing header (as Python did);
 * application/newlines; anything else → 415. Parameters are ignored.
 */
export function bodyType(contentType: string | null): BodyType {
  const media = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (media === "" || media === "application/json" || media === "text/plain") return "json";
  if (media === "application/newlines") return "newlines";
  throw new SyncError(415);
}

/**
 * A POST body as a list of JSON values (§8.2): a JSON array, or one JSON
 * value per line for application/newlines (empty body: empty list; a final
 * newline and `\r\n` endings tolerated; an empty line is an error).
 * Undefined when the body is not acceptable at all (→ 400 / 8).
 */
export function parsePostBody(bytes: ArrayBuffer, type: BodyType): JsonIn[] | undefined {
  if (type === "json") {
    const v = parseJsonBody(bytes);
    return Array.isArray(v) ? v : undefined;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return undefined;
  }
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const out: JsonIn[] = [];
  for (const raw of lines) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") return undefined;
    const v = parseJsonText(line);
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}

// ------------------------------------------------------------------ BSOs

const KNOWN_FIELDS = new Set(["id", "sortindex", "payload", "ttl", "modified", "collection"]);

export type BsoVerdict = { ok: true; fields: Omit<RecordFields, "id">; id?: string } | { ok: false; error: string };

function integerIn(v: JsonIn, min: number, max: number): number | null {
  let n: number;
  if (typeof v === "number") n = v;
  else if (v instanceof JsonNumber && v.isInteger) n = v.value;
  else return null;
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : null;
}

/**
 * One BSO object (storage-1.5 §4.1): unknown keys, wrong types and values
 * out of range make it invalid; null counts as absent; `modified` and
 * `collection` are accepted and ignored. Payload size is checked by the caller.
 */
export function validateBso(obj: { [k: string]: JsonIn }): BsoVerdict {
  for (const k of Object.keys(obj)) if (!KNOWN_FIELDS.has(k)) return { ok: false, error: `unknown field ${k}` };
  const fields: Omit<RecordFields, "id"> = {};
  let id: string | undefined;
  if (obj.id !== undefined && obj.id !== null) {
    if (typeof obj.id !== "string" || !BSO_ID_RE.test(obj.id)) return { ok: false, error: "invalid id" };
    id = obj.id;
  }
  if (obj.sortindex !== undefined && obj.sortindex !== null) {
    const n = integerIn(obj.sortindex, -MAX_SORTINDEX, MAX_SORTINDEX);
    if (n === null) return { ok: false, error: "invalid sortindex" };
    fields.sortindex = n === 0 ? 0 : n;
  }
  if (obj.ttl !== undefined && obj.ttl !== null) {
    const n = integerIn(obj.ttl, 0, MAX_TTL);
    if (n === null) return { ok: false, error: "invalid ttl" };
    fields.ttl = n === 0 ? 0 : n;
  }
  if (obj.payload !== undefined && obj.payload !== null) {
    // SQLite stores UTF-8, which cannot hold a lone surrogate: it would be stored altered.
    if (typeof obj.payload !== "string" || hasLoneSurrogate(obj.payload)) return { ok: false, error: "invalid payload" };
    fields.payload = obj.payload;
  }
  return id === undefined ? { ok: true, fields } : { ok: true, fields, id };
}

export { isJsonObject, parseJsonBody, utf8Length, type JsonIn };

/** An all-zero IV from a historic client bug (storage-1.5 §13.3); refused in `crypto` only. */
const KNOWN_BAD_CRYPTO = /IV":\s*"AAAAAAAAAAAAAAAAAAAAAA==/;

export function isKnownBadPayload(collection: string, payload: string | undefined): boolean {
  return collection === "crypto" && payload !== undefined && KNOWN_BAD_CRYPTO.test(payload);
}

// ------------------------------------------------------------------ rendering

/** A record as 1.5 shows it: id, modified, payload, and sortindex when set (§7.4). */
export function renderBso(r: StoredRecord): string {
  const si = r.sortindex === null ? "" : `,"sortindex":${r.sortindex}`;
  return `{"id":${JSON.stringify(r.id)},"modified":${formatTs(r.modified ?? 0)},"payload":${JSON.stringify(r.payload ?? "")}${si}}`;
}

/** A list in the negotiated format (§7.4). JSON.stringify never leaves a literal newline in its text. */
export function renderList(items: string[], format: OutputFormat): string {
  return format === "json" ? `[${items.join(",")}]` : items.map((i) => `${i}\n`).join("");
}

export const CONTENT_TYPE: Record<OutputFormat, string> = {
  json: "application/json",
  newlines: "application/newlines",
};

/** `{"name": value, ...}` with values already rendered as JSON text. */
export function renderObject(entries: Array<[string, string]>): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`;
}

/** The POST / batch result body (§8.2, §9.2). `modified` absent for a 202. */
export function renderPostResult(r: {
  modified?: number;
  batch?: string;
  success: string[];
  failed: Map<string, string>;
}): string {
  const parts: string[] = [];
  if (r.modified !== undefined) parts.push(`"modified":${formatTs(r.modified)}`);
  if (r.batch !== undefined) parts.push(`"batch":${JSON.stringify(r.batch)}`);
  parts.push(`"success":${JSON.stringify(r.success)}`);
  const failed: string[] = [];
  for (const [key, message] of r.failed) failed.push(`${JSON.stringify(key)}:${JSON.stringify(message)}`);
  parts.push(`"failed":{${failed.join(",")}}`);
  return `{${parts.join(",")}}`;
}
