/**
 * Cost bounds and error classes of the request pipeline (issue 9 items 1 and
 * 5), each checked at its edge: body caps enforced while reading, the JSON
 * reader's number handling, POST item limits, header length limits, and the
 * classification of failures into protocol errors, bugs (500) and outages
 * (503).
 */
import { createExecutionContext, env, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseBasic, MAX_BASIC_HEADER } from "../../src/auth/basic";
import { HAWK_LIMITS, parseHawkHeader } from "../../src/auth/hawk";
import { parseConfig } from "../../src/config";
import { BODY_LIMITS, BodyTooLarge, readCapped } from "../../src/protocol/body";
import { classify } from "../../src/protocol/errors";
import { JsonNumber, MAX_NUMBER_CHARS, parseJsonText, type JsonIn } from "../../src/protocol/json";
import { postItems15 } from "../../src/protocol/post-items";
import { MAX_IDS } from "../../src/protocol/v1_1";
import { legacyApp, type LegacyRoute } from "../../src/routes/pipeline-1x";
import { callStore, StorageUnavailable, userStoreFor } from "../../src/storage/stub";
import { call, ORIGIN, register } from "../helpers/sync11";

afterEach(() => vi.restoreAllMocks());

/** A body stream of `chunks` chunks of `size` bytes that counts how many bytes were pulled. */
function countingBody(chunks: number, size: number): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let sent = 0;
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === chunks) return controller.close();
      sent += 1;
      pulled += size;
      controller.enqueue(new Uint8Array(size).fill(0x20));
    },
  });
  return { stream, pulled: () => pulled };
}

