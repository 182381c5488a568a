/**
 * @module v1_1
 * Storage 1.1 at the edge: WBO validation and conversion (storage-1.1 §5.2),
 * query parameters (§9), Accept negotiation (§7.2), and rendering of records,
 * lists and info answers byte for byte (§7). Nothing here touches storage.
 */
import { formatTs, parseTs11 } from "../lib/timestamp";
import { utf8Length } from "../lib/utf8";
import type { RecordFields, RecordFilter, SortOrder, StoredRecord } from "../storage/types";
import { HttpError } from "./errors";
import { isScalar, JsonNumber, type JsonIn } from "./json";
import { dumps, pyStrFloat, pyString, type PyValue } from "./pyjson";

export const MAX_PAYLOAD_BYTES = 262144;
export const MAX_TTL = 31536000;
export const MAX_SORTINDEX = 999999999;
export const MAX_ID_LENGTH = 64;
/** Most ids one `ids=` may list (the reference had no cap; URL length was its only bound). */
export const MAX_IDS = 1000;
/** Longest timestamp text read from a header or parameter (a real one has 13 characters). */
export const MAX_TIMESTAMP_CHARS = 64;
/** Longest Accept header negotiated; a longer one is answered as if absent (JSON). */
export const MAX_ACCEPT_CHARS = 4096;

/** V1 (storage-1.1 §5.2): every value of the object is null, a number, a boolean or a string. */
export function hasOnlyScalars(obj: { [k: string]: JsonIn }): boolean {
  return Object.values(obj).every(isScalar);
}

/** Python 2 `str()` of a JSON scalar; null for non-ASCII text (the reference crashes there: treated as invalid). */
export function pyStr(v: JsonIn): string | null {
  if (typeof v === "string") return /^[\x00-\x7f]*$/.test(v) ? v : null;
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return String(v); // a short integer token ("-0" reads as "0", like Python)
  if (v instanceof JsonNumber) {
    if (v.isInteger) return BigInt(v.source).toString();
    // NaN/Infinity literals: invalid (storage-1.1 §5.2 REF-BUG). An overflowing
    // number such as 1e999 is a Python float inf, and str() of it is "inf".
    if (!Number.isFinite(v.value)) return /^-?\d/.test(v.source) ? pyStrFloat(v.value) : null;
    return pyStrFloat(v.value);
  }
  return "None";
}

const PY_INT = /^\s*[+-]?\d+\s*$/;
const PY_FLOAT = /^\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)\s*$/i;

/** Python int(): ints, bools, floats truncated, decimal-integer strings. Null when not convertible. */
export function pyInt(v: JsonIn): number | null {
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "number") return v === 0 ? 0 : v;
  if (v instanceof JsonNumber) return v.isInteger ? Number(BigInt(v.source)) : Number.isFinite(v.value) ? Math.trunc(v.value) : null;
  if (typeof v === "string" && PY_INT.test(v)) return Number(v.trim());
  return null;
}

/** Python float() for strings (accepts inf/nan, whitespace, exponents). */
export function pyFloatParse(s: string): number | null {
  if (!PY_FLOAT.test(s)) return null;
  const t = s.trim().toLowerCase().replace(/^\+/, "");
  if (t.endsWith("inf") || t.endsWith("infinity")) return t.startsWith("-") ? -Infinity : Infinity;
  if (t.endsWith("nan")) return NaN;
  return Number(t);
}

export type WboVerdict = { ok: true; fields: Omit<RecordFields, "id">; id: string | null } | { ok: false; key: string; error: string };

/**
 * Validates one WBO object per V1-V5 (storage-1.1 §5.2). `id` is the
 * converted body id (null when absent); the first failing rule wins.
 * Unknown keys are type-checked only; username/collection/payload_size are ignored.
 */
