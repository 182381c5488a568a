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
 */
import { DurableObject } from "cloudflare:workers";
import { durableObjectSql } from "../storage/sql";
import { ThrottleEngine, type Limits, type ThrottleAction } from "../throttle/policy";

export class LoginThrottle extends DurableObject<Env> {
  /** Built on first use (creating the tables), dropped when the storage is deleted. */
  private current: ThrottleEngine | null = null;
  /** The alarm as last set or read (ms, null = none); undefined until read. */
  private alarmAt: number | null | undefined;

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
    return this.armed(this.engine.reserveAccount(action, address, limits));
  }
  releaseAccount(action: ThrottleAction, address: string, limits: Limits) {
    return this.armed(this.engine.releaseAccount(action, address, limits));
  }
  settleLogin(address: string, limits: Limits) {
    return this.armed(this.engine.settleLogin(address, limits));
  }
  failAccount(action: ThrottleAction, address: string, limits: Limits) {
    return this.armed(this.engine.failAccount(action, address, limits));
  }
  loginSucceeded(address: string) {
    return this.armed(this.engine.loginSucceeded(address));
  }
  checkAddress(action: ThrottleAction) {
    return this.engine.checkAddress(action);
  }
  reserveAddress(action: ThrottleAction, limits: Limits) {
    return this.armed(this.engine.reserveAddress(action, limits));
  }
  releaseAddress(action: ThrottleAction, limits: Limits) {
    return this.armed(this.engine.releaseAddress(action, limits));
  }
  failAddress(action: ThrottleAction, limits: Limits) {
    return this.armed(this.engine.failAddress(action, limits));
  }
  inspect() {
    return this.engine.inspect();
  }
  clear() {
    return this.engine.clear();
  }
}
