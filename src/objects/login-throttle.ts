/**
 * @module login-throttle
 * The throttling Durable Object: a shell over {@link ThrottleEngine}
 * (src/throttle/policy.ts, where every rule lives). One instance per account
 * name and one per client address; each RPC method delegates in one line.
 *
 * Expiry: once something is stored the instance has an alarm, set at the
 * moment all of its rows have ended ({@link ThrottleEngine.latestExpiry});
 * the alarm deletes what has ended and sets itself again for what is left,
 * and once nothing is left deletes the whole storage, so an instance made by
 * failed logins for a random name leaves nothing behind.
 *
 * Lock pushes (store fast path, src/storage/access.ts): when a call leaves a
 * counter locked later than anything pushed before, the lock is written to
 * the access record of every registered member's store before this call
 * answers, with every other call to this instance held back meanwhile
 * (blockConcurrencyWhile), so no client can see the lock here and still get
 * past a store. A push that fails (the store unreachable for a moment) is
 * not counted as done: the next call that reserves or fails against the
 * lock pushes again, to every member (a lock write is idempotent), until all
 * have taken it.
 */
import { DurableObject } from "cloudflare:workers";
import { durableObjectSql } from "../storage/sql";
import { rawStoreFor } from "../storage/stub";
import { ThrottleEngine, type Limits, type Member, type ThrottleAction } from "../throttle/policy";

export class LoginThrottle extends DurableObject<Env> {
  /** Built on first use (creating the tables), dropped when the storage is deleted. */
  private current: ThrottleEngine | null = null;
  /** The alarm as last set or read (ms, null = none); undefined until read. */
  private alarmAt: number | null | undefined;
  /** The latest lock end every member's store has taken (ms). */
  private pushed = 0;

  private get engine(): ThrottleEngine {
    return (this.current ??= new ThrottleEngine(durableObjectSql(this.ctx.storage)));
  }

  /**
   * Makes sure an alarm is set once something is stored. It is set only when
   * none is (one storage write per instance, not per call): an alarm that
   * fires before the latest end deletes what has ended and sets itself again.
   */
  private async armed<T>(result: T): Promise<T> {
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt !== null) return result;
    const latest = this.engine.latestExpiry();
    if (latest === null) return result;
    this.alarmAt = latest;
    await this.ctx.storage.setAlarm(latest);
    return result;
  }

  /** After a call that may have locked a counter: pushes the lock to the members' stores, then arms the alarm. */
  private async mirrored<T>(result: T): Promise<T> {
    const until = this.engine.lockedUntil();
    if (until > Date.now() && until > this.pushed) {
      const members = this.engine.members();
      const all = members.length === 0 || (await this.ctx.blockConcurrencyWhile(() => this.push(members, until)));
      if (all) this.pushed = until;
    }
    return this.armed(result);
  }

  /** Writes the lock into each member's store; false when any of them could not be reached (retried by the next call). */
  private async push(members: number[], until: number): Promise<boolean> {
    const done = await Promise.all(
      members.map(async (userid) => {
        try {
          await rawStoreFor(this.env, { kind: "account", userid, username: "" }).accessLock(until);
          return true;
        } catch (err) {
          console.error("login throttle: lock not pushed to a store (retried by the next call):", err instanceof Error ? err.message : err);
          return false;
        }
      }),
    );
    return done.every(Boolean);
  }

  override async alarm(): Promise<void> {
    if (this.engine.expire()) {
      const latest = this.engine.latestExpiry();
      this.alarmAt = latest;
      if (latest !== null) await this.ctx.storage.setAlarm(latest);
      return;
    }
    this.current = null;
    this.alarmAt = null;
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }

  checkAccount(action: ThrottleAction, address: string) {
    return this.engine.checkAccount(action, address);
  }
  reserveAccount(action: ThrottleAction, address: string, limits: Limits) {
    return this.mirrored(this.engine.reserveAccount(action, address, limits));
  }
  releaseAccount(action: ThrottleAction, address: string, limits: Limits) {
    return this.armed(this.engine.releaseAccount(action, address, limits));
  }
  settleLogin(address: string, limits: Limits, member?: Member) {
    return this.armed(this.engine.settleLogin(address, limits, member));
  }
  failAccount(action: ThrottleAction, address: string, limits: Limits) {
    return this.mirrored(this.engine.failAccount(action, address, limits));
  }
  loginSucceeded(address: string) {
    return this.armed(this.engine.loginSucceeded(address));
  }
  checkAddress(action: ThrottleAction) {
    return this.engine.checkAddress(action);
  }
  reserveAddress(action: ThrottleAction, limits: Limits) {
    return this.mirrored(this.engine.reserveAddress(action, limits));
  }
  settleAddress(limits: Limits, member?: Member) {
    return this.armed(this.engine.settleAddress(limits, member));
  }
  releaseAddress(action: ThrottleAction, limits: Limits) {
    return this.armed(this.engine.releaseAddress(action, limits));
  }
  failAddress(action: ThrottleAction, limits: Limits) {
    return this.mirrored(this.engine.failAddress(action, limits));
  }
  inspect() {
    return this.engine.inspect();
  }
  clear() {
    return this.engine.clear();
  }
}
