/**
 * @module post-items
 * The items of a collection POST, turned into the records to write and the
 * per-item failures to report, for each protocol: Storage 1.1 (storage-1.1
 * §8.8 step 4) and Storage 1.5 (storage-1.5 §8.2). Nothing here touches
 * storage; the engine gets `records` and `failed` as they are.
 *
 * `failed` is a Map (a record id "__proto__" is a key like any other) that
 * stays in the Worker: the store never sees it, and it is rendered straight
 * into the answer.
 */
import type { RecordFields } from "../storage/types";
import { flatObjectFields, forEachElement, isJsonObject, parseJsonText, type JsonIn } from "./json";
import { hasOnlyScalars, pyStr, utf8Length, validateWbo } from "./v1_1";
import { badRequest, Code15, isKnownBadPayload, validateBso } from "./v1_5";

export interface PostItems {
  records: RecordFields[];
  /** Failures by key in first-seen order (a later failure of a key replaces its message in place). */
  failed: Map<string, string>;
}

/** What a 1.1 POST body holds: its items examined, or (not an array) the value itself; undefined: not JSON. */
export type Post11Body = { kind: "items"; items: PostItems } | { kind: "value"; value: JsonIn | undefined };

/** The members V1-V5 read (storage-1.1 §5.2); others in a flat object are scalars and matter no further. */
const WBO_FIELDS: ReadonlySet<string> = new Set(["id", "parentid", "predecessorid", "ttl", "sortindex", "payload"]);

/**
 * Bodies up to this many characters are parsed whole by {@link postItems11}:
 * one native parse, where the cost of a hostile body (the most values a
 * text of this size can hold, all kept at once) is bounded by the size
 * (a 256 KiB text holds at most ~90,000 values). The common POST of 100
 * records of a few hundred bytes is well under it; larger bodies are walked.
 */
export const WHOLE_PARSE_MAX_CHARS = 256 * 1024;

/**
 * Storage 1.1 (§8.8 steps 2-4) from the body's text: every element is
 * examined in order, its index counting invalid ones too: not a
 * scalar-valued object, then no id, then V2-V5, then the count limit (`retry
 * wbo`), then the running character total (`retry bytes`, never
 * decremented). A non-array body comes back as its parsed value.
 *
 * The protocol reports each element's own validation failure before its
 * limit failure, so every element is validated. A body of at most
 * `wholeMax` characters ({@link WHOLE_PARSE_MAX_CHARS}) is parsed whole.
 * A larger one is walked element by element ({@link forEachElement}) and
 * nothing of an element is kept once examined: an element past `maxCount`,
 * which can only fail, is read by pattern when it is a simple flat object
 * ({@link flatObjectFields}), the shape of a long tail of small items, and
 * parsed on its own otherwise. So a POST of a million small items costs a
 * scan of its text plus its answer (which lists them all), not a million
 * parsed objects. Both ways give the same result (test/protocol/post-items-11.test.ts,
 * test/protocol/post-items-whole.test.ts).
 */
export function postItems11(
  text: string,
  limits: { maxCount: number; maxBytes: number },
  wholeMax: number = WHOLE_PARSE_MAX_CHARS,
): Post11Body {
  const failed = new Map<string, string>();
  const records: RecordFields[] = [];
  let bytes = 0;
  let index = 0;
  /** Examines the next element (undefined: not a scalar-valued object). */
  const examine = (item: { [k: string]: JsonIn } | undefined, surplus: boolean): void => {
    index += 1;
    if (item === undefined) return void failed.set("", "invalid wbo");
    if (!Object.prototype.hasOwnProperty.call(item, "id") || item.id === null) return void failed.set("", "invalid id");
    const v = validateWbo(item);
    if (!v.ok) return void failed.set(v.key, v.error);
    if (v.id === null) return void failed.set("", "invalid id");
    if (surplus) return void failed.set(v.id, "retry wbo");
    bytes += v.fields.payload?.length ?? 0;
    if (bytes >= limits.maxBytes) return void failed.set(v.id, "retry bytes");
    records.push({ ...v.fields, id: v.id });
  };
  const flatObject = (parsed: JsonIn) => (isJsonObject(parsed) && hasOnlyScalars(parsed) ? parsed : undefined);
  if (text.length <= wholeMax) {
    const body = parseJsonText(text);
    if (!Array.isArray(body)) return { kind: "value", value: body };
    for (const element of body) examine(flatObject(element), index >= limits.maxCount);
    return { kind: "items", items: { records, failed } };
  }
  let valid = true;
  const scan = forEachElement(text, (start, end) => {
    const surplus = index >= limits.maxCount;
    let item = surplus ? flatObjectFields(text, start, end, WBO_FIELDS) : undefined;
    if (item === undefined) {
      const parsed = parseJsonText(text.slice(start, end));
      if (parsed === undefined) return (valid = false);
      item = flatObject(parsed);
    }
    examine(item, surplus);
    return true;
  });
  if (scan === "not-array") return { kind: "value", value: parseJsonText(text) };
  if (scan !== "done" || !valid) return { kind: "value", value: undefined };
  return { kind: "items", items: { records, failed } };
}

/** The id a lone 1.1 POST object is PUT under (§8.8 step 3), or null when it is no such object. */
export function loneObjectId(body: JsonIn): string | null {
  if (!isJsonObject(body) || !Object.prototype.hasOwnProperty.call(body, "id") || body.id === null) return null;
  const id = pyStr(body.id as JsonIn);
  return id !== null && !id.includes("/") ? id : null;
}

export interface Limits15 {
  maxRecordPayloadBytes: number;
  maxPostRecords: number;
  maxPostBytes: number;
}

/**
 * Storage 1.5 (§8.2). Whole-request rejections first, over every item (400 /
 * 8: not an object, id not a string, a repeated id, the known-bad crypto
 * payload). Then per item: validation, then the byte limits (`retry bytes`,
 * running sum never decremented). Once `maxPostRecords` items are accepted,
 * the remaining ones are reported as `retry bso` without being validated:
 * whatever they hold, the client must send them again.
 */
export function postItems15(items: JsonIn[], collection: string, lim: Limits15): PostItems {
  const seen = new Set<string>();
  for (const item of items) {
    if (!isJsonObject(item) || typeof item.id !== "string") throw badRequest(Code15.INVALID_BSO);
    if (seen.has(item.id)) throw badRequest(Code15.INVALID_BSO);
    seen.add(item.id);
    if (typeof item.payload === "string" && isKnownBadPayload(collection, item.payload)) throw badRequest(Code15.INVALID_BSO);
  }
  const objects = items as Array<{ [k: string]: JsonIn }>;
  const failures = new Map<string, string>();
  const records: RecordFields[] = [];
  let bytes = 0;
  for (const item of objects) {
    const id = item.id as string;
    if (records.length >= lim.maxPostRecords) {
      failures.set(id, "retry bso");
      continue;
    }
    const v = validateBso(item);
    if (!v.ok) {
      failures.set(id, v.error);
      continue;
    }
    const size = v.fields.payload === undefined ? 0 : utf8Length(v.fields.payload);
    bytes += size;
    if (size > lim.maxRecordPayloadBytes || bytes > lim.maxPostBytes) {
      failures.set(id, "retry bytes");
      continue;
    }
    records.push({ ...v.fields, id });
  }
  return { records, failed: failures };
}
