/**
 * @module policy
 * Throttling of password guessing and reset-mail flooding (issue 4): the
 * rules, and the engine that applies them over a {@link SqlPort}. One
 * engine runs inside each LoginThrottle Durable Object instance
 * (src/objects/login-throttle.ts); the Worker side is src/throttle/guard.ts.
 *
 * Design (why an attacker on one address cannot lock out the owner on another):
 *
 *  - Instances: one per account name (`acct:<username>`) and one per client
 *    address (`addr:<ip>`, IPv6 reduced to its /64).
 *  - Counters, each with its own limit of "free" events:
 *      pair     (account, address)  THROTTLE_FAILURES_PER_CLIENT  (5)
 *      account  (all addresses)      THROTTLE_FAILURES_PER_ACCOUNT (50)
 *      address  (all accounts)       THROTTLE_FAILURES_PER_ADDRESS (100)
 *    Past its limit, every further event locks the counter for 1 s, 2 s, 4 s…
 *    up to THROTTLE_MAX_LOCKOUT: first slowed, then refused for a while.
 *    A counter forgets everything after a quiet window (no event for
 *    max(1 h, 2 × max lockout)).
 *  - A request is refused while its pair or its address is locked, or while
 *    the account counter is locked AND the address is not one the account
 *    logged in from successfully in the last 30 days ("known").
 *  - So a single attacking address only ever locks its own pair and itself;
 *    the account-wide ceiling (which must be higher than the pair limit,
 *    enforced by config) needs many addresses, and even then addresses the
 *    owner really uses keep working. Success clears the pair counter, never
 *    the account or address counters (an attacker with one account of his
 *    own must not be able to reset his address counter by logging in).
 *  - Reset-mail requests are counted the same way (every request is an
 *    event, successful or not) with small fixed limits, {@link RESET_LIMITS}.
 *
 * Atomicity (issue 9): the check and the count are one step. An attempt is
 * *reserved* (counted as a failure in advance, lock included) in the same
 * synchronous transaction that checks the lock, before the password is
 * verified ({@link ThrottleEngine.reserveAccount}, {@link ThrottleEngine.reserveAddress}).
 * A failure then needs nothing more; a success releases its reservation
 * ({@link ThrottleEngine.settleLogin}, {@link ThrottleEngine.releaseAddress}).
 * So K concurrent attempts are admitted exactly as K sequential failures
 * would be: the pair admits `pair` free attempts plus the one that starts
 * the lock, and refuses the rest until the lock ends. Releasing one event
 * shortens a lock to what the remaining events would give (never below what
 * the real failures alone earned), so a success leaves no trace on the
 * account and address counters, as before.
 *
 * Expiry: every row has an end (`quiet_until`, `locked_until`, `until`);
 * {@link ThrottleEngine.latestExpiry} is when the instance has nothing left,
 * and {@link ThrottleEngine.expire} deletes what has ended. The Durable Object
 * sets its alarm to the latest expiry and deletes its whole storage once
 * empty, so instances made by failed logins for random names disappear.
 *
 * Storage (DO SQLite, table `counters`): key TEXT, events INTEGER, quiet_until
 * INTEGER (ms: the counter is forgotten after it), locked_until INTEGER (ms).
 * Table `known`: address TEXT, until INTEGER (ms).
 *
 * Members (the store fast path, src/storage/access.ts): table `members`
 * (userid INTEGER, until INTEGER ms) lists the Sync 1.1 accounts whose store
 * lets a client skip this instance, registered when a login through this
 * instance succeeded ({@link ThrottleEngine.settleLogin},
 * {@link ThrottleEngine.settleAddress}). Whenever a counter here becomes
 * locked, the Durable Object pushes the lock to every member's store before
 * it answers anyone (src/objects/login-throttle.ts), so a locked-out client
 * never gets past the store either. At most {@link MAX_MEMBERS} at once; a
 * login beyond that is not registered (its store gets no permit).
 */
import type { SqlPort } from "../storage/sql";

export type ThrottleAction = "login" | "reset";

/** Events allowed per counter before lockouts start. */
export interface Limits {
  pair: number;
  account: number;
  address: number;
  /** ms */
  maxLockout: number;
}

/** Reset-mail requests: 3 per (account, address), 10 per account, 20 per address, per quiet window. */
export const RESET_LIMITS = { pair: 3, account: 10, address: 20 } as const;

