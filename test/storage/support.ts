/**
 * Test support for the storage engine: an engine over a fresh Durable
 * Object's SQLite (runInDurableObject) with a clock the test moves, and
 * short readers for the results the tests look at.
 */
import { env, runInDurableObject } from "cloudflare:test";
import type { UserStore } from "../../src/objects/user-store";
import { StorageEngine } from "../../src/storage/engine";
import type { Profile } from "../../src/storage/profile";
import { durableObjectSql, type SqlPort } from "../../src/storage/sql";
import type { Result, StoredRecord } from "../../src/storage/types";

export const START_MS = 1_700_000_000_000;

/** Runs `fn` with an engine of `profile` over a fresh object's storage and a clock the test moves. */
export async function withEngine<T>(
  profile: Profile,
  fn: (e: StorageEngine, clock: { now: number }, sql: SqlPort) => T | Promise<T>,
  start = START_MS,
): Promise<T> {
  const stub = env.USER_STORE.get(env.USER_STORE.idFromName(`engine-test-${crypto.randomUUID()}`));
  return runInDurableObject(stub, async (_obj: UserStore, state) => {
    const clock = { now: start };
    const sql = durableObjectSql(state.storage);
    return fn(new StorageEngine(sql, profile, () => clock.now), clock, sql);
  });
}

/** The success of a result, or a thrown error naming the failure. */
export function ok<T>(r: Result<T>): T & { ok: true } {
  if (!r.ok) throw new Error(`unexpected failure ${JSON.stringify(r.failure)}`);
  return r as T & { ok: true };
}

/** One live record, or null when the engine answers not-found. */
export function record(e: StorageEngine, collection: string, id: string): StoredRecord | null {
  const r = e.get({ collection, id });
  if (!r.ok && r.failure.kind === "not-found") return null;
  return ok(r).record;
}

/** Ids of a collection's live records in the profile's default order. */
export function ids(e: StorageEngine, collection: string): string[] {
  return ok(e.list({ collection, full: false })).records.map((r) => r.id);
}

export const totals = (e: StorageEngine) => ok(e.info({ view: "counts" })).totals;
export const used = (e: StorageEngine) => ok(e.info({ view: "quota" })).used;
export const collections = (e: StorageEngine) => ok(e.info({ view: "collections" })).collections;
