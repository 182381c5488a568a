/**
 * @module reset
 * The password-reset operations shared by the API (user-1.0 §7.5, §7.7,
 * §7.8) and the HTML pages (§9.3): send a reset e-mail, and set a new
 * password with a reset code. Errors are thrown as the protocol's
 * {@link WeaveError} / {@link HttpError}; the pages translate them.
 */
import type { Config } from "../config";
import { findAccount, rememberPassword, setPasswordHash, type AccountRow } from "../auth/accounts";
import { hashPassword } from "../auth/password";
import { HttpError, WeaveCode, WeaveError } from "../protocol/errors";
import { attemptFor, guardedLogin, reserveAttempt, throttledError } from "../throttle/guard";
import { captchaPasses } from "./captcha";
import { MailError, mailerFor, RESET_SUBJECT, resetMailText } from "./mail";
import { clearResetCodes, consumeResetCode, issueResetCode } from "./reset-codes";

export interface RecoveryContext {
  req: Request;
  env: Env;
  config: Config;
}

/** True when resets can work at all: an e-mail transport is configured (the reference's "reset-code backend"). */
export function resetConfigured(config: Config): boolean {
  return config.recovery.mail.transport !== "none";
}

/** Base URL for links in e-mails: PUBLIC_URL if set (not the attacker-chosen Host header), else the request's origin. */
function linkBase(c: RecoveryContext): string {
  return c.config.publicUrl ?? `${new URL(c.req.url).origin}/`;
}

/**
 * user-1.0 §7.7 steps 1-6 for `username`: throttled per account and per
 * address (before the user lookup, so the throttle says nothing about
 * whether the account exists), then unknown user → 3, no e-mail → 12,
 * captcha → 2, then a new code is e-mailed (failure → 503).
 */
export async function sendResetMail(c: RecoveryContext, username: string, captchaToken: string | null): Promise<void> {
  const mail = c.config.recovery.mail;
  const mailer = mailerFor(c.env, mail);
  if (mail.transport === "none" || mailer === null) throw new HttpError(503);
  const attempt = attemptFor(c.req, username);
  // Checked and counted in one step, so concurrent requests cannot all pass one check; every request counts.
  const ticket = await reserveAttempt(c.env, "reset", attempt);
  if (ticket.retryAfter > 0) throw throttledError(ticket.retryAfter);
  const row = await findAccount(c.env, username);
  if (!row) throw new WeaveError(WeaveCode.INVALID_USERNAME);
  if (!row.mail) throw new WeaveError(WeaveCode.NO_EMAIL);
  if (!(await captchaPasses(c.config, captchaToken, c.req))) throw new WeaveError(WeaveCode.INVALID_CAPTCHA);
  const code = await issueResetCode(c.env, row.userid, c.config.recovery.resetCodeTtl);
  try {
    await mailer.send({
      from: mail.from,
      to: row.mail.trim(),
      subject: RESET_SUBJECT,
      text: resetMailText(linkBase(c), row.username, code),
    });
  } catch (err) {
    if (err instanceof MailError) throw new HttpError(503, err.message, { "Retry-After": String(c.config.retryAfter) });
    throw err;
  }
}

export type ResetOutcome =
  | { ok: true }
  | { ok: false; reason: "bad-code" }
  | { ok: false; reason: "throttled"; retryAfter: number }
  | { ok: false; reason: "update-failed" };

/**
 * Sets `password` on the account if `code` is one of its valid codes. The
 * code check runs under the login throttle (a code is a credential), uses
 * the code up, and a success cancels the account's other codes. The new
 * hash replaces the old one with a compare-and-set, which also invalidates
 * every isolate's cached verification of the old password
 * (src/auth/accounts.ts).
 */
export async function resetWithCode(c: RecoveryContext, row: AccountRow, code: string, password: string): Promise<ResetOutcome> {
  const attempt = attemptFor(c.req, row.username);
  const checked = await guardedLogin(c.env, attempt, async () => ({
    ok: resetConfigured(c.config) && (await consumeResetCode(c.env, row.userid, code)),
  }));
  if ("throttled" in checked) return { ok: false, reason: "throttled", retryAfter: checked.throttled };
  if (!checked.ok) return { ok: false, reason: "bad-code" };
  const hash = await hashPassword(password, c.config.pbkdf2Iterations);
  if (row.password === null || !(await setPasswordHash(c.env, row.userid, row.password, hash))) {
    return { ok: false, reason: "update-failed" };
  }
  await clearResetCodes(c.env, row.userid);
  await rememberPassword(row.username, row.userid, hash, password);
  return { ok: true };
}
