/**
 * The store's access record (src/storage/access.ts, DO migration 5) on a real
 * Durable Object's SQLite, with a clock the test moves: what the fast path
 * admits, how changes and grants are ordered by `gen` and `pending_until`,
 * tombstones, and 1.5 token claims.
 */
import { describe, expect, it } from "vitest";
import { AccessControl, DELETED, DISABLED, PENDING_MS, TOMBSTONE_MS, type AccessClaim } from "../../src/storage/access";
import { PROFILE_1_1 } from "../../src/storage/profile";
import { withEngine } from "./support";

const FP = "a".repeat(64);
const OTHER = "b".repeat(64);
const ADDR = "203.0.113.5";

function run<T>(fn: (a: AccessControl, clock: { now: number }) => T): Promise<T> {
  return withEngine(PROFILE_1_1, (_e, clock, sql) => fn(new AccessControl(sql, () => clock.now), clock));
}

const password = (fp = FP, address = ADDR): AccessClaim => ({ kind: "password", fp, address });
const grant = (gen: number, now: number, o: Partial<{ fp: string; address: string; lockedUntil: number }> = {}): AccessClaim => ({
  kind: "grant",
  fp: o.fp ?? FP,
  gen,
  address: o.address ?? ADDR,
  until: now + 3_600_000,
  lockedUntil: o.lockedUntil ?? 0,
});

describe("access record", () => {
  it("a fresh store admits no password claim (stale, gen 0); a current grant opens the fast path for its address only", () =>
    run((a, clock) => {
      expect(a.admit(password())).toEqual({ ok: false, refused: "stale", gen: 0 });
      expect(a.admit(grant(0, clock.now))).toEqual({ ok: true });
      expect(a.admit(password())).toEqual({ ok: true });
      expect(a.admit(password(OTHER))).toMatchObject({ ok: false, refused: "stale" });
      expect(a.admit(password(FP, "198.51.100.1"))).toMatchObject({ ok: false, refused: "stale" });
      clock.now += 3_600_000;
      expect(a.admit(password())).toMatchObject({ ok: false, refused: "stale" });
    }));

  it("a grant computed before a change is never recorded, during or after the change", () =>
    run((a, clock) => {
      const before = (a.admit(password()) as { gen: number }).gen;
      const gen = a.begin();
      expect(gen).toBe(before + 1);
      // During the change: even the current gen is refused (pending), but the operation runs.
      expect(a.admit(grant(gen, clock.now))).toEqual({ ok: true });
      expect(a.admit(password())).toMatchObject({ ok: false, refused: "stale" });
      a.commit({ fp: OTHER });
      // The old generation's grant (its D1 read may predate the change) is refused.
      a.admit(grant(before, clock.now));
      a.admit(grant(gen, clock.now));
      expect(a.admit(password(FP))).toMatchObject({ ok: false, refused: "stale" });
      // The committed fingerprint needs a permit too: a grant with the new gen records one.
      const now = (a.admit(password(OTHER)) as { gen: number }).gen;
      a.admit(grant(now, clock.now, { fp: OTHER }));
      expect(a.admit(password(OTHER))).toEqual({ ok: true });
    }));

  it("an interrupted change (never committed) blocks grants for PENDING_MS only", () =>
    run((a, clock) => {
      const gen = a.begin();
      a.admit(grant(gen, clock.now));
      expect(a.admit(password())).toMatchObject({ ok: false });
      clock.now += PENDING_MS + 1;
      a.admit(grant(gen, clock.now));
      expect(a.admit(password())).toEqual({ ok: true });
    }));

  it("a mirrored lock closes the fast path until it ends; a grant never shortens it", () =>
    run((a, clock) => {
      a.admit(grant(0, clock.now));
      a.lock(clock.now + 5000);
      expect(a.admit(password())).toMatchObject({ ok: false, refused: "stale" });
      a.admit(grant((a.admit(password()) as { gen: number }).gen, clock.now, { lockedUntil: 0 }));
      expect(a.admit(password())).toMatchObject({ ok: false });
      clock.now += 5001;
      expect(a.admit(password())).toEqual({ ok: true });
    }));

  it("disabled: password claims are stale, token claims refused, grants not recorded; enabling needs a new grant", () =>
    run((a, clock) => {
      a.admit(grant(0, clock.now));
      a.commit({ fp: null, disabled: DISABLED });
      expect(a.admit({ kind: "token" })).toEqual({ ok: false, refused: "disabled" });
      expect(a.admit(password())).toMatchObject({ ok: false, refused: "stale" });
      a.commit({ fp: null, disabled: 0 });
      expect(a.admit({ kind: "token" })).toEqual({ ok: true });
      expect(a.admit(password())).toMatchObject({ ok: false, refused: "stale" });
    }));

  it("a tombstone refuses tokens and every grant for TOMBSTONE_MS; an import revives the store", () =>
    run((a, clock) => {
      a.admit(grant(0, clock.now));
      const gen = (a.admit(password(OTHER)) as { gen: number }).gen;
      a.tombstone();
      expect(a.state()).toMatchObject({ disabled: DELETED, fingerprint: false, permits: 0 });
      expect(a.tombstoneUntil()).toBe(clock.now + TOMBSTONE_MS);
      // A request whose D1 read preceded the deletion writes nothing into the erased store.
      expect(a.admit(grant(gen + 1, clock.now))).toMatchObject({ ok: false, refused: "stale" });
      expect(a.admit(password())).toMatchObject({ ok: false });
      expect(a.admit({ kind: "token" })).toEqual({ ok: false, refused: "disabled" });
      a.revive();
      expect(a.admit({ kind: "token" })).toEqual({ ok: true });
      expect(a.tombstoneUntil()).toBeNull();
    }));
});
