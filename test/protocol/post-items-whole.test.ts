/**
 * S11-8.8 (issue 11): a 1.1 POST body of at most WHOLE_PARSE_MAX_CHARS is
 * parsed whole, a larger one walked element by element (issue 9). Both ways
 * must give the same records, the same failures in the same order and "not
 * JSON" for the same bodies: the same generated bodies are read both ways
 * (the bound forced to 0 and to Infinity) and compared.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { postItems11, WHOLE_PARSE_MAX_CHARS } from "../../src/protocol/post-items";

const both = (text: string, maxCount: number, maxBytes: number) => {
  const plain = (r: ReturnType<typeof postItems11>) => (r.kind === "items" ? { records: r.items.records, failed: [...r.items.failed] } : r);
  return [plain(postItems11(text, { maxCount, maxBytes }, 0)), plain(postItems11(text, { maxCount, maxBytes }, Infinity))];
};

const blank = fc.constantFrom("", " ", "\n\t");
const scalar = fc.oneof(
  fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('"x/y"', '"\\u00e9"', '"\\ud800"', "1", "-0", "2.5", "1e2", "7.0", "12345678901234567", "NaN", "-Infinity", "true", "null", "9".repeat(101)),
);
const key = fc.constantFrom("id", "payload", "sortindex", "ttl", "parentid", "predecessorid", "modified", "__proto__", "x");
const member = fc.tuple(blank, key, blank, fc.oneof({ weight: 9, arbitrary: scalar }, { weight: 1, arbitrary: fc.constantFrom("[]", "{}", "[1]") })).map(
  ([a, k, b, v]) => `${a}"${k}"${b}:${v}`,
);
const element = fc.oneof(
  { weight: 8, arbitrary: fc.array(member, { maxLength: 5 }).map((ms) => `{${ms.join(",")}}`) },
  { weight: 1, arbitrary: scalar },
  { weight: 1, arbitrary: fc.constantFrom("[]", "{", "}", "", "{,}", '{"id":"a",}', "[{}]") },
);
const body = fc.oneof(
  { weight: 9, arbitrary: fc.tuple(fc.array(element, { maxLength: 10 }), blank).map(([els, b]) => `${b}[${els.join(",")}]${b}`) },
  { weight: 1, arbitrary: fc.oneof(scalar, fc.constantFrom("", "[", "[1,]", "[] x", '{"id":"a"}', "[1]]")) },
);

describe("S11-8.8: a 1.1 POST body parsed whole or walked element by element", () => {
  it("gives the same answer for generated bodies, at every count and byte limit", () => {
    fc.assert(
      fc.property(body, fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 30 }), (text, maxCount, maxBytes) => {
        const [walked, whole] = both(text, maxCount, maxBytes);
        expect(whole).toEqual(walked);
      }),
      { numRuns: 3000 },
    );
  });

  it("the bound: a POST of 100 records of 1,000 characters is parsed whole; 200,000 small items are walked", () => {
    const hundred = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ id: `r${i}`, sortindex: i, payload: "p".repeat(1000) })));
    expect(hundred.length).toBeLessThanOrEqual(WHOLE_PARSE_MAX_CHARS);
    const many = JSON.stringify(Array.from({ length: 200_000 }, (_, i) => ({ id: i.toString(36) })));
    expect(many.length).toBeGreaterThan(WHOLE_PARSE_MAX_CHARS);
    const [walked, whole] = both(hundred, 100, 1 << 20);
    expect(whole).toEqual(walked);
  });
});
