/**
 * Shared plumbing of the hostile property suites: sending one generated
 * request through the real Worker (SELF), and snapshots of a user's stored
 * data read back through the protocol.
 */
import { SELF } from "cloudflare:test";
import { readReply, type Reply } from "../helpers/reply";

export const ORIGIN = "http://sync.test";

export interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: Uint8Array;
}

/** Sends one request; a URL or header the fetch API itself refuses yields null (nothing reached the server). */
export async function send(s: Sent): Promise<Reply | null> {
  let req: Request;
  try {
    const hasBody = s.body !== undefined && s.method !== "GET" && s.method !== "HEAD";
    req = new Request(s.url, { method: s.method, headers: s.headers, body: hasBody ? s.body : undefined });
  } catch {
    return null;
  }
  return readReply(await SELF.fetch(req));
}

/**
 * Everything a user stores as the protocol shows it: the collection list with
 * timestamps and every record of every collection in full.
 */
export async function snapshot(get: (path: string) => Promise<Reply>): Promise<string> {
  const info = await get("/info/collections");
  if (info.status !== 200) throw new Error(`snapshot: info/collections answered ${info.status}: ${info.text}`);
  const names = Object.keys(info.json as Record<string, number>).sort();
  const parts = [`collections ${info.text}`];
  for (const name of names) {
    const r = await get(`/storage/${encodeURIComponent(name)}?full=1&sort=index`);
    if (r.status !== 200) throw new Error(`snapshot: storage/${name} answered ${r.status}: ${r.text}`);
    const items = (r.json as Array<{ id: string }>).slice().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    parts.push(`${name} ${JSON.stringify(items)}`);
  }
  return parts.join("\n");
}

/** The cheap per-request check: a refused request must leave the collection list (with its timestamps) as it was. */
export async function collectionsText(get: (path: string) => Promise<Reply>): Promise<string> {
  const info = await get("/info/collections");
  if (info.status !== 200) throw new Error(`info/collections answered ${info.status}: ${info.text}`);
  return info.text;
}