describe("body caps, enforced while reading", () => {
  it("readCapped: exactly the cap is read whole; one byte more stops the reading within one chunk of the cap", async () => {
    const cap = 64 * 1024;
    const exact = await readCapped(new Request("http://x/", { method: "POST", body: new Uint8Array(cap) }), cap);
    expect(exact.byteLength).toBe(cap);
    await expect(readCapped(new Request("http://x/", { method: "POST", body: new Uint8Array(cap + 1) }), cap)).rejects.toBeInstanceOf(BodyTooLarge);
    // A 100 MB stream with no Content-Length: reading stops right after the cap.
    const body = countingBody(100 * 16, 64 * 1024);
    const req = new Request("http://x/", { method: "POST", body: body.stream, duplex: "half" } as RequestInit);
    await expect(readCapped(req, cap)).rejects.toBeInstanceOf(BodyTooLarge);
    expect(body.pulled()).toBeLessThanOrEqual(cap + 2 * 64 * 1024);
  });

  it("readCapped: a declared Content-Length over the cap is refused before reading", async () => {
    const body = countingBody(4, 1024);
    const req = new Request("http://x/", { method: "POST", body: body.stream, headers: { "Content-Length": "4096" }, duplex: "half" } as RequestInit);
    await expect(readCapped(req, 4095)).rejects.toBeInstanceOf(BodyTooLarge);
    expect(body.pulled()).toBeLessThanOrEqual(1024); // at most the stream's own read-ahead

  });

  it("User API: a PUT body of exactly the cap is parsed (JSON error 6), one byte more → 400 / 17 before any parsing", async () => {
    const name = `cap${Date.now()}`;
    const at = await SELF.fetch(`${ORIGIN}/user/1.0/${name}`, { method: "PUT", body: "x".repeat(BODY_LIMITS.userApi) });
    expect([at.status, await at.text()]).toEqual([400, "6"]);
    const over = await SELF.fetch(`${ORIGIN}/user/1.0/${name}`, { method: "PUT", body: "x".repeat(BODY_LIMITS.userApi + 1) });
    expect([over.status, await over.text()]).toEqual([400, "17"]);
  });

  it("User API: a streamed body without Content-Length over the cap → 400 / 17 (password change)", async () => {
    const body = countingBody(64, 1024);
    const res = await SELF.fetch(`${ORIGIN}/user/1.0/someone/password`, { method: "POST", body: body.stream, duplex: "half" } as RequestInit);
    expect([res.status, await res.text()]).toEqual([400, "17"]);
  });

  it("account page: a form of the cap is read, one byte more → 400 (nothing parsed)", async () => {
    const over = await SELF.fetch(`${ORIGIN}/weave-delete-account`, {
      method: "POST",
      body: `username=${"a".repeat(BODY_LIMITS.form)}`,
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(over.status).toBe(400);
    const at = await SELF.fetch(`${ORIGIN}/weave-delete-account`, {
      method: "POST",
      body: `username=${"a".repeat(BODY_LIMITS.form - 9)}`,
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(at.status).toBe(403); // read and parsed: refused only for its missing CSRF token
  });

  it("Storage 1.1: a streamed body over 16 MiB without Content-Length → 400 / 17", async () => {
    const a = await register("cap11");
    const body = countingBody(17 * 16, 64 * 1024);
    const res = await SELF.fetch(`${ORIGIN}/1.1/${a.username}/storage/c`, {
      method: "POST",
      body: body.stream,
      headers: { Authorization: a.auth },
      duplex: "half",
    } as RequestInit);
    expect([res.status, await res.text()]).toEqual([400, "17"]);
    expect((await call(a, "GET", "/info/collections")).text).toBe("{}");
  });
});

describe("JSON reader", () => {
  it("short integers stay plain numbers (no per-number objects); fractions, exponents and long integers keep their source", () => {
    const v = parseJsonText('[1, -0, 123456789012345, 1234567890123456, 12.0, 1e3, "12.5", {"a": 7}]') as unknown[];
    expect(v.slice(0, 3)).toEqual([1, -0, 123456789012345]);
    expect(v[3]).toEqual(new JsonNumber(1234567890123456, "1234567890123456"));
    expect(v[4]).toEqual(new JsonNumber(12, "12.0"));
    expect(v[5]).toEqual(new JsonNumber(1000, "1e3"));
    expect(v[6]).toBe("12.5");
    expect(v[7]).toEqual({ a: 7 });
  });

  it("Python's NaN / Infinity / -Infinity literals are read outside strings only", () => {
    const v = parseJsonText('{"a": NaN, "b": -Infinity, "c": "NaN Infinity", "d": [Infinity]}') as Record<string, unknown>;
    expect((v.a as JsonNumber).source).toBe("NaN");
    expect((v.b as JsonNumber).value).toBe(-Infinity);
    expect(v.c).toBe("NaN Infinity");
    expect(((v.d as unknown[])[0] as JsonNumber).value).toBe(Infinity);
    expect(parseJsonText("[NaNx]")).toBeUndefined();
    expect(parseJsonText("[1.5.5]")).toBeUndefined();
  });

  it(`a number token of ${MAX_NUMBER_CHARS} characters is read; one character more refuses the body before conversion`, () => {
    const at = "9".repeat(MAX_NUMBER_CHARS);
    expect((parseJsonText(`{"id": ${at}}`) as { id: JsonNumber }).id.source).toBe(at);
    expect(parseJsonText(`{"id": ${at}9}`)).toBeUndefined();
    expect(parseJsonText(`{"id": "${at}9"}`)).toEqual({ id: `${at}9` }); // strings are not numbers
  });

  it("Storage 1.1: an id of a million digits is refused as unparsable JSON (400 / 6) and nothing is stored", async () => {
    const a = await register("digits");
    const r = await call(a, "POST", "/storage/c", { raw: `[{"id": ${"1".repeat(1_000_000)}, "payload": "x"}]` });
    expect([r.status, r.text]).toEqual([400, "6"]);
    expect((await call(a, "GET", "/info/collections")).text).toBe("{}");
  });

  it("Storage 1.1: a 64-digit integer id (the longest valid one) is still accepted and stored as its text", async () => {
    const a = await register("longid");
    const id = "1".repeat(64);
    const r = await call(a, "POST", "/storage/c", { raw: `[{"id": ${id}, "payload": "x", "sortindex": 5.0}]` });
    expect((r.json as { success: string[] }).success).toEqual([id]);
  });
});

describe("POST item limits", () => {
  it("Storage 1.5: once max_post_records items are accepted, the rest fail with 'retry bso' without being validated", () => {
    const items: JsonIn[] = [
      { id: "a", payload: "x" },
      { id: "b", payload: "x" },
      { id: "c", sortindex: "not a number" },
      { id: "d", unknown: 1 },
    ];
    const r = postItems15(items, "c", { maxPostRecords: 2, maxPostBytes: 1000, maxRecordPayloadBytes: 1000 });
    expect(r.records.map((x) => x.id)).toEqual(["a", "b"]);
    expect(Object.fromEntries(r.failed)).toEqual({ c: "retry bso", d: "retry bso" });
    // Below the count, the same items are validated.
    const r2 = postItems15(items, "c", { maxPostRecords: 100, maxPostBytes: 1000, maxRecordPayloadBytes: 1000 });
    expect([...r2.failed.keys()]).toEqual(["c", "d"]);
    expect(r2.failed.get("c")).not.toBe("retry bso");
  });

  it("Storage 1.5: a failing item whose id is __proto__ is reported like any other", () => {
    const r = postItems15(JSON.parse('[{"id": "__proto__", "ttl": -1}]'), "c", { maxPostRecords: 10, maxPostBytes: 1000, maxRecordPayloadBytes: 1000 });
    expect([...r.failed.keys()]).toEqual(["__proto__"]);
  });
});

describe("header and parameter lengths", () => {
  it(`Hawk: nonce of ${HAWK_LIMITS.nonce} characters parses, one more is malformed; id and ext likewise`, () => {
    const h = (attrs: Record<string, string>) =>
      `Hawk ${Object.entries({ id: "t", ts: "1", nonce: "n", mac: "bWFj", ...attrs })
        .map(([k, v]) => `${k}="${v}"`)
        .join(", ")}`;
    for (const name of ["nonce", "id", "ext"] as const) {
      const max = HAWK_LIMITS[name];
      expect(parseHawkHeader(h({ [name]: "a".repeat(max) })).kind, name).toBe("hawk");
      expect(parseHawkHeader(h({ [name]: "a".repeat(max + 1) })).kind, name).toBe("malformed");
    }
    expect(parseHawkHeader(`Hawk id="${"a".repeat(HAWK_LIMITS.header)}"`).kind).toBe("malformed");
  });

  it(`Basic: a header of ${MAX_BASIC_HEADER} characters is read, one more is malformed`, () => {
    const header = (n: number) => `Basic ${btoa(`u:${"p".repeat(n)}`)}`;
    const h = header(3000);
    const exact = h + " ".repeat(MAX_BASIC_HEADER - h.length); // trailing blanks are ignored when decoding
    expect(exact.length).toBe(MAX_BASIC_HEADER);
    expect(parseBasic(exact).kind).toBe("present");
    expect(parseBasic(`${exact} `).kind).toBe("malformed");
  });

  it(`Storage 1.1: ids= with ${MAX_IDS} ids is served, one more → 400 Invalid value for "ids"`, async () => {
    const a = await register("ids");
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `i${i}`).join(",");
    expect((await call(a, "GET", `/storage/c?ids=${ids(MAX_IDS)}`)).status).toBe(200);
    const over = await call(a, "GET", `/storage/c?ids=${ids(MAX_IDS + 1)}`);
    expect(over.status).toBe(400);
    expect(over.text).toContain('Invalid value for "ids"');
  });

  it("Storage 1.1: X-If-Unmodified-Since of 64 characters is read, 65 → 400", async () => {
    const a = await register("ius");
    const ok = await call(a, "DELETE", "/storage/c", { headers: { "X-If-Unmodified-Since": `9999999999.${"0".repeat(53)}` } });
    expect(ok.status).toBe(200);
    const over = await call(a, "DELETE", "/storage/c", { headers: { "X-If-Unmodified-Since": `9999999999.${"0".repeat(54)}` } });
    expect(over.status).toBe(400);
  });
});

describe("errors classified", () => {
  const boom = (handler: LegacyRoute["handler"]) => {
    const cfg = parseConfig(env as unknown as Record<string, unknown>);
    return legacyApp([{ method: "GET", path: "/boom", auth: "none", handler }], { config: () => cfg }).fetch(
      new Request(`${ORIGIN}/boom`),
      env,
      createExecutionContext(),
    );
  };

  it("an exception thrown by our code inside the Durable Object is a bug: 500 with a crash id and one log line with the stack", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const principal = { kind: "account", userid: 987654, username: "x" } as const;
    const err = await callStore(() => userStoreFor(env, principal).list(null as never)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageUnavailable);
    expect(classify(err).kind).toBe("bug");
    const res = await boom(() => {
      throw err;
    });
    expect(res.status).toBe(500);
    expect(await res.text()).toMatch(/^"application error: crash id [0-9a-f]{32}"$/);
    expect(res.headers.get("Retry-After")).toBeNull();
    expect(logged).toHaveBeenCalledTimes(1);
    expect(String(logged.mock.calls[0]?.[0])).toMatch(/crash id [0-9a-f]{32}: .*Error/s);
  });

  it("an infrastructure failure (overloaded object, unreachable D1) is an outage: 503 with a short Retry-After", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const overloaded = Object.assign(new Error("Durable Object is overloaded"), { remote: true, overloaded: true });
    expect(classify(new StorageUnavailable(overloaded)).kind).toBe("outage");
    expect(classify(new StorageUnavailable(new Error("D1_ERROR: network"))).kind).toBe("outage");
    const res = await boom(() => {
      throw new StorageUnavailable(overloaded);
    });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("Retry-After"))).toBeLessThanOrEqual(30);
  });

  it("/__error__ is not served (404)", async () => {
    const res = await SELF.fetch(`${ORIGIN}/__error__`);
    expect(res.status).toBe(404);
  });

  it("an invalid setting: 500 naming the setting, never its value (body and log)", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const { default: app } = await import("../../src/index");
    const res = await app.fetch(new Request(`${ORIGIN}/__heartbeat__`), { ...env, QUOTA_SIZE_KB: "hunter2-secret" } as unknown as Env, createExecutionContext());
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).toContain("QUOTA_SIZE_KB");
    expect(text).not.toContain("hunter2");
    expect(logged.mock.calls.flat().join(" ")).toContain("QUOTA_SIZE_KB");
    expect(logged.mock.calls.flat().join(" ")).not.toContain("hunter2");
  });
});
