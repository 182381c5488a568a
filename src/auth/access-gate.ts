/**
 * @module access-gate
 * The Worker half of "one Durable Object call per steady-state request"
 * (the store half, and why it is safe: src/storage/access.ts).
 *
 * An {@link AccessGate} rides on the request's principal. The first storage
 * operation of the request goes to the user's store together with the
 * gate's claim; the store checks the claim and runs the operation in that
 * same call. When the store answers "stale" (1.1: the fingerprint, permit or
 * lock state does not allow the fast path), the gate runs the full check
 * (D1 row, login throttle, password), and on success sends the operation
 * again with a grant; a refused full check ends the request with the full
 * check's own answer (401 / 503), thrown as {@link AccessRefused}. Once one
 * call has been admitted, the rest of the request's calls carry no claim.
 *
 * A request that ends without any storage call (an error found before the
 * store was asked) still gets the full check before its answer goes out
 * ({@link AccessGate.settle}), so a stale credential is never answered with
 * anything but the full check's refusal.
 */
import type { Principal } from "../env";
import type { AccessClaim } from "../storage/access";
import { AccessRefused, rawStoreFor, StorageUnavailable, type StoreApi } from "../storage/stub";
import { GATED_OPS, type GatedOp } from "../objects/user-store";
import { createHash } from "node:crypto";

/** What the full check gives: the account (its id may differ from the cached one) and the claim to retry with. */
export type FullCheck = (gen: number | null) => Promise<{ userid: number; claim: AccessClaim } | Response>;

/** Fingerprint of a stored password hash string (what the store keeps, never the hash itself). */
export function hashFingerprint(hash: string): string {
  return createHash("sha256").update(`sync-access-v1\u0000${hash}`, "utf8").digest("hex");
}

export class AccessGate {
  private admitted = false;
  /** The full check already ran for this request (its answer is final either way). */
  private checked = false;
  private api: StoreApi | null = null;

  /**
   * @param claim what the first call presents
   * @param full the full check (1.1); null when a refusal is final (1.5 tokens)
   * @param refusal the answer for a refused claim without a full check
   */
  constructor(
    private claim: AccessClaim,
    private readonly full: FullCheck | null,
    private readonly refusal: () => Response,
  ) {}

  /** True once a call of this request was admitted by the store (or the full check passed). */
  get confirmed(): boolean {
    return this.admitted;
  }

  /** The principal's store as {@link StoreApi}: its storage operations go through {@link run}. Built once per request. */
  store(env: Env, principal: Principal): StoreApi {
    if (this.api !== null) return this.api;
    const ops = Object.fromEntries(GATED_OPS.map((op) => [op, (arg: unknown) => this.run(env, principal, op, arg)]));
    this.api = new Proxy(ops, {
      get: (target, name) => {
        if (typeof name === "string" && name in target) return target[name];
        // Anything else (not a storage operation of a request) goes to the store as it is.
        return (rawStoreFor(env, principal) as unknown as Record<string | symbol, unknown>)[name];
      },
    }) as unknown as StoreApi;
    return this.api;
  }

  /** One storage operation under the gate. Calls of one request are sequential. */
  async run(env: Env, principal: Principal, op: GatedOp, arg: unknown): Promise<unknown> {
    const raw = rawStoreFor(env, principal);
    if (this.admitted) return (raw[op] as (a: unknown) => Promise<unknown>)(arg);
    const first = await raw.gated(this.claim, op, arg);
    if (first.ran) {
      this.admitted = true;
      return first.value;
    }
    if (first.refused.refused === "disabled" || this.full === null) throw new AccessRefused(this.refusal());
    this.checked = true;
    const checked = await this.full(first.refused.gen);
    if (checked instanceof Response) throw new AccessRefused(checked);
    if (principal.kind === "account") principal.userid = checked.userid;
    this.claim = checked.claim;
    const again = await rawStoreFor(env, principal).gated(this.claim, op, arg);
    if (!again.ran) {
      // The account was deleted or changed between the full check and this call.
      throw new StorageUnavailable(new Error("the store refused a freshly checked credential"));
    }
    this.admitted = true;
    return again.value;
  }

  /**
   * For a request that made no storage call: runs the full check (1.1) and
   * returns its refusal, or null when the credentials are good.
   */
  async settle(): Promise<Response | null> {
    if (this.admitted || this.checked || this.full === null) return null;
    this.checked = true;
    const checked = await this.full(null);
    if (checked instanceof Response) return checked;
    this.admitted = true;
    return null;
  }
}
