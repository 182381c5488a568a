/**
 * @module stub
 * How the Worker reaches a principal's Durable Object, and the one error
 * type for "the storage backend failed" (mapped to 503 by each protocol).
 */
import type { Principal } from "../env";
import { storageName } from "../env";

/** The storage backend (Durable Object) failed or is unreachable; never a client error. */
export class StorageUnavailable extends Error {
  constructor(readonly cause: unknown) {
    super("storage unavailable");
    this.name = "StorageUnavailable";
  }
}

export function userStoreFor(env: Env, principal: Principal) {
  return env.USER_STORE.get(env.USER_STORE.idFromName(storageName(principal)));
}

/**
 * Runs one RPC call against a user's Durable Object, turning infrastructure
 * failures (overload, reset, network) into {@link StorageUnavailable}.
 */
export async function callStore<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new StorageUnavailable(err);
  }
}
