/**
 * @module secrets
 * Server-generated HMAC keys (D1 table `server_secrets`, migrations/0003):
 * created on first use from the CSPRNG, shared by every isolate through D1,
 * cached per isolate. They never leave the Worker.
 */
import { fromBase64Padded as fromBase64, toBase64 } from "../auth/encoding";
import { StorageUnavailable } from "../storage/stub";

export type SecretName = "reset-codes" | "csrf";

const SQL = {
  insert: `INSERT OR IGNORE INTO server_secrets (name, secret) VALUES (?1, ?2)`,
  get: `SELECT secret FROM server_secrets WHERE name = ?1`,
} as const;

const keys = new Map<string, Promise<CryptoKey>>();

async function load(env: Env, name: SecretName): Promise<CryptoKey> {
  const fresh = toBase64(crypto.getRandomValues(new Uint8Array(32)));
  let row: { secret: string } | null;
  try {
    // Whoever inserts first wins; everybody then reads the same row.
    await env.DB.prepare(SQL.insert).bind(name, fresh).run();
    row = await env.DB.prepare(SQL.get).bind(name).first<{ secret: string }>();
  } catch (err) {
    throw new StorageUnavailable(err);
  }
  const raw = row ? fromBase64(row.secret) : null;
  if (!raw || raw.length < 32) throw new Error(`server secret ${name} is malformed`);
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/** The HMAC-SHA256 key named `name`, created if this server has none yet. */
export function serverKey(env: Env, name: SecretName): Promise<CryptoKey> {
  let k = keys.get(name);
  if (!k) {
    k = load(env, name);
    keys.set(name, k);
    k.catch(() => keys.delete(name)); // retry on the next request
  }
  return k;
}

const utf8 = new TextEncoder();

export async function hmac(key: CryptoKey, text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8.encode(text)));
}

export { toHex as hex } from "../auth/encoding";
