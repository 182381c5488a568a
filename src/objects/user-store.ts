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
import { runAdminOp, type AdminStoreOp } from "../storage/transfer";
import type {
  DeleteCollectionParams,
  DeleteParams,
  Dialect,
  GetParams,
  InfoParams,
  ListParams,
  PostParams,
  Preconditions,
  PutParams,
  QueryParams,
} from "../storage/types";

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
    if (p.dialect === "1.5" && p.record.ttl !== undefined) await this.schedulePurge();
    return r;
  }
  async post(p: PostParams) {
    const r = this.engine.post(p);
    // A batch commit may apply ttls staged by earlier requests.
    if (p.dialect === "1.5" && (p.batch?.commit || p.records.some((rec) => rec.ttl !== undefined))) await this.schedulePurge();
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

  // Storage 1.5 (reads and deletes with preconditions; writes go through put/post).
  info(p: InfoParams) {
    return this.engine.info(p);
  }
  query(p: QueryParams) {
    return this.engine.query(p);
  }
  getOne(p: GetParams) {
    return this.engine.getOne(p);
  }
  deleteCollection(p: DeleteCollectionParams) {
    return this.engine.deleteCollection(p);
  }
  deleteOne(p: GetParams) {
    return this.engine.deleteOne(p);
  }
  deleteStorage(p: Preconditions) {
    return this.engine.deleteStorage(p);
  }

  /** Operator operations: export, import, statistics, purge (src/storage/transfer.ts). */
  async admin(op: AdminStoreOp) {
    const r = runAdminOp(durableObjectSql(this.ctx.storage), op);
    if (op.op === "import-commit" && op.dialect === "1.5" && r.ok) await this.schedulePurge();
    return r;
  }

  /** Erases everything this object stores (account deletion). */
  async wipe(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.engine = new StorageEngine(durableObjectSql(this.ctx.storage));
  }

  /**
   * Physically removes long-expired records, then re-arms for the next ones.
   * Armed by Storage 1.5 writes only: in 1.1, expired records still count for
   * info/collections and X-If-Unmodified-Since (storage-1.1 §8.1, §10, §12),
   * and the reference never purged them; 1.1 records with a ttl are
   * overwritten by id in practice (tabs, clients), so they do not pile up.
   */
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
