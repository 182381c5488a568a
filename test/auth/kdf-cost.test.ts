/**
 * Bench-style measurement (prints numbers, asserts nothing about time): what
 * one password verification costs inside workerd, with and without the
 * isolate-level credential cache of src/auth/accounts.ts.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { authenticateAccount, credentialCache, createAccount } from "../../src/auth/accounts";
import { hashPassword, verifyPassword } from "../../src/auth/password";

async function timeIt(n: number, fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - t0) / n;
}

function ms(x: number): string {
  return `${x.toFixed(3)} ms`;
}

describe("KDF cost vs cached check (bench, prints numbers)", () => {
  it("measures one PBKDF2 verification, one cached authentication and the D1 lookup alone", async () => {
    const password = "a fairly long sync password";
    const hash = await hashPassword(password);
    await verifyPassword(password, hash); // warm-up

    const kdf = await timeIt(10, () => verifyPassword(password, hash));

    const userid = await createAccount(env, "kdfbench", hash, "kdf@example.com");
    expect(userid).not.toBeNull();
    const ctx = createExecutionContext();

    credentialCache.clear();
    const uncached = await timeIt(5, async () => {
      credentialCache.clear();
      expect((await authenticateAccount(env, ctx, "kdfbench", password)).ok).toBe(true);
    });

    await authenticateAccount(env, ctx, "kdfbench", password); // fill the cache
    const hits0 = credentialCache.cacheHits;
    const cached = await timeIt(200, async () => {
      expect((await authenticateAccount(env, ctx, "kdfbench", password)).ok).toBe(true);
    });
    expect(credentialCache.cacheHits - hits0).toBe(200);

    const wrongCached = await timeIt(200, async () => {
      expect((await authenticateAccount(env, ctx, "kdfbench", "an old password")).ok).toBe(false);
    });

    const lookup = await timeIt(200, () =>
      env.DB.prepare(`SELECT userid, password, accountStatus FROM "user" WHERE username = ?1`).bind("kdfbench").first(),
    );

    const key = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const pwBytes = new TextEncoder().encode(password);
    const hmac = await timeIt(1000, () => crypto.subtle.sign("HMAC", key as CryptoKey, pwBytes));

    const ssha = await timeIt(200, () => verifyPassword("x", "{SSHA-256}WoK046h4hsUFsfWZi46mM8/fnt/rKaR92eh/GSb5YrtBYkNkMTIzNA=="));
    await waitOnExecutionContext(ctx);

    console.log(
      [
        "",
        "=== auth cost per request (workerd, wall clock incl. async scheduling) ===",
        `PBKDF2-SHA256 100000 it. verify         : ${ms(kdf)}`,
        `authenticate, cache cleared (D1 + KDF)  : ${ms(uncached)}`,
        `authenticate, cache hit (D1 + HMAC)     : ${ms(cached)}`,
        `authenticate, known-wrong pw (D1 + HMAC): ${ms(wrongCached)}`,
        `D1 lookup alone                         : ${ms(lookup)}`,
        `HMAC-SHA256 of the password alone       : ${ms(hmac)}`,
        `{SSHA-256} verify (imported hash)       : ${ms(ssha)}`,
        "",
      ].join("\n"),
    );
  }, 60_000);
});