export function validateWbo(obj: { [k: string]: JsonIn }): WboVerdict {
  for (const v of Object.values(obj)) if (!isScalar(v)) return { ok: false, key: "", error: "invalid wbo" };
  const get = (k: string): JsonIn => (Object.prototype.hasOwnProperty.call(obj, k) ? (obj[k] as JsonIn) : null);
  const idRaw = get("id");
  const id = idRaw === null ? null : pyStr(idRaw);
  const key = id ?? "";
  const fields: Omit<RecordFields, "id"> = {};
  for (const name of ["parentid", "id", "predecessorid"] as const) {
    const raw = get(name);
    if (raw === null) continue;
    const s = name === "id" ? id : pyStr(raw);
    if (s === null || s.length > MAX_ID_LENGTH) return { ok: false, key, error: `invalid ${name}` };
    if (name !== "id") fields[name] = s;
  }
  const ttlRaw = get("ttl");
  if (ttlRaw !== null) {
    const ttl = pyInt(ttlRaw);
    if (ttl === null || ttl < 0 || ttl > MAX_TTL) return { ok: false, key, error: "invalid ttl" };
    fields.ttl = ttl;
  }
  const siRaw = get("sortindex");
  if (siRaw !== null) {
    let si = pyInt(siRaw);
    if (si === null && typeof siRaw === "string") {
      const f = pyFloatParse(siRaw);
      si = f !== null && Number.isFinite(f) ? Math.trunc(f) : null;
    }
    if (si === null || !Number.isFinite(si) || si < -MAX_SORTINDEX || si > MAX_SORTINDEX) {
      return { ok: false, key, error: "invalid sortindex" };
    }
    fields.sortindex = si === 0 ? 0 : si; // normalise -0
  }
  const payload = get("payload");
  if (payload !== null) {
    if (typeof payload !== "string") return { ok: false, key, error: "payload not a string" };
    // A character is 1 to 3 UTF-8 bytes (4 for a pair of 2 characters): count only when it matters.
    if (payload.length > MAX_PAYLOAD_BYTES || (payload.length * 3 > MAX_PAYLOAD_BYTES && utf8Length(payload) > MAX_PAYLOAD_BYTES)) {
      return { ok: false, key, error: "payload too large" };
    }
    // SQLite stores text as UTF-8, which cannot hold a lone surrogate: storing
    // one would silently return U+FFFD instead. Refuse rather than corrupt.
    if (hasLoneSurrogate(payload)) return { ok: false, key, error: "invalid wbo" };
    fields.payload = payload;
  }
  return { ok: true, fields, id };
}

