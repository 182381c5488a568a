/**
 * @module reset
 * Sending a password-reset e-mail, shared by the API (user-1.0 §7.7) and the
 * HTML pages (§9.3). Errors are thrown as the protocol's {@link WeaveError} /
 * {@link HttpError}; the pages translate them. Setting the password with the
 * code is src/accounts/service.ts's `resetPassword`.
 */
import { publicBaseUrl, type Config } from "../config";
import { findAccount } from "../auth/accounts";
import { HttpError, WeaveCode, WeaveError } from "../protocol/errors";
import { attemptFor, reserveAttempt, throttledError } from "../throttle/guard";
import { captchaPasses } from "./captcha";
import { MailError, mailerFor, RESET_SUBJECT, resetMailText } from "./mail";
import { issueResetCode } from "./reset-codes";

export interface RecoveryContext {
  req: Request;
  env: Env;
  config: Config;
}

/** True when resets can work at all: an e-mail transport is configured (the reference's "reset-code backend"). */
export function resetConfigured(config: Config): boolean {
  return config.recovery.mail.transport !== "none";
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
      // PUBLIC_URL when set, never the attacker-chosen Host header.
      text: resetMailText(publicBaseUrl(c.config, c.req.url), row.username, code),
    });
  } catch (err) {
    if (err instanceof MailError) throw new HttpError(503, err.message, { "Retry-After": String(c.config.retryAfter) });
    throw err;
  }
}
