/**
 * Reservations and expiry (issue 9 item 4). The engine with a hand-driven
 * clock for the rules; the LoginThrottle object with its alarm
 * (`runDurableObjectAlarm`) for the cleanup, so instances made by failed
 * logins for random names leave nothing stored. Rule IDs: THR-n.
 */
import { env, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { LoginThrottle } from "../../src/objects/login-throttle";
import { durableObjectSql } from "../../src/storage/sql";
import { HOUR_MS, KNOWN_ADDRESS_MS, ThrottleEngine, type Limits } from "../../src/throttle/policy";
import { basic, ORIGIN } from "../helpers/sync11";

const LIMITS: Limits = { pair: 5, account: 50, address: 100, maxLockout: 900_000 };

function throttle(name: string): DurableObjectStub<LoginThrottle> {
  return env.LIMITER.get(env.LIMITER.idFromName(name)) as DurableObjectStub<LoginThrottle>;
}

async function withEngine(fn: (e: ThrottleEngine, clock: { now: number }, sql: SqlStorage) => void): Promise<void> {
  await runInDurableObject(throttle(`test:${crypto.randomUUID()}`), (_obj, state) => {
    const clock = { now: 1_700_000_000_000 };
    fn(new ThrottleEngine(durableObjectSql(state.storage), () => clock.now), clock, state.storage.sql);
  });
}

const events = (sql: SqlStorage, key: string) =>
  (sql.exec("SELECT events FROM counters WHERE key = ?1", key).toArray()[0]?.events as number | undefined) ?? 0;

/** What the object has stored: its tables' names and its alarm. */
async function stored(stub: DurableObjectStub<LoginThrottle>): Promise<{ tables: string[]; alarm: number | null }> {
  return runInDurableObject(stub, async (_o, state) => ({
    tables: state.storage.sql
      .exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%'")
      .toArray()
      .map((r) => r.name as string),
    alarm: await state.storage.getAlarm(),
  }));
}

/** Moves every end stored in the object into the past, as if the quiet window (and 30 days) had passed. */
async function ageOut(stub: DurableObjectStub<LoginThrottle>, what: "counters" | "all"): Promise<void> {
  await runInDurableObject(stub, (_o, state) => {
    const past = Date.now() - 1;
    state.storage.sql.exec("UPDATE counters SET quiet_until = ?1, locked_until = ?1", past);
    if (what === "all") state.storage.sql.exec("UPDATE known SET until = ?1", past);
  });
}

describe("reservations", () => {
  it("THR-9 a reservation is a failure counted in advance: pair + 1 admitted, the rest refused until the lock ends", () =>
    withEngine((e, clock) => {
      const admitted = Array.from({ length: 20 }, () => e.reserveAccount("login", "1.1.1.1", LIMITS)).filter((r) => r.reserved);
      expect(admitted).toHaveLength(LIMITS.pair + 1);
      expect(e.reserveAccount("login", "1.1.1.1", LIMITS)).toEqual({ retryAfter: 1, reserved: false });
      clock.now += 1000;
      expect(e.reserveAccount("login", "1.1.1.1", LIMITS)).toEqual({ retryAfter: 0, reserved: true });
      expect(e.reserveAccount("login", "1.1.1.1", LIMITS).retryAfter).toBe(2);
    }));

  it("THR-10 a settled success takes its reservation back from the account counter and clears the pair; failures stay", () =>
    withEngine((e, _clock, sql) => {
      for (let i = 0; i < 3; i++) e.failAccount("login", `10.0.0.${i}`, LIMITS);
      for (let i = 0; i < 4; i++) e.reserveAccount("login", "1.1.1.1", LIMITS);
      expect(events(sql, "login|account")).toBe(7);
      e.settleLogin("1.1.1.1", LIMITS);
      expect(events(sql, "login|account")).toBe(6); // the 3 real failures and 3 reservations still unresolved
      expect(events(sql, "login|pair|1.1.1.1")).toBe(0);
      expect(e.checkAccount("login", "1.1.1.1")).toEqual({ retryAfter: 0, reportSuccess: false }); // known now
    }));

  it("THR-11 releasing shrinks a lock to what the remaining events earn, never below the real failures' lock", () =>
    withEngine((e, clock) => {
      for (let i = 0; i < 5; i++) e.failAccount("login", "1.1.1.1", LIMITS);
      expect(e.reserveAccount("login", "1.1.1.1", LIMITS).reserved).toBe(true); // the 6th: starts a 1 s lock
      expect(e.checkAccount("login", "1.1.1.1").retryAfter).toBe(1);
      e.releaseAccount("login", "1.1.1.1", LIMITS); // never verified: as if it had not happened
      expect(e.checkAccount("login", "1.1.1.1").retryAfter).toBe(0);
      for (let i = 0; i < 3; i++) e.failAccount("login", "1.1.1.1", LIMITS); // 8 real failures: 4 s lock
      clock.now += 10;
      expect(e.reserveAccount("login", "1.1.1.1", LIMITS).reserved).toBe(false); // locked: nothing reserved
      expect(e.checkAccount("login", "1.1.1.1").retryAfter).toBe(4);
    }));

  it("THR-11b a known address's success during an account-wide lock leaves the lock the real failures earned", () =>
    withEngine((e) => {
      const L: Limits = { ...LIMITS, pair: 5, account: 2 };
      e.loginSucceeded("2.2.2.2");
      for (let i = 1; i <= 4; i++) e.failAccount("login", `10.0.0.${i}`, L); // 4 events, limit 2: a 2 s lock
      expect(e.checkAccount("login", "3.3.3.3").retryAfter).toBe(2);
      expect(e.reserveAccount("login", "2.2.2.2", L).reserved).toBe(true); // known: not held by the account lock
      expect(e.checkAccount("login", "3.3.3.3").retryAfter).toBe(4);
      e.settleLogin("2.2.2.2", L);
      expect(e.checkAccount("login", "3.3.3.3").retryAfter).toBe(2);
    }));

  it("THR-12 address reservations: address + 1 admitted; a release gives one back", () =>
    withEngine((e, _clock, sql) => {
      const answers = Array.from({ length: 120 }, () => e.reserveAddress("login", LIMITS));
      expect(answers.filter((w) => w === 0)).toHaveLength(LIMITS.address + 1);
      expect(events(sql, "login|address")).toBe(LIMITS.address + 1);
      e.releaseAddress("login", LIMITS);
      expect(events(sql, "login|address")).toBe(LIMITS.address);
      expect(e.checkAddress("login")).toBe(0);
    }));
});

describe("expiry by alarm", () => {
  it("THR-13 the engine reports its latest expiry and deletes what has ended", () =>
    withEngine((e, clock) => {
      expect(e.latestExpiry()).toBeNull();
      e.reserveAccount("login", "1.1.1.1", LIMITS);
      expect(e.latestExpiry()).toBe(clock.now + HOUR_MS);
      e.settleLogin("1.1.1.1", LIMITS);
      expect(e.latestExpiry()).toBe(clock.now + KNOWN_ADDRESS_MS);
      clock.now += HOUR_MS;
      expect(e.expire()).toBe(true); // the known address is left
      clock.now += KNOWN_ADDRESS_MS;
      expect(e.expire()).toBe(false);
      expect(e.latestExpiry()).toBeNull();
    }));

  it("THR-14 a failed login for a random name: the objects set an alarm, and once it has ended delete all their storage", async () => {
    const name = `nobody${crypto.randomUUID().replaceAll("-", "")}`;
    const ip = "198.51.100.140";
    const res = await SELF.fetch(`${ORIGIN}/1.1/${name}/info/collections`, {
      headers: { Authorization: basic(name, "a guess"), "CF-Connecting-IP": ip },
    });
    expect(res.status).toBe(401);
    await res.arrayBuffer();
    for (const stub of [throttle(`acct:${name}`), throttle(`addr:${ip}`)]) {
      const before = await stored(stub);
      expect(before.tables.sort()).toEqual(["counters", "known", "members"]);
      expect(before.alarm).toBeGreaterThan(Date.now() + HOUR_MS - 60_000);
      // The alarm before the end (e.g. early, or a later failure moved the end): nothing is lost, the alarm stays.
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      expect((await stored(stub)).alarm).toBe(before.alarm);
      await ageOut(stub, "counters");
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      expect(await stored(stub)).toEqual({ tables: [], alarm: null });
    }
    // The same object works again afterwards.
    const acct = throttle(`acct:${name}`);
    expect(await acct.reserveAccount("login", ip, LIMITS)).toEqual({ retryAfter: 0, reserved: true });
    expect((await stored(acct)).alarm).not.toBeNull();
  });

  it("THR-15 a known address keeps the account object (and its alarm) until the address's 30 days end", async () => {
    const stub = throttle(`acct:expiry-known-${crypto.randomUUID()}`);
    expect((await stub.reserveAccount("login", "192.0.2.5", LIMITS)).reserved).toBe(true);
    await stub.settleLogin("192.0.2.5", LIMITS);
    expect((await stored(stub)).alarm).toBeGreaterThan(Date.now() + HOUR_MS - 60_000); // set by the reservation
    await ageOut(stub, "counters");
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await stored(stub);
    expect(after.tables.sort()).toEqual(["counters", "known", "members"]);
    expect(after.alarm).toBeGreaterThan(Date.now() + KNOWN_ADDRESS_MS - 60_000); // set again, for the known address
    expect(await stub.checkAccount("login", "192.0.2.5")).toEqual({ retryAfter: 0, reportSuccess: false });
    await ageOut(stub, "all");
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stored(stub)).toEqual({ tables: [], alarm: null });
  });
});
