/**
 * @module tokenserver/fxa
 * Verification of FxA OAuth access tokens (tokenserver-1.0 §4): locally as
 * RS256 JWTs against the account server's JWKS (fetched and cached per
 * isolate, or pinned by config), falling back to `POST /v1/verify` for tokens
 * that are not JWTs or when no key is usable. The JWS signature, `typ`, `exp`
 * and `iss` checks are `jose`'s (an audited library); this module chooses the
 * keys, maps outcomes and checks the Sync-specific claims. The fetch function
 * is injected so tests never touch the network.
 */
import { decodeJwt as joseDecodeJwt, decodeProtectedHeader, errors, importJWK, jwtVerify, type JWTPayload } from "jose";
import { fromBase64Url } from "../auth/encoding";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export const SYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync";
const EXP_LEEWAY_SECONDS = 60;
/**
 * Do not refetch the JWKS on a verification failure more often than this
 * per isolate (a token with a random `kid` must not turn us into an
 * amplifier against the account server).
 */
const REFETCH_MIN_INTERVAL_MS = 10_000;

export interface OAuthVerifierConfig {
  oauthServerUrl: string;
  jwksUrl: string;
  staticJwks: JsonWebKey[] | null;
  issuer: string | null;
  jwksCacheSeconds: number;
}

export type OAuthResult =
  | { ok: true; fxaUid: string; /** null when absent or 0 */ generation: number | null; via: "jwt" | "remote" }
  | { ok: false; reason: string };

interface KeyEntry {
  kid: string | undefined;
  key: CryptoKey | Uint8Array;
}

interface CachedJwks {
  keys: KeyEntry[];
  fetchedAt: number;
}

async function importRsaKeys(jwks: JsonWebKey[]): Promise<KeyEntry[]> {
  const out: KeyEntry[] = [];
  for (const jwk of jwks) {
    if (jwk.kty !== "RSA" || typeof jwk.n !== "string" || typeof jwk.e !== "string") continue;
    try {
      const key = await importJWK({ kty: "RSA", n: jwk.n, e: jwk.e }, "RS256");
      out.push({ kid: (jwk as { kid?: string }).kid, key });
    } catch {
      // Unusable key: skip it.
    }
  }
  return out;
}

/** Per-isolate JWKS cache; one instance is shared by default, tests make their own. */
export class JwksCache {
  private readonly byUrl = new Map<string, CachedJwks>();
  private readonly lastFetch = new Map<string, number>();

  async get(url: string, fetchFn: FetchLike, ttlSeconds: number, nowMs: number, force = false): Promise<KeyEntry[]> {
    const hit = this.byUrl.get(url);
    if (hit && !force && nowMs - hit.fetchedAt < ttlSeconds * 1000) return hit.keys;
    if (force && hit && nowMs - (this.lastFetch.get(url) ?? 0) < REFETCH_MIN_INTERVAL_MS) return hit.keys;
    this.lastFetch.set(url, nowMs);
    try {
      const res = await fetchFn(url, { headers: { Accept: "application/json" } });
      if (!res.ok) return hit?.keys ?? [];
      const body = (await res.json()) as { keys?: unknown };
      if (!Array.isArray(body.keys)) return hit?.keys ?? [];
      const keys = await importRsaKeys(body.keys as JsonWebKey[]);
      this.byUrl.set(url, { keys, fetchedAt: nowMs });
      return keys;
    } catch {
      return hit?.keys ?? [];
    }
  }

  clear(): void {
    this.byUrl.clear();
    this.lastFetch.clear();
  }
}

export const defaultJwksCache = new JwksCache();

const staticKeyCache = new WeakMap<JsonWebKey[], Promise<KeyEntry[]>>();

function staticKeys(jwks: JsonWebKey[]): Promise<KeyEntry[]> {
  let p = staticKeyCache.get(jwks);
  if (!p) {
    p = importRsaKeys(jwks);
    staticKeyCache.set(jwks, p);
  }
  return p;
}

/** §4.3: one element of the scope list must be exactly the sync scope (commas or whitespace separate). */
export function hasSyncScope(scope: string | readonly string[]): boolean {
  const parts = (typeof scope === "string" ? [scope] : scope).flatMap((s) => s.split(/[\s,]+/));
  return parts.includes(SYNC_SCOPE);
}

function normGeneration(v: unknown): number | null | "bad" {
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) return "bad";
  return v === 0 ? null : v;
}

interface DecodedJwt {
  token: string;
  header: { alg?: string; kid?: string };
}

/** A compact JWS whose header and claims decode; anything else goes to the remote verifier. */
function decodeJwt(token: string): DecodedJwt | null {
  const parts = token.split(".");
  if (parts.length !== 3 || fromBase64Url(parts[2] as string) === null) return null;
  try {
    joseDecodeJwt(token);
    return { token, header: decodeProtectedHeader(token) };
  } catch {
    return null;
  }
}

type Verified = { ok: true; claims: JWTPayload } | { ok: false; reason: string };

