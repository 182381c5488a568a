/**
 * @module accounts/service
 * The Sync 1.1 account operations, each written once and used by the User
 * API (src/routes/user.ts), the account pages (src/routes/recovery.ts) and
 * the operator's tools: create, change password, reset password with a code,
 * change e-mail, disable / enable, delete. Callers check who is asking
 * (credentials, reset code, operator token); these functions do the change.
 *
 * Compare-and-set: a change made on behalf of a user passes the hash the
 * user's credentials were verified against, and the change happens only if
 * the account still has that hash, so a concurrent password change wins.
 *
 * Failures of D1 or of the user's Durable Object are thrown as
 * {@link StorageUnavailable} (each protocol maps it to 503).
 */
import type { Config } from "../config";
import {
  ACCOUNT_ACTIVE,
  ACCOUNT_DISABLED,
  createAccount as insertAccount,
  deleteAccountRow,
  rememberPassword,
  setAccountStatus,
  setMail,
  storePassword,
  type AccountRow,
} from "../auth/accounts";
import { hashPassword } from "../auth/password";
import { clearResetCodes, consumeResetCode } from "../recovery/reset-codes";
import { callStore, userStoreFor } from "../storage/stub";
import { attemptFor, guardedLogin } from "../throttle/guard";

/** An existing account. */
export interface AccountRef {
  userid: number;
  username: string;
}

export interface NewAccount {
  username: string;
  password: string;
  email: string;
}

/** Creates an active account; null when the name is taken (also under a race). */
export async function createAccount(env: Env, config: Config, a: NewAccount): Promise<AccountRef | null> {
  const hash = await hashPassword(a.password, config.pbkdf2Iterations);
  const userid = await insertAccount(env, a.username, hash, a.email);
  if (userid === null) return null;
  await rememberPassword(a.username, userid, hash, a.password);
  return { userid, username: a.username };
}

/** Sets a new password if the account still has `verifiedHash`. */
export function changePassword(env: Env, config: Config, account: AccountRef, verifiedHash: string, password: string): Promise<boolean> {
  return storePassword(env, config, account, verifiedHash, password);
}

export type ResetOutcome =
  | { ok: true }
  | { ok: false; reason: "bad-code" }
  | { ok: false; reason: "throttled"; retryAfter: number }
  | { ok: false; reason: "update-failed" };

/**
 * Sets `password` if `code` is one of the account's valid reset codes
 * (user-1.0 §7.5 with X-Weave-Password-Reset, §9.3). The code check runs
 * under the login throttle (a code is a credential) and uses the code up;
 * a success cancels the account's other codes. Without an e-mail transport
 * no code can exist, so every code is bad.
 */
export async function resetPassword(
  env: Env,
  config: Config,
  req: Request,
  row: AccountRow,
  code: string,
  password: string,
): Promise<ResetOutcome> {
  const checked = await guardedLogin(env, attemptFor(req, row.username), async () => ({
    ok: config.recovery.mail.transport !== "none" && (await consumeResetCode(env, row.userid, code)),
  }));
  if ("throttled" in checked) return { ok: false, reason: "throttled", retryAfter: checked.throttled };
  if (!checked.ok) return { ok: false, reason: "bad-code" };
  if (row.password === null || !(await storePassword(env, config, row, row.password, password))) {
    return { ok: false, reason: "update-failed" };
  }
  await clearResetCodes(env, row.userid);
  return { ok: true };
}

/** Stores a new e-mail address if the account still has `verifiedHash`. */
export function changeEmail(env: Env, account: AccountRef, verifiedHash: string, email: string): Promise<boolean> {
  return setMail(env, account.userid, verifiedHash, email);
}

/**
 * Disables (no login, data kept) or re-enables an account; true when it
 * exists. Every isolate refuses a disabled account on its next request: the
 * row is read on every request.
 */
export function setDisabled(env: Env, account: AccountRef, disabled: boolean): Promise<boolean> {
  return setAccountStatus(env, account.userid, disabled ? ACCOUNT_DISABLED : ACCOUNT_ACTIVE);
}

/**
 * Deletes the account's stored data, then the account (unlike the reference,
 * REF-BUG user-1.0 §7.3, which kept the data). The data goes first: if the
 * Durable Object cannot be reached this throws {@link StorageUnavailable} and
 * the account is still there, so the request can simply be retried; deleting
 * the row first could strand data nobody can reach or delete any more (ids
 * are never reused, so even stranded data could not leak into a new
 * account). `verifiedHash` makes the row deletion a compare-and-set; null
 * (the operator's decision) deletes unconditionally. True when the account
 * row was deleted; its pending reset codes go with it.
 */
export async function deleteAccount(env: Env, account: AccountRef, verifiedHash: string | null): Promise<boolean> {
  await callStore(() => userStoreFor(env, { kind: "account", ...account }).wipe());
  const deleted = await deleteAccountRow(env, account.userid, verifiedHash);
  if (deleted) await clearResetCodes(env, account.userid);
  return deleted;
}
