/**
 * Lock pushes (D12, src/objects/login-throttle.ts): when a throttle instance
 * locks, it writes the lock into the access record of every registered
 * member's store, so a remembered password cannot take the store's fast path
 * past the lock. A push that fails (the store unreachable for a moment) must
 * not count as done: the next call against the lock pushes again.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { LoginThrottle } from "../../src/objects/login-throttle";
import { rawStoreFor } from "../../src/storage/stub";
import type { Limits } from "../../src/throttle/policy";

const LIMITS: Limits = { pair: 2, account: 50, address: 100, maxLockout: 900_000 };
const ADDRESS = "192.0.2.7";

function throttle(name: string): DurableObjectStub<LoginThrottle> {
  return env.LIMITER.get(env.LIMITER.idFromName(name)) as DurableObjectStub<LoginThrottle>;
}

/** The store's mirrored lock end (ms; 0 = none). */
async function storeLock(userid: number): Promise<number> {
  const store = rawStoreFor(env, { kind: "account", userid, username: "" }) as unknown as { accessState(): Promise<{ lockedUntil: number }> };
  return (await store.accessState()).lockedUntil;
}

/** Makes the instance's next `n` store lookups throw, as an unreachable store does; returns how many were refused so far. */
async function unreachableStores(stub: DurableObjectStub<LoginThrottle>, n: number): Promise<() => Promise<number>> {
  await runInDurableObject(stub, (obj) => {
    const o = obj as unknown as { env: Env; refused: number };
    const real = o.env.USER_STORE;
    let left = n;
    o.refused = 0;
    const flaky = {
      idFromName: (name: string) => real.idFromName(name),
      get: (id: DurableObjectId) => {
        if (left > 0) {
          left--;
          o.refused++;
          throw new Error("store unreachable (test)");
        }
        return real.get(id);
      },
    };
    o.env = { ...o.env, USER_STORE: flaky as unknown as Env["USER_STORE"] };
  });
  return () => runInDurableObject(stub, (obj) => (obj as unknown as { refused: number }).refused);
}

describe("lock pushes", () => {
  it("a push that fails is retried by the next call against the lock, until the store has the lock", async () => {
    const stub = throttle(`test:${crypto.randomUUID()}`);
    const userid = 7_000_000 + Math.floor(Math.random() * 1_000_000);
    const reg = await stub.settleLogin(ADDRESS, LIMITS, { userid, until: Date.now() + 3_600_000 });
    expect(reg.registered).toBe(true);
    const refused = await unreachableStores(stub, 1);

    // Failures from one address until the pair locks: the lock's first push meets the unreachable store.
    let calls = 0;
    while ((await refused()) === 0 && calls < 10) {
      await stub.failAccount("login", ADDRESS, LIMITS);
      calls++;
    }
    expect(await refused()).toBe(1);
    expect(await storeLock(userid)).toBe(0);

    // The next call against the lock (a refused reservation: it does not extend the lock, so only the
    // failed push can make it push) pushes again, and this time the store takes it.
    await stub.reserveAccount("login", ADDRESS, LIMITS);
    expect(await storeLock(userid)).toBeGreaterThan(Date.now());
  });

  it("a push that succeeds is not repeated by later calls for the same lock", async () => {
    const stub = throttle(`test:${crypto.randomUUID()}`);
    const userid = 8_000_000 + Math.floor(Math.random() * 1_000_000);
    await stub.settleLogin(ADDRESS, LIMITS, { userid, until: Date.now() + 3_600_000 });
    for (let i = 0; i <= LIMITS.pair; i++) await stub.failAccount("login", ADDRESS, LIMITS);
    const locked = await storeLock(userid);
    expect(locked).toBeGreaterThan(Date.now());
    // Every store lookup from now on would fail: a repeated push would be counted.
    const refused = await unreachableStores(stub, 1_000);
    await stub.reserveAccount("login", ADDRESS, LIMITS);
    expect(await refused()).toBe(0);
  });
});
