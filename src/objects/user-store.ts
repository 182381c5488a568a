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
import { StorageEngine } from "../storage/engine";
import { profileForName } from "../storage/profile";
import { durableObjectSql } from "../storage/sql";
import { runAdminOp, type AdminStoreOp } from "../storage/transfer";
import type { DeleteParams, InfoParams, ListParams, PostParams, Preconditions, PutParams, RecordParams } from "../storage/types";

export class UserStore extends DurableObject<Env> {
  private built: StorageEngine | null = null;

  /** Built on first use, so that an object can be wiped before it ever served a request. */
  private get engine(): StorageEngine {
    this.built ??= new StorageEngine(durableObjectSql(this.ctx.storage), profileForName(this.ctx.id.name));
    return this.built;
  }

  info(p: InfoParams) {
    return this.engine.info(p);
  }
  list(p: ListParams) {
    return this.engine.list(p);
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
    if (op.op === "import-commit" && op.dialect === "1.5" && r.ok) await this.schedulePurge();
    return r;
  }

  /** Erases everything this object stores (account deletion). */
  async wipe(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.built = null;
  }

  /** Physically removes long-expired records (profiles that purge), then re-arms for the next ones. */
  override async alarm(): Promise<void> {
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
