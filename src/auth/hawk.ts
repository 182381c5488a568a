/**
 * @module hawk
 * Pure Hawk 1.0 request verification for Storage 1.5 (hawk.md). No Hono, no
 * bindings: takes a Request-like input and options, returns a tagged result.
 * The HTTP mapping (401 body `0`, 400 on uid mismatch) lives in
 * hawk-middleware.ts.
 */
import { createHmac } from "node:crypto";
import { fromBase64, hmacSha256, sha256, timingSafeEqual, toBase64, utf8 } from "./encoding";
import { NO_NONCE_CHECK, type NonceStore } from "./nonce-store";
import { urlOriginText, urlPath, urlSearch } from "../lib/url";
import { deriveHawkKey, isExpired, parseToken, type TokenPayload } from "./tokenlib";

/** Default accepted |ts − now| in seconds (hawk §6 recommends at least one hour). */
export const DEFAULT_SKEW_SECONDS = 3600;
/** hawk §6: "Do not use a window below 60 s." */
export const MIN_SKEW_SECONDS = 60;

export interface HawkAttributes {
  id: string;
  /** As sent; it is part of the MAC input verbatim. */
  ts: string;
  nonce: string;
  mac: string;
  hash?: string;
  ext?: string;
}

/** Outcome of reading the Authorization header (hawk §2). */
export type ParsedHawkHeader =
  | { kind: "absent" }
  | { kind: "other-scheme" }
  | { kind: "malformed"; reason: string }
  | { kind: "hawk"; attrs: HawkAttributes };

const KNOWN = new Set(["id", "ts", "nonce", "mac", "hash", "ext", "app", "dlg"]);

/**
 * Longest accepted values: a whole header, and each attribute. Tokens are a
 * few hundred characters, nonces a dozen, MACs and hashes 44; anything longer
 * is refused before it is parsed, verified or remembered (the nonce cache
 * stores nonces).
 */
export const HAWK_LIMITS = { header: 4096, id: 2048, nonce: 128, ext: 1024, mac: 64, hash: 64 } as const;

/**
 * hawk §2: `Hawk` (any case) plus one space, then `name="value"` pairs
 * separated by commas and optional whitespace; stray commas tolerated.
 * Unknown or repeated attributes, `app`/`dlg` (no Sync client sends them,
 * §3), a non-integer `ts` and non-base64 `mac`/`hash` are errors.
 */
export function parseHawkHeader(header: string | null | undefined): ParsedHawkHeader {
  if (header === null || header === undefined || header === "") return { kind: "absent" };
  if (header.length < 5 || header.slice(0, 5).toLowerCase() !== "hawk ") return { kind: "other-scheme" };
  if (header.length > HAWK_LIMITS.header) return { kind: "malformed", reason: "header too long" };
  const rest = header.slice(5);
  const found = new Map<string, string>();
  const re = /[\s,]*([A-Za-z]+)="([^"\\]*)"[ \t]*/y;
  // Separators (commas, whitespace) between attributes.
  const sep = /[\s,]*/y;
  let pos = 0;
  while (pos < rest.length) {
    sep.lastIndex = pos;
    sep.exec(rest);
    if (sep.lastIndex >= rest.length) break;
    re.lastIndex = pos;
    const m = re.exec(rest);
    if (!m) return { kind: "malformed", reason: "bad attribute syntax" };
    pos = re.lastIndex;
    if (pos < rest.length && !/[\s,]/.test(rest[pos] ?? "")) return { kind: "malformed", reason: "bad attribute syntax" };
    const name = m[1] as string;
    const value = m[2] as string;
    if (!KNOWN.has(name)) return { kind: "malformed", reason: `unknown attribute ${name}` };
    if (found.has(name)) return { kind: "malformed", reason: `duplicate attribute ${name}` };
    const max = HAWK_LIMITS[name as keyof typeof HAWK_LIMITS];
    if (max !== undefined && value.length > max) return { kind: "malformed", reason: `${name} too long` };
    found.set(name, value);
  }
  if (found.has("app") || found.has("dlg")) return { kind: "malformed", reason: "app/dlg not supported" };
  const id = found.get("id");
  const ts = found.get("ts");
  const nonce = found.get("nonce");
  const mac = found.get("mac");
  if (id === undefined || ts === undefined || nonce === undefined || mac === undefined) {
    return { kind: "malformed", reason: "missing required attribute" };
  }
  if (!/^\d{1,15}$/.test(ts)) return { kind: "malformed", reason: "ts is not an integer" };
  if (fromBase64(mac) === null || mac === "") return { kind: "malformed", reason: "mac is not base64" };
  const attrs: HawkAttributes = { id, ts, nonce, mac };
  const hash = found.get("hash");
  if (hash !== undefined) {
    if (fromBase64(hash) === null) return { kind: "malformed", reason: "hash is not base64" };
    attrs.hash = hash;
  }
  const ext = found.get("ext");
  if (ext !== undefined) attrs.ext = ext;
  return { kind: "hawk", attrs };
}

