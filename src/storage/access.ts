/**
 * @module access
 * The store's access record (DO SQLite migration 5): what lets a steady-state
 * request be authorised and served by ONE call to the user's Durable Object,
 * without reading D1 or calling the login throttle.
 *
 * Sync 1.1 (HTTP Basic on every request). The Worker's isolate remembers, per
 * user name, the MAC of a password that verified against a hash string H
 * (src/auth/accounts.ts). On such a hit it sends the operation together with
 * a claim {fingerprint(H), client address}; {@link AccessControl.admit} runs
 * in the same synchronous unit as the operation and lets it run only when
 *  - the record's fingerprint equals the claim's (constant time): H is still
 *    the account's current hash (every hash change goes through
 *    {@link AccessControl.begin} / {@link AccessControl.commit}),
 *  - the account is not disabled or deleted,
 *  - no login-throttle lock is mirrored here (`locked_until`), and
 *  - the client address holds a permit: it completed the full, throttled
 *    check, and registered this account with its throttle instances, which
 *    push every later lock here before they answer anyone
 *    (src/objects/login-throttle.ts).
 * Anything else answers "stale" and the Worker takes the full path (D1 row,
 * throttle, password check), whose verdict is exact; so a locked-out client
 * gets the full path's answer whether or not its password is right (no
 * oracle), and a wrong password never reaches this check at all (its MAC is
 * not the remembered one).
 *
 * Grants. After a full check succeeds, the Worker sends {fingerprint, gen}
 * where `gen` is what the "stale" answer reported BEFORE the Worker read D1.
 * Every change bumps `gen` and holds `pending_until` while in progress, so a
 * grant computed from a D1 read older than a change is refused (it could
 * carry the old password's fingerprint).
 *
 * Changes (password change or reset, re-hash, disable, delete): `begin`
 * (fingerprint cleared, gen bumped, grants refused for {@link PENDING_MS})
 * BEFORE the D1 write, `commit` after it. If `begin` cannot reach the store
 * the change fails before anything is written; if `commit` cannot, the store
 * stays without a fingerprint (every request takes the full path) until
 * `pending_until` passes, which is safe.
 *
 * Sync 1.5 (Hawk tokens): a token claim is refused while the store is
 * disabled or deleted, so a disabled user's still-valid token stops working
 * on its very next request.
 */
import type { SqlPort } from "./sql";
import { timingSafeEqualStrings } from "../auth/encoding";

/** How long a change may take between `begin` and `commit` before grants are accepted again (ms). */
export const PENDING_MS = 60_000;
/** How long a deleted store keeps its tombstone (ms): longer than any token or in-flight request lives. */
export const TOMBSTONE_MS = 2 * 24 * 3_600_000;
/** At most this many client addresses hold a permit at once (oldest dropped). */
export const MAX_PERMITS = 32;

export const ACTIVE = 0;
export const DISABLED = 1;
export const DELETED = 2;

/** What a request presents to the store along with its operation. */
export type AccessClaim =
  /** 1.1 fast path: fingerprint of the hash the presented password verified against, in this isolate. */
  | { kind: "password"; fp: string; address: string }
  /** 1.1 after a successful full check: run, and remember the fingerprint for this address if `gen` is current. */
  | { kind: "grant"; fp: string; gen: number; address: string; until: number; lockedUntil: number }
  /** 1.5: a verified Hawk token; run unless the user is disabled or deleted. */
  | { kind: "token" };

export type Admission = { ok: true } | { ok: false; refused: "stale"; gen: number } | { ok: false; refused: "disabled" };

interface AccessRow {
  fp: string | null;
  gen: number;
  pending_until: number;
  disabled: number;
  locked_until: number;
  [k: string]: string | number | null;
}

const ROW = `SELECT fp, gen, pending_until, disabled, locked_until FROM access WHERE id = 1`;
/** {@link ROW} and the permit of one client address (null: none), in one statement: the 1.1 fast path's only read. */
const ROW_AND_PERMIT = `SELECT fp, gen, pending_until, disabled, locked_until, (SELECT until FROM access_permits WHERE address = ?) AS permit_until FROM access WHERE id = 1`;
const ENSURE = `INSERT INTO access (id) VALUES (1) ON CONFLICT (id) DO NOTHING`;

export class AccessControl {
  constructor(
    private readonly sql: SqlPort,
    private readonly clock: () => number = Date.now,
  ) {}

  private row(): AccessRow {
    return this.sql.one<AccessRow>(ROW) ?? { fp: null, gen: 0, pending_until: 0, disabled: ACTIVE, locked_until: 0 };
  }

