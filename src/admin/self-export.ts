/**
 * @module admin/self-export
 * A Sync 1.1 user's own export: `GET /weave-export` asks for the account's
 * HTTP Basic credentials (the browser shows its login prompt) and answers
 * the account's data as a download in the export format
 * (docs/export-format.md), streamed like the operator's export. Without (or
 * with wrong) credentials the 401's body is a page in the account pages'
 * look saying what the address is for; the reset, delete-account and setup
 * pages link here. Logins go
 * through the same throttle as every Basic login.
 *
 * Sync 1.5 users have no such page: their storage is reached only with
 * short-lived tokens the tokenserver issues to Firefox after a Mozilla
 * account login, so there is no credential a person could type here; their
 * export goes through the operator (`npm run admin -- export uid:<uid>`).
 */
import type { Context } from "hono";
import { verifyCredentials } from "../auth/accounts";
import { parseBasic } from "../auth/basic";
import { clientUsername } from "../lib/usernames";
import { getConfig } from "../config";
import { exportLoginPage, pageHeaders, pageNonce } from "../recovery/pages";
import type { AppEnv } from "../env";
import { VERSION_INFO } from "../routes/health";
import { attemptFor, guardedLogin } from "../throttle/guard";
import { accountByName } from "./db";
import { exportStream } from "./transfer";

const CHALLENGE = 'Basic realm="Sync account: download your data", charset="UTF-8"';

/**
 * The 401 that makes the browser ask for the credentials; its body is a page
 * in the account pages' look (read by whoever cancels the prompt).
 */
async function refuse(env: Env, wrong: boolean): Promise<Response> {
  const nonce = pageNonce();
  const headers = pageHeaders({ nonce, siteKey: null });
  headers.set("WWW-Authenticate", CHALLENGE);
  return new Response(await exportLoginPage({ nonce, operator: getConfig(env).operator }, wrong), { status: 401, headers });
}

export async function selfExport(c: Context<AppEnv>): Promise<Response> {
  const creds = parseBasic(c.req.header("Authorization"));
  if (creds.kind !== "present") return refuse(c.env, false);
  let name = creds.user;
  // Accept the e-mail address as well as the derived user name.
  if (name.includes("@")) name = await clientUsername(name);
  const attempt = attemptFor(c.req.raw, name);
  const result = await guardedLogin(c.env, attempt, () =>
    verifyCredentials(c.env, c.executionCtx as ExecutionContext, name, creds.password),
  );
  if ("throttled" in result) {
    return new Response("Too many attempts. Please try again later.\n", {
      status: 503,
      headers: { "Retry-After": String(result.throttled), "Content-Type": "text/plain; charset=utf-8" },
    });
  }
  if (!result.ok) return refuse(c.env, true);
  const account = await accountByName(c.env.DB, name);
  if (!account) return refuse(c.env, true);
  const stream = exportStream(c.env, { kind: "1.1", account }, `${VERSION_INFO.source} ${VERSION_INFO.version}`);
  return new Response(stream, {
    headers: {
      "Content-Type": "application/x-ndjson",
      "Content-Disposition": `attachment; filename="sync-${name}.ndjson"`,
      "Cache-Control": "no-store",
    },
  });
}