export interface NormalizedInput {
  ts: string;
  nonce: string;
  method: string;
  /** Raw path + query as sent (hawk §3.1). */
  resource: string;
  host: string;
  port: number;
  hash?: string;
  ext?: string;
}

/** hawk §3: nine `\n`-terminated lines. */
export function normalizedString(i: NormalizedInput): string {
  return (
    ["hawk.1.header", i.ts, i.nonce, i.method.toUpperCase(), i.resource, i.host.toLowerCase(), String(i.port), i.hash ?? "", i.ext ?? ""].join(
      "\n",
    ) + "\n"
  );
}

/** hawk §4: base64(HMAC-SHA256(ASCII key string, normalized)). */
export async function computeMac(key: string, normalized: string): Promise<string> {
  return toBase64(await hmacSha256(utf8(key), utf8(normalized)));
}

/** hawk §5: base64(SHA-256("hawk.1.payload\n" + media type + "\n" + body + "\n")). */
export async function payloadHash(contentType: string | null, body: Uint8Array | string): Promise<string> {
  const mediaType = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  const bodyBytes = typeof body === "string" ? utf8(body) : body;
  const head = utf8(`hawk.1.payload\n${mediaType}\n`);
  const all = new Uint8Array(head.length + bodyBytes.length + 1);
  all.set(head, 0);
  all.set(bodyBytes, head.length);
  all[all.length - 1] = 0x0a;
  return toBase64(await sha256(all));
}

/** hawk §7: the optional stale-timestamp challenge. */
export async function staleTimestampChallenge(key: string, nowSeconds: number): Promise<string> {
  const tsm = toBase64(await hmacSha256(utf8(key), utf8(`hawk.1.ts\n${nowSeconds}\n`)));
  return `Hawk ts="${nowSeconds}", tsm="${tsm}", error="Stale timestamp"`;
}

export interface RequestTarget {
  resource: string;
  host: string;
  port: number;
}

function splitHostPort(hostport: string): { host: string; port: number | null } {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(hostport.trim());
  if (!m) return { host: hostport.trim().toLowerCase(), port: null };
  return { host: (m[1] ?? "").toLowerCase(), port: m[2] !== undefined ? Number(m[2]) : null };
}

function forwardedParam(forwarded: string | null, name: string): string | null {
  if (!forwarded) return null;
  // First hop only: the proxy closest to the client.
  const first = forwarded.split(",")[0] ?? "";
  for (const part of first.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim().toLowerCase() !== name) continue;
    return part.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
  }
  return null;
}

/**
 * hawk §3.1–3.2: the signed resource, host and port. By default the Worker's
 * own `request.url` (already the public host and scheme on Cloudflare). With
 * `trustForwarded`, the reference's proxy order applies: `Forwarded:
 * host=`/`proto=`, then `X-Forwarded-Host`/`X-Forwarded-Proto`. Only enable it
 * behind a proxy that sets those headers itself.
 */
export function requestTarget(url: string, headers: Headers, trustForwarded = false): RequestTarget {
  const resource = urlPath(url) + urlSearch(url);
  let { scheme, host, port } = originOf(url);
  if (trustForwarded) {
    const fwd = headers.get("forwarded");
    const fHost = forwardedParam(fwd, "host") ?? headers.get("x-forwarded-host")?.split(",")[0]?.trim() ?? null;
    const fProto = forwardedParam(fwd, "proto") ?? headers.get("x-forwarded-proto")?.split(",")[0]?.trim() ?? null;
    if (fProto) scheme = fProto.toLowerCase();
    if (fHost) {
      const hp = splitHostPort(fHost);
      host = hp.host;
      port = hp.port;
    }
  }
  return { resource, host, port: port ?? (scheme === "https" ? 443 : 80) };
}

/** Scheme, host and port of a request URL, parsed once per origin per isolate (a Worker serves few origins). */
const origins = new Map<string, { scheme: string; host: string; port: number | null }>();

function originOf(url: string): { scheme: string; host: string; port: number | null } {
  const key = urlOriginText(url);
  let o = origins.get(key);
  if (o === undefined) {
    const u = new URL(url);
    o = { scheme: u.protocol.replace(/:$/, ""), host: u.hostname.toLowerCase(), port: u.port === "" ? null : Number(u.port) };
    if (origins.size >= 64) origins.clear();
    origins.set(key, o);
  }
  return o;
}

export interface HawkRequest {
  method: string;
  url: string;
  headers: Headers;
}

