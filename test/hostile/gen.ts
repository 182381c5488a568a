/**
 * Generators of hostile requests for the property suites in this folder
 * (issue 9 item 6): bodies, headers, path segments and query strings an
 * attacker would send, and the checks every answer must pass.
 *
 * Sizes are kept well under the body caps (the cost of over-cap bodies is
 * measured by cost.test.ts) so a run of the whole folder stays under a minute.
 */
import fc from "fast-check";
import type { Reply } from "../helpers/reply";

const enc = new TextEncoder();

/** fast-check settings for these suites; FC_RUNS / FC_SEED in the environment override. */
export function fcParams(numRuns: number): fc.Parameters<unknown> {
  const p: fc.Parameters<unknown> = { numRuns, verbose: 1, endOnFailure: true };
  return p;
}

// ---------------------------------------------------------------- bodies (as bytes or text)

const rep = (s: string, n: number) => s.repeat(n);

/** Names JavaScript objects answer to: ids, collection names and keys that must be plain data. */
export const PROTO_NAMES = ["__proto__", "constructor", "prototype", "hasOwnProperty", "toString", "valueOf", "__defineGetter__", "isPrototypeOf"];

/** Lone surrogates, as JSON escapes (the raw form cannot be UTF-8 encoded; see rawBytes). */
export const LONE_SURROGATES = ["\\ud800", "\\udfff", "a\\ud83d", "\\ude00b", "\\udc00\\ud800"];

const jsonScalar = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(...PROTO_NAMES),
);

/** A value of the wrong type for a BSO field. */
const anyJson = fc.oneof(jsonScalar, fc.jsonValue({ maxDepth: 3 }));

/** A record whose fields may have any type and any key, `__proto__` included. */
const wrongRecord = fc
  .record(
    {
      id: fc.oneof(anyJson, fc.constantFrom(...PROTO_NAMES)),
      payload: anyJson,
      sortindex: fc.oneof(anyJson, fc.constantFrom(1e300, -1e300, 2 ** 53, 1.5)),
      ttl: fc.oneof(anyJson, fc.constantFrom(-1, 1e300, 2 ** 31, 0.5)),
      modified: anyJson,
      extra: anyJson,
    },
    { requiredKeys: [] },
  )
  .map((r) => JSON.stringify(r));

/** Records with a proto-named id or key, or a payload with a lone surrogate (written as text, escapes kept). */
const protoOrSurrogateRecord = fc.oneof(
  fc.constantFrom(...PROTO_NAMES).map((id) => `{"id":${JSON.stringify(id)},"payload":"x"}`),
  fc.constantFrom(...PROTO_NAMES).map((id) => `{"id":${JSON.stringify(id)},"payload":5}`),
  fc.constantFrom(...LONE_SURROGATES).map((s) => `{"id":"sur","payload":"${s}"}`),
  fc.constantFrom(...LONE_SURROGATES).map((s) => `{"id":"${s}","payload":"x"}`),
  fc.constant(`{"__proto__":{"id":"polluted","payload":"x"},"id":"p1","payload":"x"}`),
  fc.constant(`{"constructor":{"prototype":{"polluted":1}},"id":"p2","payload":"x"}`),
);

