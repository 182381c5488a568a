/**
 * @module post-items
 * The items of a collection POST, turned into the records to write and the
 * per-item failures to report, for each protocol: Storage 1.1 (storage-1.1
 * §8.8 step 4) and Storage 1.5 (storage-1.5 §8.2). Nothing here touches
 * storage; the engine gets `records` and `failed` as they are.
 *
 * The `failed` maps are built with defineProperty: a record id "__proto__"
 * must become a key like any other (a null-prototype object would not survive
 * the RPC to the store).
 */
import type { RecordFields } from "../storage/types";
import { isJsonObject, type JsonIn } from "./json";
import { hasOnlyScalars, pyStr, utf8Length, validateWbo } from "./v1_1";
import { badRequest, Code15, isKnownBadPayload, validateBso } from "./v1_5";

export interface PostItems {
  records: RecordFields[];
  failed: Record<string, string[]>;
}

function setFailure(failed: Record<string, string[]>, key: string, message: string): void {
  Object.defineProperty(failed, key, { value: [message], enumerable: true, writable: true, configurable: true });
}

/** The `failed` object of a map of failures (insertion order kept; a later failure of a key replaces its message in place). */
function failedObject(failures: Map<string, string>): Record<string, string[]> {
  const failed: Record<string, string[]> = {};
  for (const [key, message] of failures) setFailure(failed, key, message);
  return failed;
}

/**
 * Storage 1.1 (§8.8 step 4): every element is examined in order, its index
 * counting invalid ones too: not a scalar-valued object, then no id, then
 * V2-V5, then the count limit (`retry wbo`), then the running character total
 * (`retry bytes`, never decremented). The protocol reports each element's own
 * validation failure before its limit failure, so every element is validated;
 * with reading capped at 16 MiB and no per-number conversion that stays
 * linear in the body.
 */
export function postItems11(items: JsonIn[], limits: { maxCount: number; maxBytes: number }): PostItems {
  const failures = new Map<string, string>();
  const records: RecordFields[] = [];
  let bytes = 0;
  for (let index = 0; index < items.length; index++) {
    const item = items[index] as JsonIn;
    if (!isJsonObject(item) || !hasOnlyScalars(item)) {
      failures.set("", "invalid wbo");
      continue;
    }
    if (!Object.prototype.hasOwnProperty.call(item, "id") || item.id === null) {
      failures.set("", "invalid id");
      continue;
    }
    const v = validateWbo(item);
    if (!v.ok) {
      failures.set(v.key, v.error);
      continue;
    }
    if (v.id === null) {
      failures.set("", "invalid id");
      continue;
    }
    if (index >= limits.maxCount) {
      failures.set(v.id, "retry wbo");
      continue;
    }
    bytes += v.fields.payload?.length ?? 0;
    if (bytes >= limits.maxBytes) {
      failures.set(v.id, "retry bytes");
      continue;
    }
    records.push({ ...v.fields, id: v.id });
  }
  return { records, failed: failedObject(failures) };
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
  return { records, failed: failedObject(failures) };
}
