/**
 * Throttling rules (src/throttle/policy.ts), run on the engine inside a
 * LoginThrottle Durable Object with a hand-driven clock. Rule IDs: THR-n.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { durableObjectSql } from "../../src/storage/sql";
import { HOUR_MS, lockoutFor, ThrottleEngine, type Limits } from "../../src/throttle/policy";

const LIMITS: Limits = { pair: 5, account: 50, address: 100, maxLockout: 900_000 };

async function withEngine(fn: (e: ThrottleEngine, clock: { now: number }) => void): Promise<void> {
  const stub = env.LIMITER.get(env.LIMITER.idFromName(`test:${crypto.randomUUID()}`));
  await runInDurableObject(stub, (_obj, state) => {
    const clock = { now: 1_700_000_000_000 };
    fn(new ThrottleEngine(durableObjectSql(state.storage), () => clock.now), clock);
  });
}

describe("throttle policy", () => {
  it("THR-1 lockouts start after the free events and double up to the cap", () => {
    expect([1, 5, 6, 7, 8, 9].map((n) => lockoutFor(n, 5, 900_000))).toEqual([0, 0, 1000, 2000, 4000, 8000]);
    expect(lockoutFor(40, 5, 900_000)).toBe(900_000);
    expect(lockoutFor(10_000, 5, 900_000)).toBe(900_000);
  });

  it("THR-2 a (account, address) pair: 5 free failures, then slowed, then refused up to the cap", () =>
    withEngine((e, clock) => {
      for (let i = 0; i < 5; i++) expect(e.failAccount("login", "1.1.1.1", LIMITS)).toBe(0);
      expect(e.checkAccount("login", "1.1.1.1").retryAfter).toBe(0);
      expect(e.failAccount("login", "1.1.1.1", LIMITS)).toBe(1);
      expect(e.checkAccount("login", "1.1.1.1").retryAfter).toBe(1);
      clock.now += 1000;
      expect(e.checkAccount("login", "1.1.1.1").retryAfter).toBe(0);
      expect(e.failAccount("login", "1.1.1.1", LIMITS)).toBe(2);
      for (let i = 0; i < 30; i++) e.failAccount("login", "1.1.1.1", LIMITS);
      expect(e.checkAccount("login", "1.1.1.1").retryAfter).toBe(900);
    }));

  it("THR-3 an attacker on one address does not lock out the owner on another", () =>
    withEngine((e) => {
      for (let i = 0; i < 40; i++) e.failAccount("login", "6.6.6.6", LIMITS);
      expect(e.checkAccount("login", "6.6.6.6").retryAfter).toBeGreaterThan(0);
      expect(e.checkAccount("login", "2.2.2.2").retryAfter).toBe(0);
    }));

  it("THR-4 the account ceiling (many addresses) slows unknown addresses but not the owner's known ones", () =>
    withEngine((e) => {
      e.loginSucceeded("2.2.2.2"); // the owner's usual address
      for (let i = 0; i < 60; i++) e.failAccount("login", `10.0.${Math.floor(i / 4)}.${i}`, LIMITS);
      expect(e.checkAccount("login", "3.3.3.3").retryAfter).toBeGreaterThan(0);
      expect(e.checkAccount("login", "2.2.2.2").retryAfter).toBe(0);
    }));

  it("THR-5 success clears the pair counter (not the account counter) and marks the address known", () =>
    withEngine((e) => {
      for (let i = 0; i < 5; i++) e.failAccount("login", "1.1.1.1", LIMITS);
      expect(e.checkAccount("login", "1.1.1.1").reportSuccess).toBe(true);
      e.loginSucceeded("1.1.1.1");
      const v = e.checkAccount("login", "1.1.1.1");
      expect(v).toEqual({ retryAfter: 0, reportSuccess: false });
      // after clearing, the pair has its 5 free failures again
      for (let i = 0; i < 5; i++) expect(e.failAccount("login", "1.1.1.1", LIMITS)).toBe(0);
    }));

  it("THR-6 counters forget after a quiet window", () =>
    withEngine((e, clock) => {
      for (let i = 0; i < 8; i++) e.failAccount("login", "1.1.1.1", LIMITS);
      expect(e.checkAccount("login", "1.1.1.1").retryAfter).toBeGreaterThan(0);
      clock.now += HOUR_MS + 1;
      expect(e.checkAccount("login", "1.1.1.1").retryAfter).toBe(0);
      expect(e.failAccount("login", "1.1.1.1", LIMITS)).toBe(0);
    }));

  it("THR-7 an address instance locks after its own limit, for every account", () =>
    withEngine((e) => {
      for (let i = 0; i < 100; i++) expect(e.failAddress("login", LIMITS)).toBe(0);
      expect(e.failAddress("login", LIMITS)).toBe(1);
      expect(e.checkAddress("login")).toBe(1);
      expect(e.checkAddress("reset")).toBe(0); // actions are counted separately
    }));

  it("THR-8 reset requests: the account ceiling applies even to known addresses", () =>
    withEngine((e) => {
      const R: Limits = { pair: 3, account: 10, address: 20, maxLockout: 900_000 };
      e.loginSucceeded("2.2.2.2");
      for (let i = 0; i < 11; i++) e.failAccount("reset", `10.0.0.${i}`, R);
      expect(e.checkAccount("reset", "2.2.2.2").retryAfter).toBeGreaterThan(0);
      expect(e.checkAccount("login", "2.2.2.2").retryAfter).toBe(0);
    }));
});
