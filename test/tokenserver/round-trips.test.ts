/**
 * D1 round trips of a token request (issue 11 item 2): a returning user's
 * request costs one D1 call. The Worker's D1 binding is wrapped so every
 * call that reaches D1 (a statement's run/all/first/raw, or a batch) counts
 * as one round trip; preparing and binding do not.
 */
import { env } from "cloudflare:test";
import { Hono } from "hono";
import { beforeEach, describe, expect, it } from "vitest";
import { toBase64UrlNoPad } from "../../src/auth/encoding";
import type { AppEnv } from "../../src/env";
import { JwksCache } from "../../src/tokenserver/fxa";
import { createTokenserverApp } from "../../src/tokenserver/routes";
import { createMockFxa, FXA_URL, type MockFxa } from "./mock-fxa";

const SECRET = "tokenserver-round-trip-secret";
const VARS = {
  SYNC_MASTER_SECRET: SECRET,
  FXA_METRICS_HASH_SECRET: SECRET,
  FXA_OAUTH_SERVER_URL: FXA_URL,
  FXA_EMAIL_DOMAIN: "api-accounts.stage.mozaws.net",
  PUBLIC_URL: "",
};

/** A D1Database whose calls to D1 are logged. */
function countingD1(db: D1Database, log: string[]): D1Database {
  const wrapStmt = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement =>
    new Proxy(stmt, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== "function") return v;
        if (prop === "bind") return (...args: unknown[]) => wrapStmt(v.apply(target, args) as D1PreparedStatement, sql);
        if (prop === "run" || prop === "all" || prop === "first" || prop === "raw") {
          return (...args: unknown[]) => {
            log.push(`${String(prop)}: ${sql}`);
            return v.apply(target, args);
          };
        }
        return v.bind(target);
      },
    });
  return new Proxy(db, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (prop === "prepare") {
        return (sql: string) => {
          const w = wrapStmt(target.prepare(sql), sql);
          return w;
        };
      }
      if (prop === "batch") {
        return (stmts: D1PreparedStatement[]) => {
          log.push(`batch of ${stmts.length}`);
          return (v as D1Database["batch"]).call(target, stmts);
        };
      }
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

let fxa: MockFxa;
let app: Hono<AppEnv>;

beforeEach(async () => {
  fxa = await createMockFxa();
  app = new Hono<AppEnv>().route("/", createTokenserverApp({ fetch: fxa.fetch, jwksCache: new JwksCache() }));
});

async function tokenRequest(sub: string, log: string[]): Promise<Response> {
  const jwt = await fxa.mint({ sub, generation: 5 });
  const kid = `1700000000000-${toBase64UrlNoPad(new Uint8Array(16).fill(0xaa))}`;
  return app.request(
    "http://localhost:8787/1.0/sync/1.5",
    { headers: { Authorization: `Bearer ${jwt}`, "X-KeyID": kid } },
    { ...env, ...VARS, DB: countingD1(env.DB, log) },
  );
}

describe("tokenserver D1 round trips", () => {
  it("a returning user's token request makes one D1 call", async () => {
    const sub = "0123456789abcdef0123456789abcdef";
    const first: string[] = [];
    const r1 = await tokenRequest(sub, first);
    expect(r1.status).toBe(200);
    // A new user on a fresh database: the read, node self-registration, the allocation.
    expect(first.length).toBeGreaterThan(1);
    const again: string[] = [];
    const r2 = await tokenRequest(sub, again);
    expect(r2.status).toBe(200);
    expect(again).toEqual(["batch of 2"]);
    const b1 = (await r1.json()) as { uid: number };
    const b2 = (await r2.json()) as { uid: number };
    expect(b2.uid).toBe(b1.uid);
  });

  it("a second new user (node already registered) makes two: the read and the allocation", async () => {
    const log: string[] = [];
    expect((await tokenRequest("11111111111111111111111111111111", log)).status).toBe(200);
    log.length = 0;
    expect((await tokenRequest("22222222222222222222222222222222", log)).status).toBe(200);
    expect(log).toEqual(["batch of 2", "batch of 2"]);
  });
});
