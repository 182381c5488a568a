/** Configuration: every setting validated, errors name the setting (issue 2 item 5). */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ConfigError, normaliseNodeUrl, parseConfig, publicBaseUrl } from "../src/config";
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

describe("config: one schema, one trimming rule, no values in errors", () => {
  it.each([
    ["QUOTA_SIZE_KB", "lots-of-secret-kb"],
    ["TOKEN_DURATION", "an-hour-secret"],
    ["HAWK_SKEW_SECONDS", "7"],
    ["FXA_OAUTH_JWKS", '{"kty":"EC","secret":"zzz"}'],
    ["FXA_JWKS_URL", "not a url secret"],
    ["PRIVACY_POLICY_URL", "ftp://secret.example/privacy"],
    ["OPERATOR_NAME", "x".repeat(201)],
  ])("an invalid %s names the setting and never echoes the value", (name, value) => {
    let err: unknown;
    try {
      parseConfig({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).setting).toBe(name);
    expect((err as Error).message).not.toContain(value);
  });

  it("values are trimmed and blank means unset; key material is used byte for byte", () => {
    const c = parseConfig({ REGISTRATION: "  closed ", TOKEN_DURATION: " 60 ", FXA_EMAIL_DOMAIN: "  ", SYNC_MASTER_SECRET: " key " });
    expect(c.registration).toBe("closed");
    expect(c.tokenserver.tokenDuration).toBe(60);
    expect(c.tokenserver.emailDomain).toBe("api.accounts.firefox.com");
    expect(c.tokenserver.masterSecrets).toEqual([" key "]);
    expect(c.tokenserver.metricsHashSecret).toBe(" key ");
    expect(parseConfig({ SYNC_MASTER_SECRET: "   " }).tokenserver.masterSecrets).toEqual([]);
  });

  it("publicBaseUrl: one function, the trailing-slash rule each caller had", () => {
    const none = parseConfig({});
    expect(publicBaseUrl(none, "http://127.0.0.1:8787/user/1.0/x")).toBe("http://127.0.0.1:8787/");
    expect(publicBaseUrl(none, "http://127.0.0.1:8787/x", { trailingSlash: false })).toBe("http://127.0.0.1:8787");
    const set = parseConfig({ PUBLIC_URL: " sync.example.org/base " });
    expect(publicBaseUrl(set, "http://evil.example/")).toBe("https://sync.example.org/base/");
    expect(publicBaseUrl(set, "http://evil.example/", { trailingSlash: false })).toBe("https://sync.example.org/base");
  });

  it("the operator settings", () => {
    expect(parseConfig({}).operator).toEqual({ name: null, contact: null, privacyPolicyUrl: null });
    expect(parseConfig({ OPERATOR_NAME: " Ada ", OPERATOR_CONTACT: "a@b.example", PRIVACY_POLICY_URL: "https://b.example/p" }).operator).toEqual({
      name: "Ada",
      contact: { kind: "email", value: "a@b.example" },
      privacyPolicyUrl: "https://b.example/p",
    });
  });
});
