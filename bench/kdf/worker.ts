/**
 * @module bench/kdf/worker
 * What one password check costs inside workerd: a full PBKDF2 verification
 * (a new hash, or the first login of an account on a fresh isolate), the
 * cached check that replaces it afterwards (one HMAC of the presented
 * password), the D1 read of the account row that every Basic request makes,
 * and the imported server-full schemes ({SSHA-256}, {SSCRYPT}). `GET /?n=N`
 * answers the mean wall time of each step in milliseconds as JSON. Numbers
 * only; bench/run.mjs prints them and nothing asserts on them.
 */
import { hashPassword, PBKDF2_ITERATIONS, verifyPassword } from "../../src/auth/password";

interface Env {
  DB: D1Database;
}

// Vectors computed with Python's hashlib (the same as test/auth/password.test.ts).
const SSHA_PASSWORD = "secret passwörd";
const SSHA256 = "{SSHA-256}WoK046h4hsUFsfWZi46mM8/fnt/rKaR92eh/GSb5YrtBYkNkMTIzNA==";
const SSCRYPT = "{SSCRYPT}6hqgBJfuZFzLtl17kUbhfe7z66mbubpOfdDBCAiGSrLUmEeIokqLwYs+PdnScgQcStGcGVeL2peG0YmxfOKsWVh5Wjk4NzY1";

async function mean(n: number, fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - t0) / n;
}

async function expectTrue(p: Promise<boolean>, what: string): Promise<void> {
  if (!(await p)) throw new Error(`${what} did not verify`);
}

export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    const n = Math.max(1, Math.min(50, Number(new URL(req.url).searchParams.get("n") ?? "10") || 10));
    const password = "a fairly long sync password";
    const hash = await hashPassword(password);
    await expectTrue(verifyPassword(password, hash), "warm-up");

    const username = `kdf${crypto.randomUUID().replace(/-/g, "").slice(0, 20)}`;
    await env.DB.prepare(`INSERT INTO "user" (username, password) VALUES (?1, ?2)`).bind(username, hash).run();
    const lookupRow = () => env.DB.prepare(`SELECT userid, password, accountStatus FROM "user" WHERE username = ?1`).bind(username).first();

    const key = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const pwBytes = new TextEncoder().encode(password);

    const result = {
      iterations: PBKDF2_ITERATIONS,
      n,
      pbkdf2VerifyMs: await mean(n, () => expectTrue(verifyPassword(password, hash), "PBKDF2")),
      pbkdf2HashMs: await mean(Math.max(1, n >> 1), () => hashPassword(password)),
      hmacMs: await mean(n * 100, () => crypto.subtle.sign("HMAC", key, pwBytes)),
      d1LookupMs: await mean(n * 20, lookupRow),
      ssha256Ms: await mean(n * 20, () => expectTrue(verifyPassword(SSHA_PASSWORD, SSHA256), "{SSHA-256}")),
      sscryptMs: await mean(Math.max(1, n >> 2), () => expectTrue(verifyPassword(SSHA_PASSWORD, SSCRYPT), "{SSCRYPT}")),
    };
    await env.DB.prepare(`DELETE FROM "user" WHERE username = ?1`).bind(username).run();
    return Response.json(result);
  },
};
