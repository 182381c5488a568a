/**
 * @module stub
 * How the Worker reaches a principal's Durable Object, and the one error
 * type for "the storage backend failed" (mapped to 503 by each protocol).
 */
import type { Principal } from "../env";
import { storageName } from "../env";
import type { UserStore } from "../objects/user-store";

/** The storage backend (Durable Object) failed or is unreachable; never a client error. */
export class StorageUnavailable extends Error {
  constructor(override readonly cause: unknown) {
    super("storage unavailable");
    this.name = "StorageUnavailable";
  }
}

/**
 * The request's credentials or token were refused while it was being served
 * (the store's access check, src/storage/access.ts): carries the protocol's
 * refusal (401 / 503), which every renderer passes through as it is.
 */
export class AccessRefused extends Error {
  constructor(readonly response: Response) {
    super("access refused");
    this.name = "AccessRefused";
  }
}

/**
 * The RPC surface of the user's Durable Object, as plain async functions.
 * (The generated stub type wraps union results in a way TypeScript cannot
 * narrow; results here are plain structured-clone data, so this view is exact.)
 */
export type StoreApi = {
  [K in keyof UserStore as UserStore[K] extends (...args: never[]) => unknown ? K : never]: UserStore[K] extends (
    ...args: infer A
  ) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/** The principal's Durable Object; with an access gate (src/auth/access-gate.ts), every operation carries its claim. */
export function userStoreFor(env: Env, principal: Principal): StoreApi {
  if (principal.gate) return principal.gate.store(env, principal);
  return rawStoreFor(env, principal);
}

/** The principal's Durable Object without any access check (operator tools, the gate itself). */
export function rawStoreFor(env: Env, principal: Principal): StoreApi {
  return env.USER_STORE.get(env.USER_STORE.idFromName(storageName(principal))) as unknown as StoreApi;
}

/**
 * Runs one RPC call against a user's Durable Object, turning infrastructure
 * failures (overload, reset, network) into {@link StorageUnavailable}.
 */
export async function callStore<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AccessRefused || err instanceof StorageUnavailable) throw err;
    throw new StorageUnavailable(err);
  }
}
