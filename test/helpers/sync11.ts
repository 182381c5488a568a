/**
 * A Sync 1.1 test client: registers accounts through the User API and speaks
 * Storage 1.1 with HTTP Basic through the Worker's fetch handler (SELF), as
 * a client would. Timestamps are parsed from their 2-decimal wire text.
 */
import { SELF } from "cloudflare:test";
import { clientUsername } from "../../src/lib/usernames";
import { readReply, type Reply } from "./reply";

export const ORIGIN = "http://sync.test";
let counter = 0;

export interface Account {
  username: string;
  password: string;
  auth: string;
}

export function basic(user: string, password: string): string {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/** Creates an account the way a 1.1 client does: the username is the hash of the e-mail. */
export async function register(prefix = "user"): Promise<Account> {
  counter += 1;
  const email = `${prefix}.${Date.now().toString(36)}.${counter}.${crypto.randomUUID().slice(0, 8)}@example.com`;
  const username = await clientUsername(email);
  const password = `pw-${crypto.randomUUID()}`;
  const res = await SELF.fetch(`${ORIGIN}/user/1.0/${username}`, {
    method: "PUT",
    body: JSON.stringify({ password, email }),
  });
  if (res.status !== 200) throw new Error(`register failed: ${res.status} ${await res.text()}`);
  return { username, password, auth: basic(username, password) };
}

export type { Reply };

export async function call(
  account: Account | null,
  method: string,
  path: string,
  opts: { body?: unknown; raw?: BodyInit; headers?: Record<string, string>; version?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (account && !("Authorization" in headers)) headers.Authorization = account.auth;
  const prefix = account ? `/${opts.version ?? "1.1"}/${account.username}` : "";
  const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const res = await SELF.fetch(`${ORIGIN}${prefix}${path}`, { method, headers, body });
  return readReply(res);
}

/** "1300000000.12" → 1300000000120 */
export function tsMs(text: string | null): number {
  if (text === null) throw new Error("missing timestamp");
  if (!/^\d+\.\d\d$/.test(text)) throw new Error(`not a 2-decimal timestamp: ${text}`);
  return Math.round(Number(text) * 100) * 10;
}
