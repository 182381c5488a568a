/**
 * Protocol drivers for the contract suite: one per protocol, each speaking
 * to the real Worker (SELF) with real credentials. Storage 1.1: an account
 * created through the User API, HTTP Basic on every request. Storage 1.5: a
 * Mozilla account signed in at the tokenserver, Hawk on every request.
 *
 * A driver hides only what the protocols spell differently (paths, how a
 * full wipe is confirmed, how a refused cross-user request answers, the
 * name of a limit failure); the cases in behaviours.test.ts are written once.
 */
import { env } from "cloudflare:test";
import { call as call11, register, type Account } from "../helpers/sync11";
import { Client15 } from "../helpers/sync15";
import type { Reply } from "../helpers/reply";

export interface RecordIn {
  id?: string;
  payload?: string;
  sortindex?: number;
  ttl?: number;
}

export interface User {
  /** A request below this user's storage root (`/1.1/<user>` or `/1.5/<uid>`). */
  call(method: string, path: string, opts?: { body?: unknown; headers?: Record<string, string> }): Promise<Reply>;
  /** This user's credentials on `other`'s storage path. */
  trespass(other: User, method: string, path: string): Promise<Reply>;
  /** Deletes everything this user stores. */
  wipe(headers?: Record<string, string>): Promise<Reply>;
}

export interface Driver {
  name: string;
  /** The rule-id prefix of this protocol's storage rules (docs/protocol/). */
  prefix: "S11" | "S15";
  newUser(): Promise<User>;
  /** Records accepted per POST before the surplus fails (as configured), and the failure text the surplus gets. */
  postLimit(user: User): Promise<{ records: number; reason: string }>;
  /** The largest payload (UTF-8 bytes) one record may have. */
  recordLimit(user: User): Promise<number>;
  /** Status of a request with valid credentials of another user on this user's path. */
  trespassStatus: number;
}

class User11 implements User {
  constructor(readonly account: Account) {}
  call(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}) {
    return call11(this.account, method, path, opts);
  }
  trespass(other: User, method: string, path: string) {
    return call11((other as User11).account, method, path, { headers: { Authorization: this.account.auth } });
  }
  wipe(headers: Record<string, string> = {}) {
    return this.call("DELETE", "/storage", { headers: { "X-Confirm-Delete": "1", ...headers } });
  }
}

class User15 implements User {
  constructor(readonly client: Client15) {}
  call(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}) {
    return this.client.call(method, path, opts);
  }
  trespass(other: User, method: string, path: string) {
    return (other as User15).client.call(method, path, { credentials: this.client.credentials });
  }
  wipe(headers: Record<string, string> = {}) {
    return this.call("DELETE", "/storage", { headers });
  }
}

export const storage11: Driver = {
  name: "Storage 1.1 (User API account, HTTP Basic)",
  prefix: "S11",
  newUser: async () => new User11(await register("contract")),
  postLimit: async () => ({ records: Number((env as unknown as Record<string, string>).BATCH_MAX_COUNT ?? 100), reason: "retry wbo" }),
  recordLimit: async () => 262144, // fixed by the protocol (S11-5.1)
  trespassStatus: 401,
};

export const storage15: Driver = {
  name: "Storage 1.5 (tokenserver token, Hawk)",
  prefix: "S15",
  newUser: async () => new User15(await Client15.create()),
  // As advertised to clients (S15-6.5).
  postLimit: async (user) => {
    const conf = await user.call("GET", "/info/configuration");
    return { records: (conf.json as { max_post_records: number }).max_post_records, reason: "retry bso" };
  },
  recordLimit: async (user) => {
    const conf = await user.call("GET", "/info/configuration");
    return (conf.json as { max_record_payload_bytes: number }).max_record_payload_bytes;
  },
  trespassStatus: 400,
};

export const DRIVERS: readonly Driver[] = [storage11, storage15];

/** A failure reason as either protocol writes it (1.1: a one-element list, 1.5: a string). */
export function reason(v: unknown): string {
  return Array.isArray(v) ? String(v[0]) : String(v);
}
