/**
 * @module bench/entry
 * The benchmark's "authentication short-circuited" Worker (bench/run.mjs,
 * server `ours-noauth`): the production app of src/index.ts with its two
 * authentication middlewares replaced, so the benchmark can tell what
 * authentication costs. Never deployed: wrangler.toml's `main` is
 * src/index.ts, and this module is bundled only by the benchmark
 * (`wrangler deploy --dry-run bench/entry.ts`).
 *
 *  - 1.x: the account named in the Basic header must exist, be active and be
 *    the path's user; the password is not checked. Storage requests take the
 *    production store fast path (src/auth/access-gate.ts, one Durable Object
 *    call, no D1 read) with the fingerprint of the account's hash as this
 *    module last read it from D1, so "Basic ÷ short-circuited" measures what
 *    Basic itself costs (parsing aside: the password's MAC and its check).
 *  - 1.5: no Hawk or token check; the path uid is taken as the principal.
 */
import type { MiddlewareHandler } from "hono";
import { AccessGate, hashFingerprint } from "../src/auth/access-gate";
import { findAccount } from "../src/auth/accounts";
import { parseBasic } from "../src/auth/basic";
import { withGate, type AppEnv, type Principal } from "../src/env";
import { createApp } from "../src/index";
import { webobResponse } from "../src/protocol/errors";
import type { BasicAuth } from "../src/routes/pipeline-1x";
import type { AccessClaim } from "../src/storage/access";
import { clientAddress, PERMIT_MS, UNKNOWN_ADDRESS } from "../src/throttle/guard";

export { UserStore, LoginThrottle } from "../src/index";

let warned = false;
function warnOnce(): void {
  if (warned) return;
  warned = true;
  console.warn("!!!!!!!! bench/entry.ts: AUTHENTICATION IS NOT CHECKED. Benchmark harness only; never deploy this entry. !!!!!!!!");
}

/** Per user name: the account and the fingerprint of its hash, as last read from D1 by {@link accountCheck}. */
const known = new Map<string, { userid: number; fp: string }>();

/** The D1 half: the account exists and is active (no password, no throttle); the grant the store remembers. */
async function accountCheck(env: Env, username: string, address: string, gen: number | null): Promise<{ userid: number; claim: AccessClaim } | null> {
  const row = await findAccount(env, username);
  if (!row || row.accountStatus !== 1 || row.password === null) {
    known.delete(username);
    return null;
  }
  const fp = hashFingerprint(row.password);
  known.set(username, { userid: row.userid, fp });
  return { userid: row.userid, claim: { kind: "grant", fp, gen: gen ?? -1, address, until: Date.now() + PERMIT_MS, lockedUntil: 0 } };
}

const accountOnly: BasicAuth = async function benchBasic(req, env, _ctx, user, gated): Promise<Principal | Response> {
  warnOnce();
  const refusal = () => webobResponse(401, { accept: req.headers.get("Accept") });
  const creds = parseBasic(req.headers.get("Authorization"));
  if (creds.kind !== "present" || creds.user !== user) return refusal();
  const address = clientAddress(req) ?? UNKNOWN_ADDRESS;
  const seen = gated ? known.get(user) : undefined;
  if (seen === undefined) {
    const checked = await accountCheck(env, user, address, null);
    if (checked === null) return refusal();
    const principal: Principal = { kind: "account", userid: checked.userid, username: user };
    return gated ? withGate(principal, new AccessGate(checked.claim, null, refusal)) : principal;
  }
  const gate = new AccessGate(
    { kind: "password", fp: seen.fp, address },
    async (gen) => (await accountCheck(env, user, address, gen)) ?? refusal(),
    refusal,
  );
  return withGate({ kind: "account", userid: seen.userid, username: user }, gate);
};

const pathUid: MiddlewareHandler<AppEnv> = async function benchHawk(c, next) {
  warnOnce();
  const uid = /^\/1\.5\/(\d{1,10})(?:\/|$)/.exec(new URL(c.req.url).pathname)?.[1];
  if (uid === undefined) return new Response("0", { status: 401, headers: { "Content-Type": "application/json" } });
  c.set("principal", { kind: "token", uid: Number(uid), fxaUid: "", expired: false });
  await next();
};

export default createApp({ basic: accountOnly, hawk: pathUid }) satisfies ExportedHandler<Env>;
