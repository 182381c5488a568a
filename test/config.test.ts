/** Configuration: every setting validated, errors name the setting (issue 2 item 5). */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ConfigError, normaliseNodeUrl, parseConfig } from "../src/config";
import { findAccount } from "../src/auth/accounts";
import { clientUsername } from "../src/lib/usernames";
import { call, config } from "./routes/user-helpers";

describe("config", () => {
  it("defaults match server-full's sync.conf where they still mean something", () => {
    const c = parseConfig({});
    expect(c).toMatchObject({
      registration: "open",
      strictUsernames: true,
      useQuota: true,
      quotaSizeKb: 5120,
      batchMaxCount: 100,
      batchMaxBytes: 1048576,
      publicUrl: null,
      retryAfter: 10, // not server-full's 1800: an outage is usually over at once (issue 9)
      pbkdf2Iterations: 100000,
    });
  });

  it.each([
    ["REGISTRATION", "maybe"],
    ["USE_QUOTA", "perhaps"],
    ["QUOTA_SIZE_KB", "lots"],
    ["BATCH_MAX_COUNT", "0"],
    ["BATCH_MAX_BYTES", "1.5"],
    ["RETRY_AFTER", "-1"],
    ["PBKDF2_ITERATIONS", "200000"],
    ["PUBLIC_URL", "http://exa mple.com"],
  ])("an invalid %s = %j is a ConfigError naming it", (name, value) => {
    let err: unknown;
    try {
      parseConfig({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).setting).toBe(name);
    expect((err as Error).message).toContain(name);
  });

  it("REGISTRATION=secret needs SHARED_SECRET", () => {
    expect(() => parseConfig({ REGISTRATION: "secret" })).toThrow(/SHARED_SECRET/);
  });

  it("U10-7.4: node URLs are normalised like fallback_node", () => {
    expect(normaliseNodeUrl("sync.example.com")).toBe("https://sync.example.com/");
    expect(normaliseNodeUrl("http://localhost:5000")).toBe("http://localhost:5000/");
  });

  it("an invalid setting answers 500 with a message naming it, not a crash", async () => {
    const { default: app } = await import("../src/index");
    const res = await app.fetch(new Request("http://x/user/1.0/abc"), { ...env, QUOTA_SIZE_KB: "lots" }, {
      waitUntil() {},
      passThroughOnException() {},
      props: {},
    } as unknown as ExecutionContext);
    expect(res.status).toBe(500);
    expect(await res.text()).toContain("QUOTA_SIZE_KB");
  });

  it("PBKDF2_ITERATIONS sets the cost of new hashes, recorded in the hash", async () => {
    const email = `iter.${crypto.randomUUID()}@example.com`;
    const user = await clientUsername(email);
    const res = await call("PUT", `/user/1.0/${user}`, {
      body: JSON.stringify({ password: "a long enough password", email }),
      config: config({ PBKDF2_ITERATIONS: "20000" }),
    });
    expect(res.status).toBe(200);
    expect((await findAccount(env, user))?.password).toMatch(/^\{PBKDF2-SHA256\}20000\$/);
  });
});

describe("config: Storage 1.5 limits", () => {
  it("S15-6.5: defaults keep a record below the 2 MB SQLite row limit; quota off", () => {
    expect(parseConfig({}).storage15).toEqual({
      maxRecordPayloadBytes: 1_900_000,
      maxPostRecords: 100,
      maxPostBytes: 2_621_440,
      maxRequestBytes: 2_625_536,
      maxTotalRecords: 10_000,
      maxTotalBytes: 100_000_000,
      quotaBytes: null,
    });
    expect(parseConfig({ SYNC15_QUOTA_BYTES: "1048576" }).storage15.quotaBytes).toBe(1048576);
  });
  it.each([
    ["SYNC15_MAX_RECORD_PAYLOAD_BYTES", "2000000"],
    ["SYNC15_MAX_POST_RECORDS", "0"],
    ["SYNC15_QUOTA_BYTES", "-1"],
  ])("an invalid %s = %j is a ConfigError naming it", (name, value) => {
    expect(() => parseConfig({ [name]: value })).toThrow(name);
  });
});
