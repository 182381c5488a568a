/**
 * Every advertised limit at its edge (issue 9 "Done when": every limit in
 * info/configuration and the README is enforced and tested at its edge):
 * exactly at the limit is accepted, one over is refused with the protocol's
 * error. Through the Worker with real authentication (Basic for 1.1, a
 * tokenserver sign-in and Hawk for 1.5); a limit whose default is too large
 * to fill in a test (batch totals, quotas) is set lower for one client with
 * `vars` and tested at that edge. The table of limits is in
 * docs/protocol/README.md ("Limits").
 */
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { HAWK_LIMITS } from "../../src/auth/hawk";
import { BODY_LIMITS } from "../../src/protocol/body";
import { MAX_HEADER_NUMBER_CHARS, MAX_IDS as MAX_IDS_15 } from "../../src/protocol/v1_5";
import { MAX_ID_LENGTH, MAX_IDS as MAX_IDS_11, MAX_PAYLOAD_BYTES, MAX_SORTINDEX, MAX_TTL } from "../../src/protocol/v1_1";
import { readReply, type Reply } from "../helpers/reply";
import { call, ORIGIN, register, type Account } from "../helpers/sync11";
import { Client15, hawkAuthorization, remoteVerificationCount, send } from "../helpers/sync15";
import { MAX_ACCESS_TOKEN_CHARS } from "../../src/tokenserver/routes";
import { clientUsername } from "../../src/lib/usernames";

const TIMEOUT = 120_000;
const pad = (json: string, size: number) => json + " ".repeat(size - json.length);
const ids = (n: number, prefix = "i") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const failedOf = (r: Reply) => (r.json as { failed: Record<string, unknown> }).failed;
const successOf = (r: Reply) => (r.json as { success: string[] }).success;

// ------------------------------------------------------------------ Storage 1.5

interface Config15 {
  max_request_bytes: number;
  max_post_records: number;
  max_post_bytes: number;
  max_total_records: number;
  max_total_bytes: number;
  max_record_payload_bytes: number;
}