/** True when the string holds a UTF-16 surrogate that is not part of a pair (not representable in UTF-8). */
export function hasLoneSurrogate(s: string): boolean {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

export { utf8Length };

// ------------------------------------------------------------------ query parameters

function invalid(param: string): HttpError {
  return new HttpError(400, `Invalid value for "${param}"`);
}

/** GET/DELETE /storage/<c> parameters (storage-1.1 §9), validated in the reference's order. */
export function parseListQuery(collection: string, q: Map<string, string>): RecordFilter & { full: boolean } {
  const f: RecordFilter & { full: boolean } = { collection, full: false };
  for (const name of ["older", "newer"] as const) {
    const v = q.get(name);
    if (v === undefined) continue;
    const ts = v.length > MAX_TIMESTAMP_CHARS ? null : parseTs11(v);
    if (ts === null) throw invalid(name);
    f[name] = ts;
  }
  for (const [name, key] of [
    ["index_above", "indexAbove"],
    ["index_below", "indexBelow"],
  ] as const) {
    const v = q.get(name);
    if (v === undefined) continue;
    const x = pyFloatParse(v);
    if (x === null) throw invalid(name);
    f[key] = x;
  }
  const limitText = q.get("limit");
  let limit: number | undefined;
  if (limitText !== undefined) {
    if (!PY_INT.test(limitText)) throw invalid("limit");
    limit = Number(limitText.trim());
  }
  const offsetText = q.get("offset");
  let offset: number | undefined;
  if (offsetText !== undefined) {
    if (!PY_INT.test(offsetText)) throw invalid("offset");
    offset = Number(offsetText.trim());
  }
  if (limit !== undefined && limit > 0) f.limit = limit;
  // offset counts only together with a limit parameter, whatever its value.
  if (limitText !== undefined && offset !== undefined && offset > 0) f.offset = offset;
  const ids = q.get("ids");
  if (ids !== undefined) {
    f.ids = ids.split(",", MAX_IDS + 1);
    if (f.ids.length > MAX_IDS) throw invalid("ids");
  }
  const parentid = q.get("parentid");
  if (parentid !== undefined) f.parentid = parentid;
  const predecessorid = q.get("predecessorid");
  if (predecessorid !== undefined) f.predecessorid = predecessorid;
  const sort = q.get("sort");
  if (sort === "oldest" || sort === "newest" || sort === "index") f.sort = sort as SortOrder;
  const full = q.get("full");
  f.full = full !== undefined && full !== "";
  return f;
}

/** X-If-Unmodified-Since as ms, undefined when absent; 400 when unparsable (REF-BUG fixed). */
export function parseIfUnmodifiedSince(req: Request): number | undefined {
  const h = req.headers.get("X-If-Unmodified-Since");
  if (h === null) return undefined;
  const ts = h.length > MAX_TIMESTAMP_CHARS ? null : parseTs11(h);
  if (ts === null) throw invalid("X-If-Unmodified-Since");
  return ts;
}

// ------------------------------------------------------------------ Accept

export type ListFormat = "json" | "newlines" | "whoisi";
const OFFERS: Array<[string, ListFormat]> = [
  ["application/json", "json"],
  ["application/newlines", "newlines"],
  ["application/whoisi", "whoisi"],
];

/** One `, media-range [params] ;q=value` part, as WebOb 1.0's Accept.parse reads it. */
const ACCEPT_PART = /,\s*([^\s;,\n]+)(?:[^,]*?;\s*q=([0-9.]*))?/g;

/** (media range, q) pairs with q > 0, as WebOb 1.0 MIMEAccept parses them (storage-1.1 §7.2). */
function parseAccept(accept: string): Array<{ mask: string; q: number }> {
  const out: Array<{ mask: string; q: number }> = [];
  for (const m of `,${accept}`.matchAll(ACCEPT_PART)) {
    const mask = m[1] as string;
    if (mask === "q") continue;
    let q = 1;
    const qText = m[2] ?? "";
    if (qText !== "") {
      const n = Number(qText);
      if (!Number.isNaN(n)) q = Math.max(Math.min(n, 1), 0);
    }
    const halves = mask.split("/");
    if (halves.length !== 2) continue; // no "/" or more than one
    if (halves[0] === "*" && halves[1] !== "*") continue;
    if (q > 0) out.push({ mask, q });
  }
  return out;
}

function maskMatches(mask: string, offer: string): boolean {
  if (mask === "*/*") return true;
  if (mask.endsWith("/*")) return offer.split("/")[0] === mask.slice(0, -2);
  return mask === offer;
}

const stars = (s: string) => s.split("*").length - 1;

/** WebOb 1.0 best_match over json, newlines, whoisi (storage-1.1 §7.2). */
export function negotiate(accept: string | null): ListFormat {
  // Absent, or what most clients send: JSON without a look at the header.
  if (!accept || accept === "*/*" || accept.length > MAX_ACCEPT_CHARS) return "json";
  // A client sends the same header on every request: the answer is kept per isolate.
  const known = negotiated.get(accept);
  if (known !== undefined) return known;
  const format = bestMatch(accept);
  if (negotiated.size >= NEGOTIATED_MAX) negotiated.clear();
  negotiated.set(accept, format);
  return format;
}

/** {@link negotiate}'s answers by Accept header (at most {@link NEGOTIATED_MAX}, then started afresh). */
const negotiated = new Map<string, ListFormat>();
const NEGOTIATED_MAX = 64;

function bestMatch(accept: string): ListFormat {
  const ranges = parseAccept(accept);
  let best: ListFormat = "json";
  let bestQ = -1;
  let matchedBy = "*/*";
  for (const [offer, format] of OFFERS) {
    for (const { mask, q } of ranges) {
      if (q < bestQ) continue;
      // On equal q a more specific range wins ("a/b" over "a/*" over "*/*"), else the earlier offer.
      if (q === bestQ && stars(matchedBy) <= stars(mask)) continue;
      if (!maskMatches(mask, offer)) continue;
      best = format;
      bestQ = q;
      matchedBy = mask;
    }
  }
  return best;
}

// ------------------------------------------------------------------ rendering

const encoder = new TextEncoder();
export const CONTENT_TYPES: Record<ListFormat, string> = {
  json: "application/json",
  newlines: "application/newlines",
  whoisi: "application/whoisi",
};

/** Renders a list of pre-serialized JSON items in the negotiated encoding (storage-1.1 §7.3). */
export function renderList(items: string[], format: ListFormat): string | Uint8Array {
  switch (format) {
    case "json":
      return `[${items.join(", ")}]`;
    case "newlines":
      return items.map((i) => `${i}\n`).join("");
    case "whoisi": {
      const parts = items.map((i) => encoder.encode(i));
      const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
      const view = new DataView(out.buffer);
      let o = 0;
      for (const p of parts) {
        view.setUint32(o, p.length);
        out.set(p, o + 4);
        o += 4 + p.length;
      }
      return out;
    }
  }
}

type FieldName = "id" | "parentid" | "predecessorid" | "sortindex" | "modified" | "payload";

/**
 * The reference's key order for a record object, by the set of keys present
 * (storage-1.1 Appendix B). Index bits: 1 modified, 2 payload, 4 sortindex,
 * 8 parentid, 16 predecessorid.
 */
const KEY_ORDERS: string[] = (() => {
  const table: Array<[string, string]> = [
    ["", "id"],
    ["m", "id m"],
    ["p", "id p"],
    ["mp", "p id m"],
    ["s", "s id"],
    ["sp", "s id p"],
    ["sm", "s id m"],
    ["smp", "s p id m"],
    ["a", "id a"],
    ["am", "id m a"],
    ["ap", "p id a"],
    ["amp", "p id m a"],
    ["as", "s id a"],
    ["asp", "s p id a"],
    ["asm", "s id m a"],
    ["asmp", "s p id m a"],
    ["b", "b id"],
    ["bm", "b id m"],
    ["bp", "b id p"],
    ["bmp", "b p id m"],
    ["bs", "b id s"],
    ["bsp", "b p id s"],
    ["bsm", "b id m s"],
    ["bsmp", "b p id m s"],
    ["ba", "b id a"],
    ["bap", "b p id a"],
    ["bam", "b id m a"],
    ["bamp", "b p id m a"],
    ["bas", "b s id a"],
    ["basp", "b s p id a"],
    ["basm", "b s id m a"],
    ["basmp", "s m id b a p"],
  ];
  const bits: Record<string, number> = { m: 1, p: 2, s: 4, a: 8, b: 16 };
  const out: string[] = new Array(32).fill("");
  for (const [present, order] of table) {
    let idx = 0;
    for (const ch of present) idx |= bits[ch] as number;
    out[idx] = order;
  }
  return out;
})();

const LETTER: Record<string, FieldName> = { id: "id", m: "modified", p: "payload", s: "sortindex", a: "parentid", b: "predecessorid" };

/** {@link KEY_ORDERS} as field names, each with the text that opens it (`{"id": ` or `, "id": `). */
const FIELD_ORDERS: Array<Array<[FieldName, string]>> = KEY_ORDERS.map((order) =>
  order.split(" ").map((letter, i) => {
    const field = LETTER[letter] as FieldName;
    return [field, `${i === 0 ? "{" : ", "}"${field}": `];
  }),
);

/** A record object's JSON text with the reference's key order and number formats (built by concatenation: a listing renders thousands). */
export function renderRecord(r: StoredRecord): string {
  let idx = 0;
  if (r.modified !== null) idx |= 1;
  if (r.payload !== null) idx |= 2;
  if (r.sortindex !== null) idx |= 4;
  if (r.parentid !== null) idx |= 8;
  if (r.predecessorid !== null) idx |= 16;
  let out = "";
  for (const [field, open] of FIELD_ORDERS[idx] as Array<[FieldName, string]>) {
    out += open;
    if (field === "modified") out += formatTs(r.modified as number);
    else if (field === "sortindex") out += String(r.sortindex);
    else out += pyString(r[field] as string);
  }
  return `${out}}`;
}

export function jsonResponse(body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status: 200, headers: { "Content-Type": "application/json", ...headers } });
}