/**
 * Signature and the standard claims, by jose, with each key in turn: keys
 * whose kid matches first, then the rest (the reference tries every key).
 * `typ` must be at+jwt (jose also accepts application/at+jwt, any case),
 * `exp` is required and honoured with {@link EXP_LEEWAY_SECONDS} of leeway,
 * `iss` is checked when configured.
 */
async function verifyJwt(jwt: DecodedJwt, keys: KeyEntry[], cfg: OAuthVerifierConfig, nowMs: number): Promise<Verified> {
  const kid = jwt.header.kid;
  const ordered = kid === undefined ? keys : [...keys.filter((k) => k.kid === kid), ...keys.filter((k) => k.kid !== kid)];
  for (const k of ordered) {
    try {
      const { payload } = await jwtVerify(jwt.token, k.key, {
        algorithms: ["RS256"],
        typ: "at+jwt",
        requiredClaims: ["exp"],
        clockTolerance: EXP_LEEWAY_SECONDS,
        currentDate: new Date(nowMs),
        ...(cfg.issuer === null ? {} : { issuer: cfg.issuer }),
      });
      return { ok: true, claims: payload };
    } catch (err) {
      if (err instanceof errors.JWSSignatureVerificationFailed) continue;
      if (err instanceof errors.JWTExpired) return { ok: false, reason: "expired" };
      if (err instanceof errors.JWTClaimValidationFailed) return { ok: false, reason: err.claim };
      return { ok: false, reason: err instanceof errors.JOSEError ? err.code : "jwt" };
    }
  }
  return { ok: false, reason: "signature" };
}

/** The Sync-specific claims (§4.3): a subject, the sync scope, a sane generation. */
function checkClaims(claims: JWTPayload): OAuthResult {
  const sub = claims.sub;
  if (typeof sub !== "string" || sub === "") return { ok: false, reason: "sub" };
  const scope = claims.scope;
  if (typeof scope !== "string" || !hasSyncScope(scope)) return { ok: false, reason: "scope" };
  const generation = normGeneration(claims["fxa-generation"]);
  if (generation === "bad") return { ok: false, reason: "generation" };
  return { ok: true, fxaUid: sub, generation, via: "jwt" };
}

/** §4.2: `POST {oauth}/v1/verify`; any failure is invalid credentials. */
async function verifyRemote(token: string, cfg: OAuthVerifierConfig, fetchFn: FetchLike): Promise<OAuthResult> {
  let res: Response;
  try {
    res = await fetchFn(`${cfg.oauthServerUrl}/v1/verify`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ token }),
    });
  } catch {
    return { ok: false, reason: "verify transport" };
  }
  if (res.status < 200 || res.status > 299) return { ok: false, reason: `verify status ${res.status}` };
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    return { ok: false, reason: "verify body" };
  }
  if (typeof body !== "object" || body === null) return { ok: false, reason: "verify body" };
  const b = body as Record<string, unknown>;
  if (typeof b.user !== "string" || b.user === "") return { ok: false, reason: "verify user" };
  const scope = b.scope;
  const scopes = typeof scope === "string" ? [scope] : Array.isArray(scope) && scope.every((s) => typeof s === "string") ? (scope as string[]) : null;
  if (!scopes || !hasSyncScope(scopes)) return { ok: false, reason: "scope" };
  const generation = normGeneration(b.generation);
  if (generation === "bad") return { ok: false, reason: "generation" };
  return { ok: true, fxaUid: b.user, generation, via: "remote" };
}

/** §4.1 outcome mapping: bad signature / expired / wrong typ → fail; not a JWT or no usable key → remote. */
export async function verifyAccessToken(
  token: string,
  cfg: OAuthVerifierConfig,
  deps: { fetch: FetchLike; nowMs: number; jwksCache?: JwksCache },
): Promise<OAuthResult> {
  const jwt = decodeJwt(token);
  if (!jwt) return verifyRemote(token, cfg, deps.fetch);
  const cache = deps.jwksCache ?? defaultJwksCache;
  let keys = cfg.staticJwks ? await staticKeys(cfg.staticJwks) : await cache.get(cfg.jwksUrl, deps.fetch, cfg.jwksCacheSeconds, deps.nowMs);
  if (keys.length === 0) return verifyRemote(token, cfg, deps.fetch);
  if (jwt.header.alg !== "RS256") return { ok: false, reason: "alg" };
  let verified = await verifyJwt(jwt, keys, cfg, deps.nowMs);
  if (!verified.ok && verified.reason === "signature" && !cfg.staticJwks) {
    // Unknown kid or rotated keys: refetch once (rate-limited) and retry.
    const fresh = await cache.get(cfg.jwksUrl, deps.fetch, cfg.jwksCacheSeconds, deps.nowMs, true);
    if (fresh !== keys && fresh.length > 0) {
      keys = fresh;
      verified = await verifyJwt(jwt, keys, cfg, deps.nowMs);
    }
  }
  return verified.ok ? checkClaims(verified.claims) : verified;
}