describe("Storage 1.5: the limits of info/configuration (S15-6.5)", () => {
  let c: Client15;
  let cfg: Config15;
  beforeAll(async () => {
    c = await Client15.create();
    const r = await c.get("/info/configuration");
    expect(r.status).toBe(200);
    cfg = r.json as Config15;
  });

  it("the advertised limits agree with each other: a POST of one record of the largest payload fits every other limit", () => {
    expect(cfg.max_record_payload_bytes).toBeLessThanOrEqual(cfg.max_post_bytes);
    expect(cfg.max_post_bytes).toBeLessThanOrEqual(cfg.max_total_bytes);
    expect(cfg.max_post_records).toBeLessThanOrEqual(cfg.max_total_records);
    const body = JSON.stringify([{ id: "x".repeat(64), payload: "p".repeat(cfg.max_record_payload_bytes), sortindex: -999999999, ttl: 999999999 }]);
    expect(body.length).toBeLessThanOrEqual(cfg.max_request_bytes);
  });

  it(
    "max_request_bytes: a body of exactly the limit is read, one byte more → 413 / 17",
    async () => {
      const at = await c.call("POST", "/storage/req", { raw: pad('[{"id":"a","payload":"p"}]', cfg.max_request_bytes), headers: { "Content-Type": "application/json" } });
      expect(at.status).toBe(200);
      expect(successOf(at)).toEqual(["a"]);
      const over = await c.call("POST", "/storage/req", { raw: pad('[{"id":"b","payload":"p"}]', cfg.max_request_bytes + 1), headers: { "Content-Type": "application/json" } });
      expect([over.status, over.text]).toEqual([413, "17"]);
      expect((await c.get("/storage/req")).json).toEqual(["a"]);
    },
    TIMEOUT,
  );

  it("max_post_records: that many records are written; the next one fails with 'retry bso'; announcing one more → 400 / 17", async () => {
    const n = cfg.max_post_records;
    const at = await c.post("/storage/cnt", ids(n).map((id) => ({ id, payload: "p" })));
    expect(successOf(at)).toHaveLength(n);
    expect(failedOf(at)).toEqual({});
    const over = await c.post("/storage/cnt", ids(n + 1, "j").map((id) => ({ id, payload: "p" })));
    expect(successOf(over)).toHaveLength(n);
    expect(failedOf(over)).toEqual({ [`j${n}`]: "retry bso" });
    const announced = (k: number) => c.post("/storage/cnt", [{ id: "h", payload: "p" }], { headers: { "X-Weave-Records": String(k) } });
    expect((await announced(n)).status).toBe(200);
    expect(await announced(n + 1)).toMatchObject({ status: 400, text: "17" });
  });

  it(
    "max_post_bytes: payloads adding up to the limit are written; one byte more fails the last with 'retry bytes'; announcing one more → 400 / 17",
    async () => {
      const first = cfg.max_record_payload_bytes;
      const rest = cfg.max_post_bytes - first;
      const at = await c.post("/storage/pb", [{ id: "a", payload: "p".repeat(first) }, { id: "b", payload: "q".repeat(rest) }]);
      expect(successOf(at)).toEqual(["a", "b"]);
      const over = await c.post("/storage/pb", [{ id: "c", payload: "p".repeat(first) }, { id: "d", payload: "q".repeat(rest + 1) }]);
      expect(successOf(over)).toEqual(["c"]);
      expect(failedOf(over)).toEqual({ d: "retry bytes" });
      const announced = (k: number) => c.post("/storage/pb", [{ id: "h", payload: "p" }], { headers: { "X-Weave-Bytes": String(k) } });
      expect((await announced(cfg.max_post_bytes)).status).toBe(200);
      expect(await announced(cfg.max_post_bytes + 1)).toMatchObject({ status: 400, text: "17" });
    },
    TIMEOUT,
  );

  it(
    "max_record_payload_bytes (UTF-8 bytes): a payload of exactly the limit is stored; one byte more → PUT 400 / 8, POST 'retry bytes'",
    async () => {
      const max = cfg.max_record_payload_bytes;
      // Two-byte characters: the limit counts bytes, not characters.
      const atLimit = "\u00e9".repeat(max / 2);
      expect((await c.put("/storage/rp/a", { payload: atLimit })).status).toBe(200);
      expect(await c.put("/storage/rp/b", { payload: `${atLimit}x` })).toMatchObject({ status: 400, text: "8" });
      expect(successOf(await c.post("/storage/rp", [{ id: "c", payload: atLimit }]))).toEqual(["c"]);
      const post = await c.post("/storage/rp", [{ id: "d", payload: `${"p".repeat(max)}x` }]);
      expect(successOf(post)).toEqual([]);
      expect(failedOf(post)).toEqual({ d: "retry bytes" });
      expect((await c.get("/storage/rp?sort=index")).json).toEqual(expect.arrayContaining(["a", "c"]));
      expect((await c.get("/storage/rp/b")).status).toBe(404);
    },
    TIMEOUT,
  );

  it("max_total_records and max_total_bytes: announcing the limit is accepted, one more → 400 / 17", async () => {
    for (const [header, max] of [
      ["X-Weave-Total-Records", cfg.max_total_records],
      ["X-Weave-Total-Bytes", cfg.max_total_bytes],
    ] as const) {
      const announced = (k: number) => c.post("/storage/tot?batch=true", [{ id: "h", payload: "p" }], { headers: { [header]: String(k) } });
      expect((await announced(max)).status, header).toBe(202);
      expect(await announced(max + 1), header).toMatchObject({ status: 400, text: "17" });
    }
  });

  it("max_total_records (set to 4): a batch of exactly 4 records commits; the append that makes 5 → 400 / 17", async () => {
    const b = await Client15.create({ SYNC15_MAX_TOTAL_RECORDS: "4" });
    const open = await b.post("/storage/tr?batch=true", [{ id: "a" }, { id: "b" }]);
    const batch = (open.json as { batch: string }).batch;
    expect(await b.post(`/storage/tr?batch=${batch}`, [{ id: "c" }, { id: "d" }, { id: "e" }])).toMatchObject({ status: 400, text: "17" });
    expect((await b.post(`/storage/tr?batch=${batch}&commit=true`, [{ id: "c" }, { id: "d" }])).status).toBe(200);
    expect(((await b.get("/storage/tr")).json as string[]).sort()).toEqual(["a", "b", "c", "d"]);
  });

  it("max_total_bytes (set to 10): a batch of exactly 10 payload bytes commits; one byte more → 400 / 17", async () => {
    const b = await Client15.create({ SYNC15_MAX_TOTAL_BYTES: "10" });
    const open = await b.post("/storage/tb?batch=true", [{ id: "a", payload: "12345" }]);
    const batch = (open.json as { batch: string }).batch;
    expect(await b.post(`/storage/tb?batch=${batch}&commit=true`, [{ id: "b", payload: "123456" }])).toMatchObject({ status: 400, text: "17" });
    expect((await b.post(`/storage/tb?batch=${batch}&commit=true`, [{ id: "b", payload: "12345" }])).status).toBe(200);
  });

  it("SYNC15_QUOTA_BYTES (set to 10): a write starting below the quota is accepted, one starting at it → 400 / 14", async () => {
    const b = await Client15.create({ SYNC15_QUOTA_BYTES: "10" });
    expect((await b.put("/storage/q/a", { payload: "123456789" })).status).toBe(200);
    // 9 bytes stored, one below the quota: accepted (and brings the user to the quota).
    expect((await b.put("/storage/q/a", { payload: "1234567890" })).status).toBe(200);
    expect(await b.put("/storage/q/c", { payload: "1" })).toMatchObject({ status: 400, text: "14" });
  });

  it(`ids=: ${MAX_IDS_15} ids are served, one more → 400`, async () => {
    expect((await c.get(`/storage/cnt?ids=${ids(MAX_IDS_15).join(",")}`)).status).toBe(200);
    expect((await c.get(`/storage/cnt?ids=${ids(MAX_IDS_15 + 1).join(",")}`)).status).toBe(400);
  });

  it(`a precondition header of ${MAX_HEADER_NUMBER_CHARS} characters is read, one more → 400`, async () => {
    const at = "0".repeat(MAX_HEADER_NUMBER_CHARS - 4) + "1.00";
    expect((await c.get("/storage/cnt", { headers: { "X-If-Modified-Since": at } })).status).not.toBe(400);
    expect((await c.get("/storage/cnt", { headers: { "X-If-Modified-Since": `0${at}` } })).status).toBe(400);
  });

  it(`Hawk: a nonce of ${HAWK_LIMITS.nonce} characters is accepted, one more → 401`, async () => {
    const url = `${ORIGIN}${c.base}/info/collections`;
    const withNonce = async (nonce: string) =>
      send(new Request(url, { headers: { Authorization: await hawkAuthorization(c.credentials, "GET", url, nonce) } }));
    expect((await withNonce("n".repeat(HAWK_LIMITS.nonce))).status).toBe(200);
    expect((await withNonce("m".repeat(HAWK_LIMITS.nonce + 1))).status).toBe(401);
  });
});

