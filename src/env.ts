/**
 * @module env
 * Hono typing shared by every route: the Worker bindings and the per-request
 * variables that middleware sets (the authenticated principal, the config).
 */
import type { Config } from "./config";
import type { AccessGate } from "./auth/access-gate";

/** Who the request is authenticated as. Set only by auth middleware. */
export type Principal =
  /** A Sync 1.1 account from the D1 `user` table (HTTP Basic). */
  | {
      kind: "account";
      userid: number;
      username: string;
      /** Set when the credentials are checked by the store in the request's first call (src/auth/access-gate.ts). */
      gate?: AccessGate;
    }
  /** A Sync 1.5 token holder (Hawk), uid from the tokenserver's `users` table. */
  | {
      kind: "token";
      uid: number;
      fxaUid: string;
      /** Token expired; only routes that tolerate it (GET info/collections) see this true. */
      expired: boolean;
      /** The store refuses the token of a disabled or deleted user in the request's first call. */
      gate?: AccessGate;
    };

export type AppEnv = {
  Bindings: Env;
  Variables: {
    principal: Principal;
    config: Config;
  };
};

/**
 * Name of the Durable Object holding a principal's collections. 1.1 accounts
 * and 1.5 token users live in separate name spaces so that a numeric id of
 * one system can never address the other's data.
 */
export function storageName(p: Principal): string {
  return p.kind === "account" ? `acct:${p.userid}` : `uid:${p.uid}`;
}

/**
 * Attaches an access gate to a principal, as a non-enumerable property: it
 * travels with the principal to the store calls but is no part of what the
 * principal says (who is asking), so copies and serialisations leave it out.
 */
export function withGate<P extends Principal>(principal: P, gate: AccessGate): P {
  Object.defineProperty(principal, "gate", { value: gate, enumerable: false, writable: false });
  return principal;
}