export function tsBody(ms: number | null): string {
  return ms === null ? "null" : formatTs(ms);
}

/**
 * `{name: value}` maps of info/* and the batch `failed` map, with Python's
 * separators. Built from the entries directly: a plain object would turn a
 * collection or record named `__proto__` into a prototype change and drop it.
 */
export function renderMap(entries: Array<[string, PyValue]>): string {
  return `{${entries.map(([k, v]) => `${pyString(k)}: ${dumps(v)}`).join(", ")}}`;
}

/**
 * The `failed` object of a POST answer (§8.8 step 7), each key with its
 * one-message list in order, as consecutive pieces of text of up to
 * `perPiece` entries each: a POST of a million items can be answered piece
 * by piece without the whole text ever being in memory.
 */
export function* failed11Pieces(failed: Map<string, string>, perPiece = 4096): Generator<string> {
  const lists = new Map<string, string>();
  let parts: string[] = [];
  let separator = "{";
  for (const [key, message] of failed) {
    let list = lists.get(message);
    if (list === undefined) lists.set(message, (list = `[${pyString(message)}]`));
    parts.push(`${pyString(key)}: ${list}`);
    if (parts.length === perPiece) {
      yield separator + parts.join(", ");
      separator = ", ";
      parts = [];
    }
  }
  yield (parts.length > 0 ? separator + parts.join(", ") : separator === "{" ? "{" : "") + "}";
}

/** The whole `failed` object as one text (see {@link failed11Pieces}). */
export function renderFailed11(failed: Map<string, string>): string {
  return [...failed11Pieces(failed)].join("");
}
