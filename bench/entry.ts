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
 *    the path's user; the password is not checked.
 *  - 1.5: no Hawk or token check; the path uid is taken as the principal.
 */
import type { MiddlewareHandler } from "hono";
import { findAccount } from "../src/auth/accounts";
import { parseBasic } from "../src/auth/basic";
import type { AppEnv } from "../src/env";
import { createApp } from "../src/index";
import { webobResponse } from "../src/protocol/errors";
import type { BasicMiddleware } from "../src/routes/pipeline-1x";

export { UserStore, LoginThrottle } from "../src/index";

let warned = false;
function warnOnce(): void {
  if (warned) return;
  warned = true;
  console.warn("!!!!!!!! bench/entry.ts: AUTHENTICATION IS NOT CHECKED. Benchmark harness only; never deploy this entry. !!!!!!!!");
}

const accountOnly: BasicMiddleware = async function benchBasic(c, next) {
  warnOnce();
  const creds = parseBasic(c.req.header("Authorization"));
  const user = c.req.param("user");
  const row = creds.kind === "present" && creds.user === user ? await findAccount(c.env, creds.user) : null;
  if (!row || row.accountStatus !== 1) return webobResponse(401, { accept: c.req.header("Accept") ?? null });
  c.set("principal", { kind: "account", userid: row.userid, username: row.username });
  await next();
};

const pathUid: MiddlewareHandler<AppEnv> = async function benchHawk(c, next) {
  warnOnce();
  const uid = /^\/1\.5\/(\d{1,10})(?:\/|$)/.exec(new URL(c.req.url).pathname)?.[1];
  if (uid === undefined) return new Response("0", { status: 401, headers: { "Content-Type": "application/json" } });
  c.set("principal", { kind: "token", uid: Number(uid), fxaUid: "", expired: false });
  await next();
};

export default createApp({ basic: accountOnly, hawk: pathUid }) satisfies ExportedHandler<Env>;