/** A hostile JSON-ish text body. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  // deep nesting, balanced or not
  fc.integer({ min: 100, max: 60_000 }).map((n) => rep("[", n) + rep("]", n)),
  fc.integer({ min: 100, max: 60_000 }).map((n) => rep('{"a":', n) + "1" + rep("}", n)),
  fc.integer({ min: 100, max: 60_000 }).map((n) => rep("[", n)),
  // huge numbers: long digit runs, exponents, an array of many numbers
  fc.integer({ min: 20, max: 200_000 }).map((n) => rep("9", n)),
  fc.integer({ min: 20, max: 200_000 }).map((n) => `[{"id":"a","payload":"x","sortindex":${rep("1", n)}}]`),
  fc.integer({ min: 20, max: 200_000 }).map((n) => `{"id":${rep("7", n)},"payload":"x"}`),
  fc.constantFrom("1e99999", "-1e-99999", "[1e400]", '{"payload":"x","ttl":1e400}', "-0", "0x10", "NaN", "Infinity"),
  fc.integer({ min: 1_000, max: 100_000 }).map((n) => "[" + rep("1,", n) + "1]"),
  // long strings
  fc.integer({ min: 1_000, max: 400_000 }).map((n) => JSON.stringify(rep("a", n))),
  fc.integer({ min: 1_000, max: 300_000 }).map((n) => `[{"id":"${rep("i", n)}","payload":"x"}]`),
  fc.integer({ min: 1_000, max: 300_000 }).map((n) => `{"id":"long","payload":"${rep("\\u0000", n / 6)}"}`),
  // wrong types and random records
  anyJson.map((v) => JSON.stringify(v)),
  wrongRecord,
  fc.array(wrongRecord, { maxLength: 40 }).map((a) => `[${a.join(",")}]`),
  fc.array(protoOrSurrogateRecord, { minLength: 1, maxLength: 5 }).map((a) => `[${a.join(",")}]`),
  protoOrSurrogateRecord,
  // many records (past the per-POST count)
  fc.integer({ min: 100, max: 5_000 }).map((n) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ id: `m${i}`, payload: "x" })))),
  // duplicate keys
  fc.constant('{"id":"d","payload":"x","payload":{"x":1},"id":["y"]}'),
  // truncated JSON
  fc.tuple(fc.array(wrongRecord, { minLength: 1, maxLength: 10 }), fc.nat()).map(([a, k]) => {
    const s = `[${a.join(",")}]`;
    return s.slice(0, k % s.length);
  }),
  // newline-delimited records (the 1.5 newlines format) with junk lines
  fc.array(fc.oneof(wrongRecord, fc.string()), { maxLength: 20 }).map((a) => a.join("\n")),
);

/** A hostile body: text from above, arbitrary binary, or bytes that are not UTF-8. */
export const hostileBody: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 6, arbitrary: hostileText.map((s) => enc.encode(s)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4096 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      new Uint8Array([0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d]), // ["<lone surrogate as raw UTF-8>"]
      new Uint8Array([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), // {"id":"\xff\xfe"}
      new Uint8Array([0xef, 0xbb, 0xbf, 0x5b, 0x5d]), // BOM []
      new Uint8Array([0xfe, 0xff, 0x00, 0x5b, 0x00, 0x5d]), // UTF-16 BE []
      new Uint8Array([0x1f, 0x8b, 0x08, 0x00]), // gzip magic
      new Uint8Array(0),
    ),
  },
);

// ---------------------------------------------------------------- headers

const b64 = (s: string) => {
  const bytes = enc.encode(s);
  let out = "";
  for (const b of bytes) out += String.fromCharCode(b);
  return btoa(out);
};

/** A header value that the Headers class accepts (no CR/LF/NUL), possibly very long. */
const headerText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: "binary-ascii", maxLength: 200 }),
  fc.integer({ min: 1_000, max: 60_000 }).map((n) => rep("A", n)),
);
const cleanHeader = (s: string) => s.replace(/[\r\n\0]/g, " ").replace(/[^\x20-\xff\t]/g, "?");

const numberish = fc.oneof(
  fc.constantFrom("", "-1", "NaN", "Infinity", "1e400", "0x1f", "1.2.3", " 1", "00000000000000000001", "9".repeat(400), "1700000000.123456", "-0", "+5", "1_000"),
  fc.double().map(String),
  fc.bigInt().map(String),
);

/** Authorization junk: malformed Basic, Hawk and Bearer (never the real credentials). */
export const badAuthorization: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("Basic", "Basic ", "Basic ===", "Basic @@@@", "basic Zm9v", "Basic " + b64(":"), "Basic " + b64("nocolon"), "Hawk", "Hawk ,,,,", 'Hawk id=""', "Bearer", "Bearer .", "Bearer a.b.c", "Negotiate x", "Digest username=x"),
  fc.tuple(fc.string({ maxLength: 100 }), fc.string({ maxLength: 100 })).map(([u, p]) => "Basic " + b64(`${u}:${p}`)),
  fc.integer({ min: 100, max: 60_000 }).map((n) => "Basic " + b64(`${rep("u", n)}:pw`)),
  fc.integer({ min: 100, max: 60_000 }).map((n) => "Basic " + b64(`user:${rep("p", n)}`)),
  fc
    .record({ id: headerText, ts: numberish, nonce: headerText, mac: headerText, ext: headerText, hash: headerText }, { requiredKeys: [] })
    .map((r) => "Hawk " + Object.entries(r).map(([k, v]) => `${k}="${String(v).replace(/"/g, "'")}"`).join(", ")),
  headerText.map((s) => "Hawk " + s),
  headerText.map((s) => "Bearer " + s),
  fc.integer({ min: 100, max: 60_000 }).map((n) => "Bearer " + rep("a", n) + "." + rep("b", n) + ".c"),
).map(cleanHeader);