export const HOUR_MS = 3_600_000;
export const KNOWN_ADDRESS_MS = 30 * 24 * HOUR_MS;

export function quietWindow(maxLockout: number): number {
  return Math.max(HOUR_MS, 2 * maxLockout);
}

/** Lock length after the `events`-th event of a counter whose limit is `free` (0 while within it). */
export function lockoutFor(events: number, free: number, maxLockout: number): number {
  if (events <= free) return 0;
  const exp = Math.min(events - free - 1, 30);
  return Math.min(1000 * 2 ** exp, maxLockout);
}

/** ms until a lock ends → whole seconds for Retry-After (at least 1 while locked). */
export function retryAfterSeconds(ms: number): number {
  return ms <= 0 ? 0 : Math.max(1, Math.ceil(ms / 1000));
}

type CounterRow = { events: number; quiet_until: number; locked_until: number };

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, events INTEGER NOT NULL,
     quiet_until INTEGER NOT NULL, locked_until INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS known (address TEXT PRIMARY KEY, until INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS members (userid INTEGER PRIMARY KEY, until INTEGER NOT NULL)`,
];

const STMTS = {
  get: `SELECT events, quiet_until, locked_until FROM counters WHERE key = ?1`,
  put: `INSERT INTO counters (key, events, quiet_until, locked_until) VALUES (?1, ?2, ?3, ?4)
        ON CONFLICT (key) DO UPDATE SET events = ?2, quiet_until = ?3, locked_until = ?4`,
  del: `DELETE FROM counters WHERE key = ?1`,
  purge: `DELETE FROM counters WHERE quiet_until <= ?1 AND locked_until <= ?1`,
  unbump: `UPDATE counters SET events = ?2, locked_until = ?3 WHERE key = ?1`,
  latest: `SELECT max(coalesce((SELECT max(max(quiet_until, locked_until)) FROM counters), 0),
                  coalesce((SELECT max(until) FROM known), 0),
                  coalesce((SELECT max(until) FROM members), 0)) AS latest`,
  rows: `SELECT (SELECT count(*) FROM counters) + (SELECT count(*) FROM known) + (SELECT count(*) FROM members) AS n`,
  lockedUntil: `SELECT coalesce(max(locked_until), 0) AS until FROM counters`,
  members: `SELECT userid FROM members WHERE until > ?1 ORDER BY userid`,
  purgeMembers: `DELETE FROM members WHERE until <= ?1`,
  member: `SELECT until FROM members WHERE userid = ?1`,
  countMembers: `SELECT count(*) AS n FROM members`,
  addMember: `INSERT INTO members (userid, until) VALUES (?1, ?2) ON CONFLICT (userid) DO UPDATE SET until = max(until, ?2)`,
  known: `SELECT until FROM known WHERE address = ?1`,
  markKnown: `INSERT INTO known (address, until) VALUES (?1, ?2) ON CONFLICT (address) DO UPDATE SET until = ?2`,
  purgeKnown: `DELETE FROM known WHERE until <= ?1`,
} as const;

/** What a check tells the Worker. */
export interface Verdict {
  /** Seconds until the request may be retried; 0 = allowed now. */
  retryAfter: number;
  /** The caller should report a successful login (pair has failures, or the address is not (freshly) known). */
  reportSuccess: boolean;
}

/** The answer to a reservation. */
export interface Reservation {
  /** Seconds until the attempt may be retried; 0 = allowed now, and counted as a failure in advance. */
  retryAfter: number;
  /** A login went ahead and was counted (so a success must settle it). */
  reserved: boolean;
}

/** A store registration: the account's id, until when its permit may be used (ms). */
export interface Member {
  userid: number;
  until: number;
}

/** The answer to a settled login: whether the member was registered, and until when this instance is locked now (ms). */
export interface Registration {
  registered: boolean;
  lockedUntil: number;
}

export const MAX_MEMBERS = 256;

/** Counter keys inside an account instance. */
const pairKey = (action: ThrottleAction, address: string) => `${action}|pair|${address}`;
const accountKey = (action: ThrottleAction) => `${action}|account`;
/** Counter key inside an address instance. */
const addressKey = (action: ThrottleAction) => `${action}|address`;

export class ThrottleEngine {
  constructor(
    private readonly sql: SqlPort,
    private readonly clock: () => number = Date.now,
  ) {
    for (const s of SCHEMA) sql.run(s);
  }

  private counter(key: string, now: number): CounterRow | null {
    const row = this.sql.one<CounterRow>(STMTS.get, key);
    if (!row) return null;
    if (row.quiet_until <= now && row.locked_until <= now) return null;
    return row;
  }

  private remaining(key: string, now: number): number {
    const row = this.counter(key, now);
    return row ? Math.max(0, row.locked_until - now) : 0;
  }

  private bump(key: string, free: number, maxLockout: number, now: number): number {
    const row = this.counter(key, now);
    const events = (row?.events ?? 0) + 1;
    const lock = lockoutFor(events, free, maxLockout);
    const lockedUntil = Math.max(row?.locked_until ?? 0, now + lock);
    this.sql.run(STMTS.put, key, events, now + quietWindow(maxLockout), lockedUntil);
    return Math.max(0, lockedUntil - now);
  }

  /** Takes back one event of a counter; the lock shrinks to what the remaining events give. */
  private unbump(key: string, free: number, maxLockout: number, now: number): void {
    const row = this.counter(key, now);
    if (!row) return;
    const events = row.events - 1;
    if (events <= 0) {
      this.sql.run(STMTS.del, key);
      return;
    }
    const lockedUntil = Math.min(row.locked_until, now + lockoutFor(events, free, maxLockout));
    this.sql.run(STMTS.unbump, key, events, lockedUntil);
  }

  private isKnown(address: string, now: number): { known: boolean; fresh: boolean } {
    const row = this.sql.one<{ until: number }>(STMTS.known, address);
    if (!row || row.until <= now) return { known: false, fresh: false };
    // Refreshed at most once a day.
    return { known: true, fresh: row.until - now > KNOWN_ADDRESS_MS - 24 * HOUR_MS };
  }

  /** Account instance: may `address` try now? */
  checkAccount(action: ThrottleAction, address: string): Verdict {
    const now = this.clock();
    const pair = this.counter(pairKey(action, address), now);
    const pairWait = pair ? Math.max(0, pair.locked_until - now) : 0;
    const known = this.isKnown(address, now);
    const accountWait = action === "login" && known.known ? 0 : this.remaining(accountKey(action), now);
    return {
      retryAfter: retryAfterSeconds(Math.max(pairWait, accountWait)),
      reportSuccess: action === "login" && (pair !== null || !known.fresh),
    };
  }

  /** Account instance: records a failed login (or a reset request) from `address`; returns the new wait. */
  failAccount(action: ThrottleAction, address: string, limits: Limits): number {
    const now = this.clock();
    return this.sql.transaction(() => {
      this.sql.run(STMTS.purge, now);
      const p = this.bump(pairKey(action, address), limits.pair, limits.maxLockout, now);
      const a = this.bump(accountKey(action), limits.account, limits.maxLockout, now);
      const known = action === "login" && this.isKnown(address, now).known;
      return retryAfterSeconds(Math.max(p, known ? 0 : a));
    });
  }

  /**
   * Account instance, in one transaction: refuses while `address` may not try
   * (as {@link checkAccount}), otherwise counts the attempt as a failure right
   * away (as {@link failAccount}).
   */
  reserveAccount(action: ThrottleAction, address: string, limits: Limits): Reservation {
    return this.sql.transaction(() => {
      const retryAfter = this.checkAccount(action, address).retryAfter;
      if (retryAfter > 0) return { retryAfter, reserved: false };
      this.failAccount(action, address, limits);
      return { retryAfter: 0, reserved: true };
    });
  }

  /** Account instance: takes back a reservation that was never verified (the address instance refused). */
  releaseAccount(action: ThrottleAction, address: string, limits: Limits): void {
    const now = this.clock();
    this.sql.transaction(() => {
      this.unbump(pairKey(action, address), limits.pair, limits.maxLockout, now);
      this.unbump(accountKey(action), limits.account, limits.maxLockout, now);
    });
  }

  /**
   * Account instance: the reserved login from `address` succeeded (release,
   * clear the pair, mark known), and `member` registers for lock pushes.
   */
  settleLogin(address: string, limits: Limits, member?: Member): Registration {
    const now = this.clock();
    return this.sql.transaction(() => {
      this.unbump(accountKey("login"), limits.account, limits.maxLockout, now);
      this.sql.run(STMTS.del, pairKey("login", address));
      if (!this.isKnown(address, now).fresh) {
        this.sql.run(STMTS.purgeKnown, now);
        this.sql.run(STMTS.markKnown, address, now + KNOWN_ADDRESS_MS);
      }
      return this.register(member, now);
    });
  }

  /** Address instance: the reserved login succeeded (release), and `member` registers for lock pushes. */
  settleAddress(limits: Limits, member?: Member): Registration {
    const now = this.clock();
    return this.sql.transaction(() => {
      this.unbump(addressKey("login"), limits.address, limits.maxLockout, now);
      return this.register(member, now);
    });
  }

  private register(member: Member | undefined, now: number): Registration {
    const lockedUntil = this.lockedUntil();
    if (member === undefined) return { registered: false, lockedUntil };
    this.sql.run(STMTS.purgeMembers, now);
    const present = this.sql.one(STMTS.member, member.userid) !== null;
    if (!present && (this.sql.one<{ n: number }>(STMTS.countMembers)?.n ?? 0) >= MAX_MEMBERS) return { registered: false, lockedUntil };
    this.sql.run(STMTS.addMember, member.userid, member.until);
    return { registered: true, lockedUntil };
  }

  /** The latest end of any lock held here (ms; 0 or past = none). */
  lockedUntil(): number {
    return Number(this.sql.one<{ until: number }>(STMTS.lockedUntil)?.until ?? 0);
  }

  /** The accounts registered here whose registration has not ended. */
  members(): number[] {
    return this.sql.all<{ userid: number }>(STMTS.members, this.clock()).map((r) => Number(r.userid));
  }

  /** Account instance: a login from `address` succeeded. */
  loginSucceeded(address: string): void {
    const now = this.clock();
    this.sql.transaction(() => {
      this.sql.run(STMTS.del, pairKey("login", address));
      this.sql.run(STMTS.purgeKnown, now);
      this.sql.run(STMTS.markKnown, address, now + KNOWN_ADDRESS_MS);
    });
  }

  /** Address instance: may this address try now? (seconds) */
  checkAddress(action: ThrottleAction): number {
    return retryAfterSeconds(this.remaining(addressKey(action), this.clock()));
  }

  /** Address instance, in one transaction: the wait if locked (seconds), else 0 and the attempt is counted. */
  reserveAddress(action: ThrottleAction, limits: Limits): number {
    return this.sql.transaction(() => {
      const wait = this.checkAddress(action);
      if (wait > 0) return wait;
      this.failAddress(action, limits);
      return 0;
    });
  }

  /** Address instance: takes back a reservation (the login succeeded, or the account instance refused). */
  releaseAddress(action: ThrottleAction, limits: Limits): void {
    const now = this.clock();
    this.sql.transaction(() => this.unbump(addressKey(action), limits.address, limits.maxLockout, now));
  }

  /** When everything stored here has ended (ms), or null when nothing is stored. */
  latestExpiry(): number | null {
    const latest = this.sql.one<{ latest: number }>(STMTS.latest)?.latest ?? 0;
    return latest > 0 ? latest : null;
  }

  /** Deletes ended counters and known addresses; returns whether anything is left. */
  expire(): boolean {
    const now = this.clock();
    return this.sql.transaction(() => {
      this.sql.run(STMTS.purge, now);
      this.sql.run(STMTS.purgeKnown, now);
      this.sql.run(STMTS.purgeMembers, now);
      return (this.sql.one<{ n: number }>(STMTS.rows)?.n ?? 0) > 0;
    });
  }

  /** Operator view: the live counters of this instance (admin API). */
  inspect(): Array<{ key: string; events: number; lockedFor: number }> {
    const now = this.clock();
    return this.sql
      .all<{ key: string } & CounterRow>(`SELECT key, events, quiet_until, locked_until FROM counters ORDER BY key`)
      .filter((r) => r.quiet_until > now || r.locked_until > now)
      .map((r) => ({ key: String(r.key), events: Number(r.events), lockedFor: retryAfterSeconds(Number(r.locked_until) - now) }));
  }

  /** Operator unlock: forgets every counter of this instance (known addresses stay). Returns how many. */
  clear(): number {
    return this.sql.all(`DELETE FROM counters RETURNING 1 AS n`).length;
  }

  /** Address instance: records an event; returns the new wait (seconds). */
  failAddress(action: ThrottleAction, limits: Limits): number {
    const now = this.clock();
    return this.sql.transaction(() => {
      this.sql.run(STMTS.purge, now);
      return retryAfterSeconds(this.bump(addressKey(action), limits.address, limits.maxLockout, now));
    });
  }
}
