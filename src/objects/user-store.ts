/**
 * @module user-store
 * The per-user Durable Object: a thin shell that builds the storage engine
 * over this object's SQLite storage and exposes it over RPC. Every method
 * delegates to one synchronous engine transaction, so requests of one user
 * never interleave inside a unit of work. All rules live in the engine.
 */
import { DurableObject } from "cloudflare:workers";
import { StorageEngine } from "../storage/engine";
import { durableObjectSql } from "../storage/sql";
import type { DeleteParams, Dialect, ListParams, PostParams, PutParams } from "../storage/types";

export class UserStore extends DurableObject<Env> {
  private engine: StorageEngine;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.engine = new StorageEngine(durableObjectSql(ctx.storage));
  }

  collectionTimestamps() {
    return this.engine.collectionTimestamps();
  }
  collectionTotals(dialect: Dialect) {
    return this.engine.collectionTotals(dialect);
  }
  usage(dialect: Dialect) {
    return this.engine.usage(dialect);
  }
  list(p: ListParams) {
    return this.engine.list(p);
  }
  get(dialect: Dialect, collection: string, id: string) {
    return this.engine.get(dialect, collection, id);
  }
  async put(p: PutParams) {
    const r = this.engine.put(p);
    if (p.record.ttl !== undefined) await this.schedulePurge();
    return r;
  }
  async post(p: PostParams) {
    const r = this.engine.post(p);
    if (p.records.some((rec) => rec.ttl !== undefined)) await this.schedulePurge();
    return r;
  }
  deleteRecords(p: DeleteParams) {
    return this.engine.deleteRecords(p);
  }
  deleteRecord(p: { collection: string; id: string; ifUnmodifiedSince?: number }) {
    return this.engine.deleteRecord(p);
  }
  deleteAll() {
    return this.engine.deleteAll();
  }

  /** Erases everything this object stores (account deletion). */
  async wipe(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.engine = new StorageEngine(durableObjectSql(this.ctx.storage));
  }

  /** Physically removes long-expired records, then re-arms for the next ones. */
  override async alarm(): Promise<void> {
    while (this.engine.purgeExpired() > 0) {
      /* keep going in bounded transactions */
    }
    await this.schedulePurge();
  }

  private async schedulePurge(): Promise<void> {
    const next = this.engine.nextPurgeTime();
    if (next === null) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 1000));
  }
}