describe("Tokenserver: the bearer token length (TS10-3.1)", () => {
  it(`a token of ${MAX_ACCESS_TOKEN_CHARS} characters is verified, one more → 401 without verification`, async () => {
    await Client15.create(); // installs the stand-in account server
    const signIn = (token: string) => SELF.fetch(`${ORIGIN}/1.0/sync/1.5`, { headers: { Authorization: `Bearer ${token}`, "X-KeyID": "1700000000000-AAAAAAAAAAAAAAAAAAAAAA" } });
    const before = remoteVerificationCount();
    const at = await signIn("t".repeat(MAX_ACCESS_TOKEN_CHARS));
    expect(at.status).toBe(401);
    expect(remoteVerificationCount()).toBe(before + 1);
    const over = await signIn("t".repeat(MAX_ACCESS_TOKEN_CHARS + 1));
    expect(over.status).toBe(401);
    expect(((await over.json()) as { status: string }).status).toBe("invalid-credentials");
    expect(remoteVerificationCount()).toBe(before + 1);
  });
});

// ------------------------------------------------------------------ Storage 1.1

/** A 1.1 request to the Worker with settings layered over the test environment. */
async function call11With(vars: Record<string, string>, a: Account, method: string, path: string, body?: unknown): Promise<Reply> {
  const ctx = createExecutionContext();
  const req = new Request(`${ORIGIN}/1.1/${a.username}${path}`, { method, headers: { Authorization: a.auth }, body: body === undefined ? undefined : JSON.stringify(body) });
  const res = await worker.fetch(req, { ...env, ...vars } as unknown as Env, ctx);
  const reply = await readReply(res);
  await waitOnExecutionContext(ctx);
  return reply;
}

