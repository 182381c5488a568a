/**
 * @module mail
 * Reset e-mails (user-1.0 §9.1) behind one small interface, {@link Mailer},
 * with three transports chosen by MAIL_TRANSPORT (src/config.ts):
 *
 *  - `cloudflare`: Cloudflare Email Routing's `send_email` binding SEND_EMAIL
 *    (raw MIME, text/plain UTF-8, base64 body, as the reference sent it).
 *  - `http`: a generic HTTPS mail API: `POST MAIL_API_URL` with
 *    `Authorization: Bearer MAIL_API_KEY` and the JSON body
 *    `{"from", "to", "subject", "text"}`; any 2xx is success.
 *  - `outbox`: development only (DEV_MODE): stores the message in D1
 *    (`dev_outbox`) and logs it; a test reads it through `GET /__dev__/outbox`.
 *
 * A failed delivery is a {@link MailError} whose message is safe to show
 * (never the API key, URL or provider response body); callers map it to 503.
 */
import { toBase64 } from "../auth/encoding";
import type { MailConfig } from "../config";
import { StorageUnavailable } from "../storage/stub";

export interface MailMessage {
  from: string;
  to: string;
  subject: string;
  /** Plain text, LF line ends. */
  text: string;
}

export interface Mailer {
  send(msg: MailMessage): Promise<void>;
}

export class MailError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MailError";
  }
}

export const RESET_SUBJECT = "Resetting your Services password";

/**
 * The reset e-mail body (user-1.0 §9.1): the link is the third line, after
 * four spaces, so tools that read the third line keep working.
 */
export function resetMailText(baseUrl: string, username: string, code: string): string {
  const link = `${baseUrl.replace(/\/+$/, "")}/weave-password-reset?username=${encodeURIComponent(username)}&key=${encodeURIComponent(code)}`;
  return [
    "Someone (hopefully you) asked to reset the password of your Weave (Firefox Sync) account; to choose a new one, follow the link below.",
    "",
    `    ${link}`,
    "",
    "",
    "If you did not ask for this, you can ignore this message: your password stays as it is and the link expires on its own.",
    "",
    "Thanks,",
    "The Weave Team",
    "",
  ].join("\n");
}

/** base64 of the UTF-8 text in lines of 76 characters (RFC 2045). */
function base64Utf8(text: string): string {
  return (toBase64(new TextEncoder().encode(text)).match(/.{1,76}/g) ?? []).join("\r\n");
}

/** RFC 2047 encoded-word for non-ASCII header text. */
function headerText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x20-\x7e]*$/.test(s) ? s : `=?UTF-8?B?${base64Utf8(s).replace(/\r\n/g, "")}?=`;
}

/** The message as raw MIME (CRLF line ends). Header injection is impossible: addresses must be single-line. */
export function toMime(msg: MailMessage, now = new Date()): string {
  for (const v of [msg.from, msg.to, msg.subject]) {
    if (/[\r\n]/.test(v)) throw new MailError("invalid header value");
  }
  const domain = msg.from.slice(msg.from.lastIndexOf("@") + 1) || "localhost";
  return [
    `From: ${msg.from}`,
    `To: ${msg.to}`,
    `Subject: ${headerText(msg.subject)}`,
    `Date: ${now.toUTCString()}`,
    `Message-ID: <${crypto.randomUUID()}@${domain}>`,
    "MIME-Version: 1.0",
    'Content-Type: text/plain; charset="utf-8"',
    "Content-Transfer-Encoding: base64",
    "",
    base64Utf8(msg.text),
    "",
  ].join("\r\n");
}

/** `send_email` binding transport. */
export function cloudflareMailer(binding: SendEmail): Mailer {
  return {
    async send(msg) {
      const { EmailMessage } = await import("cloudflare:email");
      try {
        await binding.send(new EmailMessage(msg.from, msg.to, toMime(msg)));
      } catch (err) {
        console.error("send_email failed:", err instanceof Error ? err.message : err);
        throw new MailError("The e-mail could not be sent.");
      }
    },
  };
}

/** Generic HTTPS mail API transport. `fetcher` is replaceable in tests. */
export function httpMailer(apiUrl: string, apiKey: string, fetcher: typeof fetch = fetch): Mailer {
  return {
    async send(msg) {
      let res: Response;
      try {
        res = await fetcher(apiUrl, {
          method: "POST",
          headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
          body: JSON.stringify({ from: msg.from, to: msg.to, subject: msg.subject, text: msg.text }),
        });
      } catch (err) {
        console.error("mail API unreachable:", err instanceof Error ? err.name : "error");
        throw new MailError("The e-mail service could not be reached.");
      }
      // Drain the body; it is not logged (providers may echo the message or the key).
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) {
        console.error(`mail API answered HTTP ${res.status}`);
        throw new MailError(`The e-mail service refused the message (HTTP ${res.status}).`);
      }
    },
  };
}

/** Development outbox: D1 table `dev_outbox`, plus a log line. */
export function outboxMailer(env: Env): Mailer {
  return {
    async send(msg) {
      try {
        await env.DB.prepare(
          `INSERT INTO dev_outbox (created_at, recipient, subject, body) VALUES (?1, ?2, ?3, ?4)`,
        )
          .bind(Date.now(), msg.to, msg.subject, msg.text)
          .run();
      } catch (err) {
        throw new StorageUnavailable(err);
      }
      // DEV_MODE only: the message (reset link included) is meant to be read here.
      console.log(`[dev outbox] to ${msg.to}: ${msg.subject}\n${msg.text}`);
    },
  };
}

export interface OutboxEntry {
  id: number;
  createdAt: number;
  to: string;
  subject: string;
  body: string;
}

/** Newest first; optionally only messages to `to`. */
export async function readOutbox(env: Env, to: string | null, limit = 20): Promise<OutboxEntry[]> {
  const stmt =
    to === null
      ? env.DB.prepare(`SELECT * FROM dev_outbox ORDER BY id DESC LIMIT ?1`).bind(limit)
      : env.DB.prepare(`SELECT * FROM dev_outbox WHERE recipient = ?1 ORDER BY id DESC LIMIT ?2`).bind(to, limit);
  const { results } = await stmt.all<Record<string, unknown>>();
  return results.map((r) => ({
    id: Number(r.id),
    createdAt: Number(r.created_at),
    to: String(r.recipient),
    subject: String(r.subject),
    body: String(r.body),
  }));
}

/** The configured transport, or null when no e-mail is configured (reset then answers 503). */
export function mailerFor(env: Env, mail: MailConfig): Mailer | null {
  if (mail.transport === "none") return null;
  switch (mail.transport) {
    case "cloudflare":
      return cloudflareMailer((env as unknown as { SEND_EMAIL: SendEmail }).SEND_EMAIL);
    case "http":
      return httpMailer(mail.apiUrl, mail.apiKey);
    case "outbox":
      return outboxMailer(env);
  }
}