/** Extra request headers: X-If-* junk, Content-Type junk, X-Weave-* junk, oversized unknown headers. */
export const junkHeaders: fc.Arbitrary<Record<string, string>> = fc
  .record(
    {
      "X-If-Modified-Since": numberish,
      "X-If-Unmodified-Since": numberish,
      "X-Weave-Records": numberish,
      "X-Weave-Bytes": numberish,
      "X-Weave-Total-Records": numberish,
      "X-Weave-Total-Bytes": numberish,
      "X-Confirm-Delete": headerText,
      "Content-Type": fc.oneof(
        fc.constantFrom("application/json", "application/newlines", "text/plain", "application/json; charset=utf-16", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ";;;", "application/json; charset=\"", "*/*"),
        headerText,
      ),
      Accept: fc.oneof(fc.constantFrom("application/json", "application/newlines", "text/html", "*/*", "application/xml", ";q=2"), headerText),
      "X-KeyID": headerText,
      "X-Client-State": headerText,
      "X-Junk": headerText,
    },
    { requiredKeys: [] },
  )
  .map((h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, cleanHeader(String(v))])));

// ---------------------------------------------------------------- paths and queries

/** A hostile path segment (already in URL form: percent-encoded where needed). */
export const hostileSegment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...PROTO_NAMES),
  fc.constantFrom("%2F", "a%2Fb", "%2e%2e", "..", ".", "%2E", "%00", "%ff", "%C0%AE%C0%AE", "%ED%A0%80", "%", "%zz", "a;b", "a%3Bb", "%20", "+", "~", "a b", "%25"),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }).map(encodeURIComponent),
  fc.string({ unit: "binary", minLength: 1, maxLength: 40 }).map((s) => {
    try {
      return encodeURIComponent(s);
    } catch {
      return "%ED%A0%80"; // a lone surrogate, percent-encoded as raw UTF-8
    }
  }),
  fc.integer({ min: 65, max: 20_000 }).map((n) => rep("x", n)),
);

const numParam = fc.oneof(numberish, fc.integer({ min: -5, max: 2_000_000_000 }).map(String));

/** A hostile query string (without "?"), with repeated parameters and many ids. */
export const hostileQuery: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      fc.tuple(fc.constantFrom("limit", "offset", "newer", "older", "index_above", "index_below", "sort", "full", "batch", "commit", "ids"), fc.oneof(numParam, headerText.map(encodeURIComponent))),
      fc.tuple(fc.constant("ids"), fc.integer({ min: 1, max: 3_000 }).map((n) => Array.from({ length: n }, (_, i) => `i${i}`).join(","))),
      fc.tuple(fc.constant("ids"), fc.array(hostileSegment, { maxLength: 20 }).map((a) => a.join(","))),
      fc.tuple(fc.constantFrom("sort"), fc.constantFrom("newest", "oldest", "index", "__proto__", "constructor", "", "random")),
      fc.tuple(fc.constantFrom(...PROTO_NAMES), fc.string({ maxLength: 10 }).map(encodeURIComponent)),
    ),
    { maxLength: 6 },
  )
  .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join("&"));

// ---------------------------------------------------------------- checks

/** A 1.x (Storage 1.1 / User API) error: a bare Weave code (400, JSON integer) or a WebOb page. */
export function is1xError(r: Reply): boolean {
  if (r.status === 400 && /^\d+$/.test(r.text) && (r.headers.get("Content-Type") ?? "").startsWith("application/json")) return true;
  const ct = r.headers.get("Content-Type") ?? "";
  if (ct.startsWith("text/plain") && r.text.startsWith(`${r.status} `)) return true;
  if (ct.startsWith("text/html") && r.text.includes(`<title>${r.status} `)) return true;
  if (r.text === "" && (r.status === 412 || r.status === 304)) return true;
  return false;
}

/** A Storage 1.5 error: a JSON body (an integer code, a string or an object). */
export function is15Error(r: Reply): boolean {
  const ct = r.headers.get("Content-Type") ?? "";
  // 405 with an empty body, as the reference answers an unknown method.
  if (r.status === 304 || (r.status === 412 && r.text === "") || (r.status === 405 && r.text === "")) return true;
  return ct.startsWith("application/json") && r.json !== undefined;
}

/** A tokenserver error: JSON `{status, errors: [...]}`. */
export function isTokenserverError(r: Reply): boolean {
  const j = r.json as { status?: unknown; errors?: unknown } | undefined;
  return !!j && typeof j.status === "string" && Array.isArray(j.errors);
}

/** A short description of a request/answer pair for failure messages (bodies cut). */
export function describe(method: string, url: string, r: Reply, body?: Uint8Array): string {
  const cut = (s: string, n = 200) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);
  return `${method} ${cut(url)} body=${body ? body.length : 0}B → ${r.status} ${cut(r.text)}`;
}