  /** Decides whether the operation that came with `claim` may run. Writes only for a grant. */
  admit(claim: AccessClaim): Admission {
    const now = this.clock();
    if (claim.kind === "password") return this.admitPassword(claim, now);
    const r = this.row();
    switch (claim.kind) {
      case "token":
        return r.disabled === ACTIVE ? { ok: true } : { ok: false, refused: "disabled" };
      case "grant":
        // A deletion overtook the Worker's check (its D1 read came first):
        // nothing may be written into the erased store.
        if (r.disabled === DELETED) return { ok: false, refused: "stale", gen: r.gen };
        // The Worker checked the credentials against D1 for this very request:
        // the operation runs. The fingerprint is remembered only when nothing
        // changed since the Worker's D1 read began.
        if (r.disabled === ACTIVE && r.pending_until <= now && r.gen === claim.gen) {
          this.sql.transaction(() => {
            this.sql.run(ENSURE);
            this.sql.run(
              `UPDATE access SET fp = ?, locked_until = max(locked_until, ?) WHERE id = 1`,
              claim.fp,
              claim.lockedUntil,
            );
            this.sql.run(`DELETE FROM access_permits WHERE until <= ?`, now);
            this.sql.run(
              `INSERT INTO access_permits (address, until) VALUES (?, ?) ON CONFLICT (address) DO UPDATE SET until = excluded.until`,
              claim.address,
              claim.until,
            );
            this.sql.run(
              `DELETE FROM access_permits WHERE address NOT IN (SELECT address FROM access_permits ORDER BY until DESC LIMIT ?)`,
              MAX_PERMITS,
            );
          });
        }
        return { ok: true };
    }
  }

  /**
   * The 1.1 fast path: the record and this address's permit, read in one
   * statement (no record: no fingerprint, so stale at generation 0, as the
   * record's defaults say). Every condition is evaluated; the fingerprint
   * compare is constant time.
   */
  private admitPassword(claim: { fp: string; address: string }, now: number): Admission {
    const r = this.sql.one<AccessRow & { permit_until: number | null }>(ROW_AND_PERMIT, claim.address);
    if (r === null) return { ok: false, refused: "stale", gen: 0 };
    const fpOk = r.fp !== null && timingSafeEqualStrings(r.fp, claim.fp);
    const ok = fpOk && r.disabled === ACTIVE && r.locked_until <= now && r.permit_until !== null && r.permit_until > now;
    return ok ? { ok: true } : { ok: false, refused: "stale", gen: r.gen };
  }

  /** A change starts: no fingerprint, grants refused until {@link commit} or {@link PENDING_MS}. Returns the new gen. */
  begin(): number {
    return this.sql.transaction(() => {
      this.sql.run(ENSURE);
      this.sql.run(`UPDATE access SET fp = NULL, gen = gen + 1, pending_until = ? WHERE id = 1`, this.clock() + PENDING_MS);
      return this.row().gen;
    });
  }

  /**
   * A change is done (its D1 write landed, or failed): sets the new
   * fingerprint (null: none) and, when given, the disabled state; grants are
   * accepted again from now on, but only those computed after this (gen bump).
   */
  commit(change: { fp: string | null; disabled?: number }): void {
    this.sql.transaction(() => {
      this.sql.run(ENSURE);
      this.sql.run(
        `UPDATE access SET fp = ?, gen = gen + 1, pending_until = 0, disabled = coalesce(?, disabled) WHERE id = 1`,
        change.fp,
        change.disabled ?? null,
      );
      if (change.disabled !== undefined && change.disabled !== ACTIVE) this.sql.run(`DELETE FROM access_permits`);
    });
  }

  /** Mirrors a login-throttle lock: no fast path until `until` (ms). */
  lock(until: number): void {
    this.sql.transaction(() => {
      this.sql.run(ENSURE);
      this.sql.run(`UPDATE access SET locked_until = max(locked_until, ?) WHERE id = 1`, until);
    });
  }

  /** The operator's view: disabled / deleted, and whether a fast path is set up. */
  state(): { disabled: number; fingerprint: boolean; permits: number; lockedUntil: number } {
    const r = this.row();
    const permits = this.sql.one<{ n: number }>(`SELECT count(*) AS n FROM access_permits WHERE until > ?`, this.clock())?.n ?? 0;
    return { disabled: r.disabled, fingerprint: r.fp !== null, permits, lockedUntil: r.locked_until };
  }

  /** Until when a tombstone must stay, or null when this store is not deleted. */
  tombstoneUntil(): number | null {
    const r = this.row();
    return r.disabled === DELETED ? r.pending_until : null;
  }

  /** Writes a deleted-user tombstone (after the store's data was erased). */
  tombstone(): void {
    this.sql.transaction(() => {
      this.sql.run(ENSURE);
      this.sql.run(
        `UPDATE access SET fp = NULL, gen = gen + 1, disabled = ?, pending_until = ? WHERE id = 1`,
        DELETED,
        this.clock() + TOMBSTONE_MS,
      );
      this.sql.run(`DELETE FROM access_permits`);
    });
  }

  /** An import brought a user's data back: a deletion tombstone no longer applies (a disable does). */
  revive(): void {
    this.sql.run(`UPDATE access SET disabled = ?, pending_until = 0, gen = gen + 1 WHERE id = 1 AND disabled = ?`, ACTIVE, DELETED);
  }
}
