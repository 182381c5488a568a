/**
 * S11-8.8 (issue 9): the 1.1 POST walk (element by element, surplus flat
 * items read by pattern) gives exactly what parsing the whole body and
 * examining each parsed element gives: the same records, the same failures
 * in the same order, and "not JSON" for the same bodies.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isJsonObject, parseJsonText, type JsonIn } from "../../src/protocol/json";
import { postItems11 } from "../../src/protocol/post-items";
import { failed11Pieces, hasOnlyScalars, renderMap, validateWbo } from "../../src/protocol/v1_1";
import type { RecordFields } from "../../src/storage/types";

/** Comparable form: the failures as an ordered list (Map equality ignores order). */
function plain(r: { kind: string; value?: JsonIn; items?: { records: RecordFields[]; failed: Map<string, string> } }) {
  return r.items === undefined ? r : { kind: r.kind, records: r.items.records, failed: [...r.items.failed] };
}

/** S11-8.8 step 4 over a fully parsed array: the reading the walk must agree with. */
function reference(text: string, maxCount: number, maxBytes: number) {
  const body = parseJsonText(text);
  if (!Array.isArray(body)) return { kind: "value", value: body };
  const failed = new Map<string, string>();
  const records: RecordFields[] = [];
  let bytes = 0;
  body.forEach((item: JsonIn, index) => {
    if (!isJsonObject(item) || !hasOnlyScalars(item)) return void failed.set("", "invalid wbo");
    if (!Object.prototype.hasOwnProperty.call(item, "id") || item.id === null) return void failed.set("", "invalid id");
    const v = validateWbo(item);
    if (!v.ok) return void failed.set(v.key, v.error);
    if (v.id === null) return void failed.set("", "invalid id");
    if (index >= maxCount) return void failed.set(v.id, "retry wbo");
    bytes += v.fields.payload?.length ?? 0;
    if (bytes >= maxBytes) return void failed.set(v.id, "retry bytes");
    records.push({ ...v.fields, id: v.id });
  });
  return { kind: "items", items: { records, failed } };
}

const ws = fc.constantFrom("", " ", "\n", "\t ", "\r\n");
const str = fc.oneof(
  fc.constantFrom("a", "id1", "x/y", "é", "\\u00e9", "\\ud800", "\\n", '\\"', "\\/", "", "a".repeat(65), "__proto__"),
  fc.string({ maxLength: 8 }).map((s) => JSON.stringify(s).slice(1, -1)),
);
const num = fc.constantFrom("0", "-0", "12", "-5", "1.5", "1e3", "12.0", "123456789012345", "1234567890123456", "NaN", "Infinity", "-Infinity", "99999999999", "31536001", "1".repeat(101));
const scalarText = fc.oneof(str.map((s) => `"${s}"`), num, fc.constantFrom("true", "false", "null"));
const key = fc.oneof(fc.constantFrom("id", "payload", "ttl", "sortindex", "parentid", "predecessorid", "modified", "__proto__", "i\\u0064"), str);
const member = fc.tuple(ws, key, ws, fc.oneof({ weight: 8, arbitrary: scalarText }, { weight: 1, arbitrary: fc.constantFrom("[]", "{}", '{"a":1}', "[1.5]") }), ws).map(([a, k, b, v, c]) => `${a}"${k}"${b}:${c}${v}`);
const element = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.array(member, { maxLength: 4 }), ws).map(([ms, w]) => `{${ms.join(",")}${w}}`) },
  { weight: 1, arbitrary: scalarText },
  { weight: 1, arbitrary: fc.constantFrom("[]", "[{}]", '{"id":"a",}', "{,}", '{"id" "a"}', "{", "]", "") },
);
const body = fc.tuple(fc.array(fc.tuple(ws, element, ws).map((p) => p.join("")), { maxLength: 12 }), fc.constantFrom("", " ", "x", ",")).map(([els, tail]) => `[${els.join(",")}]${tail === "x" || tail === "," ? tail : ""}`);

describe("S11-8.8: the 1.1 POST walk agrees with a whole parse", () => {
  it("for generated bodies, at every count limit", () => {
    fc.assert(
      fc.property(body, fc.integer({ min: 0, max: 4 }), (text, maxCount) => {
        expect(plain(postItems11(text, { maxCount, maxBytes: 20 }))).toEqual(plain(reference(text, maxCount, 20)));
      }),
      { numRuns: 3000 },
    );
  });

  it("for bodies that are not arrays, or not JSON", () => {
    for (const text of ["", " ", "{}", '{"id": "a"}', "12", "[", "[1,]", "[,1]", "[1]]", "[[1]", "[] []", '["a]', "[}", "[{]}", " [ ] ", "[1e999]", `[${"1".repeat(101)}]`]) {
      expect(plain(postItems11(text, { maxCount: 0, maxBytes: 20 })), text).toEqual(plain(reference(text, 0, 20)));
    }
  });

  it("200,000 small items past the limit are each reported, in order", () => {
    const ids = Array.from({ length: 200_000 }, (_, i) => i.toString(36));
    const r = postItems11(JSON.stringify(ids.map((id) => ({ id }))), { maxCount: 100, maxBytes: 1 << 20 });
    if (r.kind !== "items") throw new Error("not items");
    expect(r.items.records.map((x) => x.id)).toEqual(ids.slice(0, 100));
    expect(r.items.failed.size).toBe(199_900);
    expect([...r.items.failed.keys()].slice(0, 2)).toEqual(ids.slice(100, 102));
  });
});

describe("S11-8.8 step 7: the failed map in pieces", () => {
  it("joined, the pieces are the map rendered whole, at every piece boundary", () => {
    for (const n of [0, 1, 2, 3, 4, 5, 7]) {
      const failed = new Map(Array.from({ length: n }, (_, i) => [i === 1 ? "" : `k\u00e9${i}`, i % 2 ? "retry wbo" : "invalid id"] as [string, string]));
      const whole = renderMap([...failed].map(([k, m]) => [k, [m]]));
      expect([...failed11Pieces(failed, 3)].join(""), `${n} entries`).toBe(whole);
    }
  });
});

