/**
 * Test support for account recovery: the Worker called with extra vars (each
 * call parses its own config), accounts with a known e-mail, the dev outbox,
 * and a small browser-like form client that keeps the CSRF cookie.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import worker from "../../src/index";
import { clientUsername } from "../../src/lib/usernames";
import { basic, ORIGIN } from "./sync11";

export type Vars = Record<string, string>;

/** Outbox transport, development mode: the usual setup of these tests. */
export const DEV: Vars = { MAIL_TRANSPORT: "outbox", MAIL_FROM: "sync@example.test", DEV_MODE: "true" };
/** Turnstile's published always-pass / always-fail test keys. */
export const CAPTCHA_PASS: Vars = {
  TURNSTILE_SITE_KEY: "1x00000000000000000000AA",
  TURNSTILE_SECRET_KEY: "1x0000000000000000000000000000000AA",
};
export const CAPTCHA_FAIL: Vars = {
  TURNSTILE_SITE_KEY: "2x00000000000000000000AB",
  TURNSTILE_SECRET_KEY: "2x0000000000000000000000000000000AA",
};

export async function fetchWith(vars: Vars, path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${ORIGIN}${path}`, init), { ...env, ...vars } as unknown as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export interface TestAccount {
  username: string;
  password: string;
  email: string;
  auth: string;
}

let n = 0;
export async function newAccount(vars: Vars = {}): Promise<TestAccount> {
  n += 1;
  const email = `rec.${Date.now().toString(36)}.${n}.${crypto.randomUUID().slice(0, 8)}@example.com`;
  const username = await clientUsername(email);
  const password = `pw-${crypto.randomUUID()}`;
  const res = await fetchWith(vars, `/user/1.0/${username}`, {
    method: "PUT",
    body: JSON.stringify({ password, email }),
    headers: { "X-Weave-Secret": "unused" },
  });
  if (res.status !== 200) throw new Error(`register failed: ${res.status} ${await res.text()}`);
  return { username, password, email, auth: basic(username, password) };
}

export interface OutboxMessage {
  id: number;
  to: string;
  subject: string;
  body: string;
}

export async function outbox(to: string, vars: Vars = DEV): Promise<OutboxMessage[]> {
  const res = await fetchWith(vars, `/__dev__/outbox?to=${encodeURIComponent(to)}`);
  if (res.status !== 200) throw new Error(`outbox: ${res.status}`);
  return (await res.json()) as OutboxMessage[];
}

/** The link on the third line of the newest reset e-mail to `to` (U10-9.1). */
export async function resetLink(to: string, vars: Vars = DEV): Promise<URL> {
  const [m] = await outbox(to, vars);
  if (!m) throw new Error(`no mail to ${to}`);
  const line = m.body.split("\n")[2] as string;
  if (!line.startsWith("    ")) throw new Error(`third line is not the link: ${JSON.stringify(line)}`);
  return new URL(line.trim());
}

export async function resetCodeFor(account: TestAccount, vars: Vars = DEV): Promise<string> {
  const res = await fetchWith(vars, `/user/1.0/${account.username}/password_reset`);
  if (res.status !== 200) throw new Error(`password_reset: ${res.status} ${await res.text()}`);
  return (await resetLink(account.email, vars)).searchParams.get("key") as string;
}

/** A browser stand-in for the HTML forms: keeps cookies, reads the hidden CSRF field. */
export class FormClient {
  cookies = new Map<string, string>();
  constructor(
    readonly vars: Vars = DEV,
    readonly headers: Record<string, string> = {},
  ) {}

  private remember(res: Response): void {
    for (const sc of res.headers.getSetCookie()) {
      const [pair] = sc.split(";");
      const eq = (pair as string).indexOf("=");
      this.cookies.set((pair as string).slice(0, eq), (pair as string).slice(eq + 1));
    }
  }

  private cookieHeader(): Record<string, string> {
    const c = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    return c ? { Cookie: c } : {};
  }

  async get(path: string): Promise<{ res: Response; html: string; csrf: string | null }> {
    const res = await fetchWith(this.vars, path, { headers: { ...this.headers, ...this.cookieHeader() } });
    this.remember(res);
    const html = await res.text();
    const m = /name="csrf" value="([^"]+)"/.exec(html);
    return { res, html, csrf: m ? (m[1] as string) : null };
  }

  async post(path: string, fields: Record<string, string>, opts: { csrf?: string | null } = {}): Promise<{ res: Response; body: string }> {
    const form = new URLSearchParams(fields);
    if (opts.csrf !== null) {
      const token = opts.csrf ?? (await this.get(path)).csrf;
      if (token) form.set("csrf", token);
    }
    const res = await fetchWith(this.vars, path, {
      method: "POST",
      body: form.toString(),
      headers: { "Content-Type": "application/x-www-form-urlencoded", ...this.headers, ...this.cookieHeader() },
    });
    this.remember(res);
    return { res, body: await res.text() };
  }
}

export { basic, ORIGIN };
