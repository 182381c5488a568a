import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  authStats,
  clearCredentialCache,
  createAccount,
  deleteAccount,
  findAccount,
  setMail,
  setPasswordHash,
  usernameExists,
  verifyCredentials,
} from "../../src/auth/accounts";
import { hashPassword } from "../../src/auth/password";

let n = 0;
const name = (p: string) => `${p}${Date.now() % 1e9}${n++}`;

describe("D1 user table queries (U10-6)", () => {
  it("createAccount inserts an active row; a duplicate name gives null (→ 500 'User creation failed.')", async () => {
    const u = name("dup");
    const id = await createAccount(env, u, "{SSHA}x", "a@example.com");
    expect(id).toBeGreaterThan(0);
    expect(await createAccount(env, u, "{SSHA}y", "b@example.com")).toBeNull();
    expect(await findAccount(env, u)).toEqual({ userid: id, username: u, password: "{SSHA}x", accountStatus: 1, mail: "a@example.com" });
    expect(await usernameExists(env, u)).toBe(true);
    expect(await usernameExists(env, u.toUpperCase())).toBe(false);
  });

  it("U10-6: userids are never reused (AUTOINCREMENT), even for the last-deleted row", async () => {
    const u = name("reuse");
    const id = (await createAccount(env, u, "{SSHA}x", "a@example.com"))!;
    expect(await deleteAccount(env, id, "{SSHA}x")).toBe(true);
    const id2 = (await createAccount(env, u, "{SSHA}x", "a@example.com"))!;
    expect(id2).toBeGreaterThan(id);
  });

  it("writes are compare-and-set on the hash that verified (a concurrent password change wins)", async () => {
    const u = name("cas");
    const id = (await createAccount(env, u, "{SSHA}old", "a@example.com"))!;
    expect(await setPasswordHash(env, id, "{SSHA}stale", "{SSHA}new")).toBe(false);
    expect(await setMail(env, id, "{SSHA}stale", "x@example.com")).toBe(false);
    expect(await deleteAccount(env, id, "{SSHA}stale")).toBe(false);
    expect(await setPasswordHash(env, id, "{SSHA}old", "{SSHA}new")).toBe(true);
    expect(await setMail(env, id, "{SSHA}new", "x@example.com")).toBe(true);
    expect(await findAccount(env, u)).toMatchObject({ password: "{SSHA}new", mail: "x@example.com" });
  });
});

describe("verifyCredentials: isolate cache", () => {
  it("runs the KDF once per (hash, password): repeated good and repeated bad attempts are cache hits", async () => {
    const u = name("cache");
    const hash = await hashPassword("the right password");
    await createAccount(env, u, hash, "a@example.com");
    clearCredentialCache();
    const ctx = createExecutionContext();
    const kdf0 = authStats.kdfVerifications;
    expect((await verifyCredentials(env, ctx, u, "the right password")).ok).toBe(true);
    expect((await verifyCredentials(env, ctx, u, "the right password")).ok).toBe(true);
    expect((await verifyCredentials(env, ctx, u, "the wrong password")).ok).toBe(false);
    expect((await verifyCredentials(env, ctx, u, "the wrong password")).ok).toBe(false);
    expect(authStats.kdfVerifications - kdf0).toBe(2);
    // a hit never accepts a different password
    expect((await verifyCredentials(env, ctx, u, "the right passwordX")).ok).toBe(false);
    await waitOnExecutionContext(ctx);
  });

  it("a new hash in D1 invalidates the cached outcome at once; accountStatus ≠ 1 refuses even on a hit", async () => {
    const u = name("inval");
    const h1 = await hashPassword("password one!");
    const id = (await createAccount(env, u, h1, "a@example.com"))!;
    const ctx = createExecutionContext();
    expect((await verifyCredentials(env, ctx, u, "password one!")).ok).toBe(true);
    const h2 = await hashPassword("password two!");
    await setPasswordHash(env, id, h1, h2);
    expect((await verifyCredentials(env, ctx, u, "password one!")).ok).toBe(false);
    expect((await verifyCredentials(env, ctx, u, "password two!")).ok).toBe(true);
    await env.DB.prepare(`UPDATE "user" SET accountStatus = 2 WHERE userid = ?1`).bind(id).run();
    expect((await verifyCredentials(env, ctx, u, "password two!")).ok).toBe(false);
    await waitOnExecutionContext(ctx);
  });

  it("a row without a password hash never authenticates", async () => {
    const u = name("nohash");
    await env.DB.prepare(`INSERT INTO "user" (username) VALUES (?1)`).bind(u).run();
    expect((await verifyCredentials(env, createExecutionContext(), u, "")).ok).toBe(false);
  });
});