export interface HawkVerifyOptions {
  /** Master secrets; the first mints, all verify (tokenserver-1.0 §9.1). */
  secrets: readonly string[];
  nowSeconds?: number;
  /** Accepted |ts − now|; clamped to at least {@link MIN_SKEW_SECONDS}. */
  skewSeconds?: number;
  /** Skip the expiry check (only `GET …/info/collections`, storage-1.5 §3). */
  allowExpired?: boolean;
  nonceStore?: NonceStore;
  trustForwarded?: boolean;
  /**
   * Returns the request body when the header carries `hash` (hawk §5). If
   * absent, a `hash` is only covered by the MAC, as in the reference.
   */
  readBody?: () => Promise<Uint8Array>;
}

export type HawkFailure =
  | "missing"
  | "not-hawk"
  | "malformed"
  | "bad-token"
  | "expired"
  | "bad-mac"
  | "bad-payload-hash"
  | "stale-timestamp"
  | "replayed-nonce";

export type HawkResult =
  | {
      ok: true;
      token: TokenPayload;
      /** True only when allowExpired let an expired token through. */
      expired: boolean;
      attrs: HawkAttributes;
    }
  | {
      ok: false;
      failure: HawkFailure;
      /** Value for WWW-Authenticate. */
      challenge: string;
    };

function fail(failure: HawkFailure, challenge = "Hawk"): HawkResult {
  return { ok: false, failure, challenge };
}

/** hawk §7 steps 1–6, in that order. The uid check (step 7) is the caller's. */
type GoodToken = Extract<Awaited<ReturnType<typeof parseToken>>, { ok: true }>;

/**
 * Tokens whose signature already verified in this isolate, with their derived
 * Hawk key, keyed by the exact token string. A client reuses one token for
 * every request of its hour, so a hit saves the token HMAC and the HKDF. A hit
 * counts only while the secret that signed the token is still configured
 * (rotation); expiry is still checked on every request.
 */
const tokenCache = new Map<string, { tok: GoodToken; key: string; macKey: Uint8Array }>();
export const TOKEN_CACHE_MAX = 5000;

async function verifiedToken(id: string, secrets: readonly string[]): Promise<{ tok: GoodToken; key: string; macKey: Uint8Array } | null> {
  const hit = tokenCache.get(id);
  if (hit && secrets.includes(hit.tok.secret)) return hit;
  const tok = await parseToken(id, secrets);
  if (!tok.ok) return null;
  const key = await deriveHawkKey(id, tok.payload.salt, tok.secret);
  // The MAC key is the ASCII of the key string (hawk §1), encoded once per token.
  const macKey = utf8(key);
  const entry = { tok, key, macKey };
  if (tokenCache.size >= TOKEN_CACHE_MAX) tokenCache.delete(tokenCache.keys().next().value as string);
  tokenCache.set(id, entry);
  return entry;
}

export async function verifyHawk(req: HawkRequest, opts: HawkVerifyOptions): Promise<HawkResult> {
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  const parsed = parseHawkHeader(req.headers.get("authorization"));
  if (parsed.kind === "absent") return fail("missing");
  if (parsed.kind === "other-scheme") return fail("not-hawk");
  if (parsed.kind === "malformed") return fail("malformed");
  const { attrs } = parsed;

  const verified = await verifiedToken(attrs.id, opts.secrets);
  if (!verified) return fail("bad-token");
  const { tok, key, macKey } = verified;
  const expired = isExpired(tok.payload, now);
  if (expired && !opts.allowExpired) return fail("expired");

  const target = requestTarget(req.url, req.headers, opts.trustForwarded);
  const normalized = normalizedString({ ts: attrs.ts, nonce: attrs.nonce, method: req.method, ...target, hash: attrs.hash, ext: attrs.ext });
  // Synchronous (node:crypto): WebCrypto's sign would cost an await per request.
  const expected = utf8(createHmac("sha256", macKey).update(normalized, "utf8").digest("base64"));
  if (!timingSafeEqual(expected, utf8(attrs.mac))) return fail("bad-mac");

  if (attrs.hash !== undefined && opts.readBody) {
    const body = await opts.readBody();
    const h = await payloadHash(req.headers.get("content-type"), body);
    if (!timingSafeEqual(utf8(h), utf8(attrs.hash))) return fail("bad-payload-hash");
  }

  const skew = Math.max(opts.skewSeconds ?? DEFAULT_SKEW_SECONDS, MIN_SKEW_SECONDS);
  const ts = Number(attrs.ts);
  if (Math.abs(ts - now) > skew) return fail("stale-timestamp", await staleTimestampChallenge(key, now));

  const store = opts.nonceStore ?? NO_NONCE_CHECK;
  // Nonces are unique per credential; scope by the token (its tail is the signature).
  const scope = `${tok.payload.uid}:${attrs.id.slice(-44)}`;
  if (!(await store.checkAndRemember(scope, attrs.nonce, ts, 2 * skew, now))) return fail("replayed-nonce");

  return { ok: true, token: tok.payload, expired, attrs };
}