describe("Storage 1.1: the limits of the README and storage-1.1 (S11-5.2, S11-8.8)", () => {
  let a: Account;
  beforeAll(async () => {
    a = await register("edge");
  });

  it(
    `body: exactly ${BODY_LIMITS.storage11} bytes are read, one more → 400 / 17`,
    async () => {
      const at = await call(a, "POST", "/storage/body", { raw: pad('[{"id":"a","payload":"p"}]', BODY_LIMITS.storage11) });
      expect(at.status).toBe(200);
      expect(successOf(at)).toEqual(["a"]);
      const over = await call(a, "POST", "/storage/body", { raw: pad('[{"id":"b","payload":"p"}]', BODY_LIMITS.storage11 + 1) });
      expect([over.status, over.text]).toEqual([400, "17"]);
    },
    TIMEOUT,
  );

  it("BATCH_MAX_COUNT (100): 100 records are written, the 101st fails with 'retry wbo'", async () => {
    const at = await call(a, "POST", "/storage/cnt", { body: ids(100).map((id) => ({ id, payload: "p" })) });
    expect(successOf(at)).toHaveLength(100);
    expect(failedOf(at)).toEqual({});
    const over = await call(a, "POST", "/storage/cnt", { body: ids(101, "j").map((id) => ({ id, payload: "p" })) });
    expect(successOf(over)).toHaveLength(100);
    expect(failedOf(over)).toEqual({ j100: ["retry wbo"] });
  });

  it("20,000 records in one POST: 100 written, each of the rest listed with 'retry wbo' (the answer is streamed)", async () => {
    const r = await call(a, "POST", "/storage/many", { body: ids(20_000, "m").map((id) => ({ id })) });
    expect(r.status).toBe(200);
    expect(successOf(r)).toEqual(ids(100, "m"));
    const failed = failedOf(r);
    expect(Object.keys(failed)).toEqual(ids(20_000, "m").slice(100));
    expect(new Set(Object.values(failed).map((v) => JSON.stringify(v)))).toEqual(new Set(['["retry wbo"]']));
    expect(r.text.startsWith('{"failed": {"m100": ["retry wbo"], "m101": ["retry wbo"]')).toBe(true);
    expect(r.text.endsWith(`"success": [${ids(100, "m").map((id) => `"${id}"`).join(", ")}]}`)).toBe(true);
  });

  it(
    "BATCH_MAX_BYTES (1048576): payloads totalling one character less are written; reaching it fails the last with 'retry bytes'",
    async () => {
      const full = "p".repeat(MAX_PAYLOAD_BYTES);
      const below = await call(a, "POST", "/storage/bb", { body: [{ id: "a", payload: full }, { id: "b", payload: full }, { id: "c", payload: full }, { id: "d", payload: full.slice(1) }] });
      expect(successOf(below)).toEqual(["a", "b", "c", "d"]);
      const at = await call(a, "POST", "/storage/bb", { body: [{ id: "e", payload: full }, { id: "f", payload: full }, { id: "g", payload: full }, { id: "h", payload: full }] });
      expect(successOf(at)).toEqual(["e", "f", "g"]);
      expect(failedOf(at)).toEqual({ h: ["retry bytes"] });
    },
    TIMEOUT,
  );

  it(`payload: ${MAX_PAYLOAD_BYTES} UTF-8 bytes are stored, one more → PUT 400 / 8, POST 'payload too large'`, async () => {
    const atLimit = "\u00e9".repeat(MAX_PAYLOAD_BYTES / 2);
    expect((await call(a, "PUT", "/storage/pl/a", { body: { payload: atLimit } })).status).toBe(200);
    expect(await call(a, "PUT", "/storage/pl/b", { body: { payload: `${atLimit}x` } })).toMatchObject({ status: 400, text: "8" });
    const post = await call(a, "POST", "/storage/pl", { body: [{ id: "c", payload: `${atLimit}x` }] });
    expect(failedOf(post)).toEqual({ c: ["payload too large"] });
  });

  it(`ids, parentid, predecessorid: ${MAX_ID_LENGTH} characters are accepted, one more is invalid`, async () => {
    const at = "i".repeat(MAX_ID_LENGTH);
    const over = `${at}j`;
    const r = await call(a, "POST", "/storage/ids", {
      body: [
        { id: at, payload: "p", parentid: at, predecessorid: at },
        { id: over, payload: "p" },
        { id: "p1", payload: "p", parentid: over },
        { id: "p2", payload: "p", predecessorid: over },
      ],
    });
    expect(successOf(r)).toEqual([at]);
    expect(failedOf(r)).toEqual({ [over]: ["invalid id"], p1: ["invalid parentid"], p2: ["invalid predecessorid"] });
    // A PUT's body id is validated the same way; the URL id is not length-checked (S11-5.2: charset only).
    expect((await call(a, "PUT", `/storage/ids/u`, { body: { id: at, payload: "p" } })).status).toBe(200);
    expect(await call(a, "PUT", `/storage/ids/u`, { body: { id: over, payload: "p" } })).toMatchObject({ status: 400, text: "8" });
  });

  it(`ttl up to ${MAX_TTL} and sortindex up to ±${MAX_SORTINDEX} are accepted, one more is invalid`, async () => {
    const r = await call(a, "POST", "/storage/num", {
      body: [
        { id: "t", payload: "p", ttl: MAX_TTL },
        { id: "t1", payload: "p", ttl: MAX_TTL + 1 },
        { id: "s", payload: "p", sortindex: MAX_SORTINDEX },
        { id: "s-", payload: "p", sortindex: -MAX_SORTINDEX },
        { id: "s1", payload: "p", sortindex: MAX_SORTINDEX + 1 },
        { id: "s1-", payload: "p", sortindex: -MAX_SORTINDEX - 1 },
      ],
    });
    expect(successOf(r)).toEqual(["t", "s", "s-"]);
    expect(failedOf(r)).toEqual({ t1: ["invalid ttl"], s1: ["invalid sortindex"], "s1-": ["invalid sortindex"] });
  });

  it(`ids=: ${MAX_IDS_11} ids are served, one more → 400`, async () => {
    expect((await call(a, "GET", `/storage/cnt?ids=${ids(MAX_IDS_11).join(",")}`)).status).toBe(200);
    expect((await call(a, "GET", `/storage/cnt?ids=${ids(MAX_IDS_11 + 1).join(",")}`)).status).toBe(400);
  });

  it("QUOTA_SIZE_KB (set to 1): a write starting below 1024 units is accepted, one starting at 1024 → 400 / 14", async () => {
    const vars = { QUOTA_SIZE_KB: "1", USE_QUOTA: "true" };
    const q = await register("quota");
    // A record counts payload + id characters + 16 (README, QUOTA_SIZE_KB): 1006 + 1 + 16 = 1023 units.
    expect((await call11With(vars, q, "PUT", "/storage/q/a", { payload: "p".repeat(1006) })).status).toBe(200);
    // Starts at 1023: accepted, and brings the user to exactly 1024.
    expect((await call11With(vars, q, "PUT", "/storage/q/a", { payload: "p".repeat(1007) })).status).toBe(200);
    expect(await call11With(vars, q, "PUT", "/storage/q/c", { payload: "" })).toMatchObject({ status: 400, text: "14" });
  });
});

// ------------------------------------------------------------------ User API 1.0

describe("User API 1.0: the body cap", () => {
  it(`a body of exactly ${BODY_LIMITS.userApi} bytes is processed, one more → 400 / 17`, async () => {
    const create = async (size: number) => {
      const email = `edge.${crypto.randomUUID().slice(0, 8)}@example.com`;
      const name = await clientUsername(email);
      const body = pad(JSON.stringify({ password: `pw-${crypto.randomUUID()}`, email }), size);
      return readReply(await SELF.fetch(`${ORIGIN}/user/1.0/${name}`, { method: "PUT", body }));
    };
    const at = await create(BODY_LIMITS.userApi);
    expect(at.status).toBe(200);
    expect(await create(BODY_LIMITS.userApi + 1)).toMatchObject({ status: 400, text: "17" });
  });
});
