/**
 * @module user-store
 * The per-user Durable Object: a shell that builds the storage engine over
 * this object's SQLite storage and exposes it over RPC. Every method
 * delegates to one synchronous engine operation, so requests of one user
 * never interleave inside a unit of work. All rules live in the engine; which
 * protocol's rules apply is the store's profile, settled from the object's
 * name (src/storage/profile.ts).
 */
import { DurableObject } from "cloudflare:workers";
import { AccessControl, type AccessClaim, type Admission } from "../storage/access";
import { StorageEngine } from "../storage/engine";
import { renderedPage, type RenderedListParams } from "../storage/paging";
import { profileForName } from "../storage/profile";
import { durableObjectSql } from "../storage/sql";
import { runAdminOp, type AdminStoreOp } from "../storage/transfer";
import type { DeleteParams, InfoParams, ListParams, PostParams, Preconditions, PutParams, RecordParams } from "../storage/types";

/** The operations a request may run through {@link UserStore.gated}. */
export const GATED_OPS = ["info", "list", "listRendered", "get", "put", "post", "deleteRecords", "deleteRecord", "deleteStorage"] as const;
export type GatedOp = (typeof GATED_OPS)[number];

/** The answer of {@link UserStore.gated}: the operation's result, or why it did not run. */
export type Gated<T> = { ran: true; value: T } | { ran: false; refused: Exclude<Admission, { ok: true }> };

export class UserStore extends DurableObject<Env> {
  private built: StorageEngine | null = null;
  private accessBuilt: AccessControl | null = null;

  /** Built on first use, so that an object can be wiped before it ever served a request. */
  private get engine(): StorageEngine {
    this.built ??= new StorageEngine(durableObjectSql(this.ctx.storage), profileForName(this.ctx.id.name));
    return this.built;
  }

  /** The access record (src/storage/access.ts), over the schema the engine brought up to date. */
  private get access(): AccessControl {
    void this.engine;
    this.accessBuilt ??= new AccessControl(durableObjectSql(this.ctx.storage));
    return this.accessBuilt;
  }

  /**
   * One storage operation together with the request's credential claim
   * (src/storage/access.ts): the claim is checked and the operation run in
   * the same call, with nothing in between; a refused claim runs nothing.
   * A null claim runs the operation (the Worker checked the request itself).
   */
  async gated(claim: AccessClaim | null, op: GatedOp, arg: unknown): Promise<Gated<unknown>> {
    if (claim !== null) {
      const a = this.access.admit(claim);
      if (!a.ok) return { ran: false, refused: a };
    }
    return { ran: true, value: await this.dispatch(op, arg) };
  }

  /** One of the storage methods below, by name (only those in {@link GATED_OPS}). */
  private dispatch(op: GatedOp, arg: unknown): Promise<unknown> | unknown {
    if (!GATED_OPS.includes(op)) throw new Error(`not a gated operation: ${String(op)}`);
    return (this[op] as (a: unknown) => unknown).call(this, arg);
  }

  /** A credential or account change starts (before its D1 write); returns the new generation. */
  accessBegin(): number {
    return this.access.begin();
  }
  /** The change is done: the new fingerprint (null: none) and, if given, the disabled state (src/storage/access.ts). */
  accessCommit(change: { fp: string | null; disabled?: number }): void {
    this.access.commit(change);
  }
  /** The login throttle locked this account (or an address it registered from): no fast path until `until`. */
  accessLock(until: number): void {
    this.access.lock(until);
  }
  accessState() {
    return this.access.state();
  }

  info(p: InfoParams) {
    return this.engine.info(p);
  }
  list(p: ListParams) {
    return this.engine.list(p);
  }
  /** A listing page rendered here, answered as its text (src/storage/paging.ts). */
  listRendered(p: RenderedListParams) {
    return renderedPage((q) => this.engine.list(q), p);
  }
  get(p: RecordParams) {
    return this.engine.get(p);
  }
  put(p: PutParams) {
    return this.afterWrite(this.engine.put(p));
  }
  post(p: PostParams) {
    return this.afterWrite(this.engine.post(p));
  }
  deleteRecords(p: DeleteParams) {
    return this.engine.deleteRecords(p);
  }
  deleteRecord(p: RecordParams) {
    return this.engine.deleteRecord(p);
  }
  deleteStorage(p: Preconditions) {
    return this.engine.deleteStorage(p);
  }

  /** Operator operations: export, import, statistics, purge (src/storage/transfer.ts). */
  async admin(op: AdminStoreOp) {
    void this.engine; // built first: it brings the schema up to date and records the store's profile
    const r = runAdminOp(durableObjectSql(this.ctx.storage), op);
    if (op.op === "import-commit" && r.ok) this.access.revive();
    if (op.op === "import-commit" && op.dialect === "1.5" && r.ok) await this.schedulePurge();
    return r;
  }

  /**
   * Erases everything this object stores (account deletion), leaving only a
   * tombstone in the access record, so that no credential or token that was
   * good before the deletion is accepted again; the tombstone removes itself
   * (alarm) once nothing issued before the deletion can still be in use.
   */
  async wipe(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.built = null;
    this.accessBuilt = null;
    this.access.tombstone();
    const until = this.access.tombstoneUntil();
    if (until !== null) await this.ctx.storage.setAlarm(until);
  }

  /** Physically removes long-expired records (profiles that purge), then re-arms for the next ones. */
  override async alarm(): Promise<void> {
    const tombstone = this.access.tombstoneUntil();
    if (tombstone !== null) {
      if (tombstone > Date.now()) return void (await this.ctx.storage.setAlarm(tombstone));
      await this.ctx.storage.deleteAll();
      this.built = null;
      this.accessBuilt = null;
      return;
    }
    while (this.engine.purgeExpired() > 0) {
      /* keep going in bounded transactions */
    }
    await this.schedulePurge();
  }

  /** Re-arms the purge alarm when the engine says a write gave a record an expiry. */
  private async afterWrite<T>(result: T): Promise<T> {
    if (this.engine.takePurgeDue()) await this.schedulePurge();
    return result;
  }

  private async schedulePurge(): Promise<void> {
    const next = this.engine.nextPurgeTime();
    if (next === null) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 1000));
  }
}
