/**
 * The throttle is atomic (issue 9 item 4): an attempt is counted in the same
 * Durable Object call that checks the lock, before the password is verified,
 * so a burst of concurrent wrong passwords is admitted exactly as often as
 * the same attempts made one at a time: `THROTTLE_FAILURES_PER_CLIENT` free
 * failures plus the one that starts the first lock (THR-HTTP-1), the rest
 * 503 + Retry-After. Rule IDs: THR-RACE-n.
 */
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/config";
import type { LoginThrottle } from "../../src/objects/login-throttle";
import type { Limits } from "../../src/throttle/policy";
import { DEV, fetchWith, newAccount, outbox } from "../helpers/recovery";
import { basic, ORIGIN, register } from "../helpers/sync11";

const BURST = 40;
/** Small enough to arrive within the first 1 s lock even when the machine is busy. */
const SMALL_BURST = 12;
const LIMITS: Limits = { pair: 5, account: 50, address: 100, maxLockout: 900_000 };
/** How many attempts one (account, address) gets before the first lock: the free ones and the one that starts it. */
const ADMITTED = getConfig(env).throttle.failuresPerClient + 1;

function login(username: string, password: string, ip: string): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/1.1/${username}/info/collections`, {
    headers: { Authorization: basic(username, password), "CF-Connecting-IP": ip },
  });
}

function throttle(name: string): DurableObjectStub<LoginThrottle> {
  return env.LIMITER.get(env.LIMITER.idFromName(name)) as DurableObjectStub<LoginThrottle>;
}

async function pairEvents(username: string, ip: string): Promise<number> {
  return runInDurableObject(throttle(`acct:${username}`), (_o, state) => {
    const row = state.storage.sql.exec("SELECT events FROM counters WHERE key = ?1", `login|pair|${ip}`).toArray()[0];
    return (row?.events as number | undefined) ?? 0;
  });
}

describe("atomic throttle: concurrent attempts", () => {
  it("THR-RACE-1 a burst of wrong Basic passwords through the Worker is verified exactly as often as one at a time", async () => {
    // One at a time (the reference count, on its own account and address).
    const seq = await register("race-seq");
    const seqStatuses: number[] = [];
    for (let i = 0; i < SMALL_BURST; i++) seqStatuses.push((await login(seq.username, "wrong password", "198.51.100.120")).status);
    expect(seqStatuses.filter((s) => s === 401)).toHaveLength(ADMITTED);

    // All at once, from a fresh (account, address). The first lock lasts 1 s from the reservation that
    // starts it, so the burst is kept small enough to arrive within it even on a loaded machine.
    const a = await register("race");
    const ip = "198.51.100.121";
    const burst = await Promise.all(Array.from({ length: SMALL_BURST }, () => login(a.username, "wrong password", ip)));
    const statuses = burst.map((r) => r.status);
    await Promise.all(burst.map((r) => r.arrayBuffer()));
    expect(statuses.filter((s) => s === 401)).toHaveLength(ADMITTED);
    expect(statuses.filter((s) => s === 503)).toHaveLength(SMALL_BURST - ADMITTED);
    // Every verified attempt was counted before it was verified.
    expect(await pairEvents(a.username, ip)).toBe(ADMITTED);
  });

  it("THR-RACE-2 a burst of 40 against a pair that already earned a long lock: exactly one verified, then the right password works once the lock ends", async () => {
    const a = await register("race-long");
    const ip = "198.51.100.123";
    const pair = `login|pair|${ip}`;
    // History: the free failures and 4 lockouts, the last one over (as if 10 s had passed).
    const earlier = ADMITTED + 3;
    const limiter = throttle(`acct:${a.username}`);
    await runInDurableObject(limiter, (obj, state) => {
      void obj.checkAccount("login", ip); // creates the tables
      const now = Date.now();
      state.storage.sql.exec(
        "INSERT INTO counters (key, events, quiet_until, locked_until) VALUES (?1, ?2, ?3, ?4)",
        pair,
        earlier,
        now + 3_600_000,
        now - 1,
      );
    });
    const burst = await Promise.all(Array.from({ length: BURST }, () => login(a.username, "wrong password", ip)));
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(1);
    expect(statuses.filter((s) => s === 503)).toHaveLength(BURST - 1);
    for (const r of burst.filter((r) => r.status === 503)) expect(Number(r.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    await Promise.all(burst.map((r) => r.arrayBuffer()));
    expect(await pairEvents(a.username, ip)).toBe(earlier + 1);

    // While locked even the right password learns nothing.
    const locked = await login(a.username, a.password, ip);
    expect(locked.status).toBe(503);
    expect(Number(locked.headers.get("Retry-After"))).toBeGreaterThan(1);
    await locked.arrayBuffer();
    // The lock ends (moved into the past rather than waited for): the right password works and clears the pair.
    await runInDurableObject(limiter, (_o, state) => {
      state.storage.sql.exec("UPDATE counters SET locked_until = ?2 WHERE key = ?1", pair, Date.now() - 1);
    });
    const ok = await login(a.username, a.password, ip);
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
    expect(await pairEvents(a.username, ip)).toBe(0);
  });

  it("THR-RACE-3 concurrent right passwords all succeed and leave no count behind", async () => {
    const a = await register("race-ok");
    const ip = "198.51.100.122";
    const burst = await Promise.all(Array.from({ length: ADMITTED - 1 }, () => login(a.username, a.password, ip)));
    expect(burst.map((r) => r.status)).toEqual(Array(ADMITTED - 1).fill(200));
    await Promise.all(burst.map((r) => r.arrayBuffer()));
    await runInDurableObject(throttle(`acct:${a.username}`), (_o, state) => {
      expect(state.storage.sql.exec("SELECT key FROM counters").toArray()).toEqual([]);
      expect(state.storage.sql.exec("SELECT address FROM known").toArray()).toEqual([{ address: ip }]);
    });
    await runInDurableObject(throttle(`addr:${ip}`), (_o, state) => {
      expect(state.storage.sql.exec("SELECT key FROM counters").toArray()).toEqual([]);
    });
  });

  it("THR-RACE-4 directly on the account object: K concurrent reservations admit exactly pair + 1", async () => {
    const stub = throttle(`acct:race-direct-${crypto.randomUUID()}`);
    const answers = await Promise.all(Array.from({ length: BURST }, () => stub.reserveAccount("login", "192.0.2.77", LIMITS)));
    expect(answers.filter((r) => r.reserved)).toHaveLength(LIMITS.pair + 1);
    const refused = answers.filter((r) => !r.reserved);
    expect(refused).toHaveLength(BURST - LIMITS.pair - 1);
    for (const r of refused) expect(r.retryAfter).toBeGreaterThanOrEqual(1);
    // Another address is not affected.
    expect(await stub.reserveAccount("login", "192.0.2.78", LIMITS)).toEqual({ retryAfter: 0, reserved: true });
  });

  it("THR-RACE-5 directly on the address object: K concurrent reservations admit exactly address + 1", async () => {
    const stub = throttle(`addr:race-direct-${crypto.randomUUID()}`);
    const k = LIMITS.address + 50;
    const answers = await Promise.all(Array.from({ length: k }, () => stub.reserveAddress("login", LIMITS)));
    expect(answers.filter((w) => w === 0)).toHaveLength(LIMITS.address + 1);
    expect(answers.filter((w) => w >= 1)).toHaveLength(k - LIMITS.address - 1);
  });

  it("THR-RACE-6 a burst of reset-mail requests sends as many mails as one at a time would (3 free + the one that starts the lock)", async () => {
    const a = await newAccount();
    const burst = await Promise.all(
      Array.from({ length: SMALL_BURST }, () =>
        fetchWith(DEV, `/user/1.0/${a.username}/password_reset`, { headers: { "CF-Connecting-IP": "198.51.100.150" } }),
      ),
    );
    const statuses = burst.map((r) => r.status);
    await Promise.all(burst.map((r) => r.arrayBuffer()));
    expect(statuses.filter((s) => s === 200)).toHaveLength(4);
    expect(statuses.filter((s) => s === 503)).toHaveLength(SMALL_BURST - 4);
    expect(await outbox(a.email)).toHaveLength(4);
  });
});
