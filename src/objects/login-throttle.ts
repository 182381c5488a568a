/**
 * @module login-throttle
 * The throttling Durable Object: a shell over {@link ThrottleEngine}
 * (src/throttle/policy.ts, where every rule lives). One instance per account
 * name and one per client address; each RPC method delegates in one line.
 */
import { DurableObject } from "cloudflare:workers";
import { durableObjectSql } from "../storage/sql";
import { ThrottleEngine, type Limits, type ThrottleAction } from "../throttle/policy";

export class LoginThrottle extends DurableObject<Env> {
  private engine: ThrottleEngine;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.engine = new ThrottleEngine(durableObjectSql(ctx.storage));
  }

  checkAccount(action: ThrottleAction, address: string) {
    return this.engine.checkAccount(action, address);
  }
  failAccount(action: ThrottleAction, address: string, limits: Limits) {
    return this.engine.failAccount(action, address, limits);
  }
  loginSucceeded(address: string) {
    return this.engine.loginSucceeded(address);
  }
  checkAddress(action: ThrottleAction) {
    return this.engine.checkAddress(action);
  }
  failAddress(action: ThrottleAction, limits: Limits) {
    return this.engine.failAddress(action, limits);
  }
  inspect() {
    return this.engine.inspect();
  }
  clear() {
    return this.engine.clear();
  }
}
