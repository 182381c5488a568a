/**
 * @module tokenserver/config
 * Settings of the tokenserver and of Hawk verification, read from the
 * Worker's vars and secrets with defaults in code (nothing needs to be in
 * wrangler.toml). Cached per env object like src/config.ts.
 *
 * | Name                        | Kind   | Default                                  | Meaning |
 * |-----------------------------|--------|------------------------------------------|---------|
 * | SYNC_MASTER_SECRET          | secret | (required for 1.5)                       | Signs tokens and derives Hawk keys (tokenserver §9.1). UTF-8 bytes used as is. |
 * | SYNC_MASTER_SECRET_PREVIOUS | secret | none                                     | Old master secret still accepted for verification during rotation. |
 * | FXA_METRICS_HASH_SECRET     | secret | = SYNC_MASTER_SECRET                     | Key for hashed_fxa_uid / hashed_device_id (§5). |
 * | FXA_OAUTH_SERVER_URL        | var    | https://oauth.accounts.firefox.com       | FxA OAuth server; `POST {url}/v1/verify` is the fallback verifier (§4.2). Stage: https://oauth.stage.mozaws.net |
 * | FXA_JWKS_URL                | var    | {FXA_OAUTH_SERVER_URL}/v1/jwks           | Published JWKS for local RS256 verification (§4.1). |
 * | FXA_OAUTH_JWKS              | var    | none                                     | Optional pinned public key(s): a JWK, an array of JWKs or {"keys":[…]}; disables JWKS fetching. |
 * | FXA_OAUTH_ISSUER            | var    | none (not checked, like the reference)   | If set, a JWT's `iss` must equal it. |
 * | FXA_EMAIL_DOMAIN            | var    | api.accounts.firefox.com                 | users.email = `<fxa_uid>@<domain>` (§4.4). Stage: api-accounts.stage.mozaws.net |
 * | TOKEN_DURATION              | var    | 3600                                     | Token lifetime and maximum for `?duration=` (seconds). |
 * | ALLOW_NEW_SYNC_USERS        | var    | true                                     | false: unknown accounts get 403 new-users-disabled (§7.1). |
 * | SYNC_ALLOWED_ACCOUNTS       | var    | empty (everyone)                         | Comma/space separated FxA account ids (32 hex) or `<uid>@<FXA_EMAIL_DOMAIN>`; others get 403. |
 * | PUBLIC_URL                  | var    | request origin                           | Public base URL of this Worker = the storage node URL; api_endpoint = `<base>/1.5/<uid>`. |
 * | TOKENSERVER_NODE_TYPE       | var    | mysql                                    | `node_type` in the token response (telemetry only). |
 * | JWKS_CACHE_SECONDS          | var    | 21600                                    | How long fetched JWKS are cached per isolate. |
 * | HAWK_SKEW_SECONDS           | var    | 3600                                     | Accepted |ts − now| for Hawk (min 60, hawk §6). |
 * | HAWK_NONCE_CHECK            | var    | true                                     | Refuse replayed Hawk nonces (per isolate memory). |
 * | TRUST_FORWARDED_HOST        | var    | false                                    | Sign-check against Forwarded / X-Forwarded-Host/-Proto (only behind a proxy that sets them). |
 *
 * SYNC_ALLOWED_ACCOUNTS cannot match real e-mail addresses: FxA access tokens
 * scoped to Sync carry only the account id (`sub`), and the e-mail would need
 * the profile scope. List account ids (the refusal message shows the id, so
 * a refused user can pass it to the operator).
 *
 * Without PUBLIC_URL the node URL is the request's origin, so every host name
 * the Worker is reached under registers its own node row; set PUBLIC_URL in
 * production. api_endpoint always uses the current public base: storage is
 * keyed by uid only, so a user's old node row does not matter.
 */
import { ConfigError, normaliseNodeUrl, readBool, readInt } from "../config";

export interface AuthSecrets {
  /** First mints, all verify. */
  masterSecrets: string[];
}

export interface HawkConfig extends AuthSecrets {
  skewSeconds: number;
  nonceCheck: boolean;
  trustForwarded: boolean;
}

export interface TokenserverConfig extends AuthSecrets {
  metricsHashSecret: string;
  oauthServerUrl: string;
  jwksUrl: string;
  staticJwks: JsonWebKey[] | null;
  issuer: string | null;
  emailDomain: string;
  tokenDuration: number;
  allowNewUsers: boolean;
  /** Lower-cased entries; null = no allow-list. */
  allowedAccounts: Set<string> | null;
  /** Without trailing slash; null = request origin. */
  publicUrl: string | null;
  nodeType: string;
  jwksCacheSeconds: number;
}

type Vars = Record<string, unknown>;

function str(vars: Vars, name: string): string | undefined {
  const v = vars[name];
  if (typeof v !== "string") return undefined;
  return v.trim() === "" ? undefined : v;
}

function trimSlash(u: string): string {
  return u.replace(/\/+$/, "");
}

function masterSecrets(vars: Vars): string[] {
  const cur = str(vars, "SYNC_MASTER_SECRET");
  if (cur === undefined) throw new ConfigError("SYNC_MASTER_SECRET", "must be set (wrangler secret put SYNC_MASTER_SECRET) to serve Sync 1.5");
  const prev = str(vars, "SYNC_MASTER_SECRET_PREVIOUS");
  return prev === undefined ? [cur] : [cur, prev];
}

function parseJwks(text: string): JsonWebKey[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ConfigError("FXA_OAUTH_JWKS", "not valid JSON");
  }
  const list = Array.isArray(v) ? v : typeof v === "object" && v !== null && Array.isArray((v as { keys?: unknown }).keys) ? (v as { keys: unknown[] }).keys : [v];
  if (!list.every((k) => typeof k === "object" && k !== null && (k as { kty?: unknown }).kty === "RSA")) {
    throw new ConfigError("FXA_OAUTH_JWKS", "expected RSA JWK(s)");
  }
  return list as JsonWebKey[];
}

export function parseHawkConfig(vars: Vars): HawkConfig {
  return {
    masterSecrets: masterSecrets(vars),
    skewSeconds: readInt(vars, "HAWK_SKEW_SECONDS", 3600, 60, 52 * 7 * 86400),
    nonceCheck: readBool(vars, "HAWK_NONCE_CHECK", true),
    trustForwarded: readBool(vars, "TRUST_FORWARDED_HOST", false),
  };
}

export function parseTokenserverConfig(vars: Vars): TokenserverConfig {
  const secrets = masterSecrets(vars);
  const oauthServerUrl = trimSlash(str(vars, "FXA_OAUTH_SERVER_URL") ?? "https://oauth.accounts.firefox.com");
  const allowed = str(vars, "SYNC_ALLOWED_ACCOUNTS");
  const publicUrl = str(vars, "PUBLIC_URL");
  return {
    masterSecrets: secrets,
    metricsHashSecret: str(vars, "FXA_METRICS_HASH_SECRET") ?? (secrets[0] as string),
    oauthServerUrl,
    jwksUrl: str(vars, "FXA_JWKS_URL") ?? `${oauthServerUrl}/v1/jwks`,
    staticJwks: str(vars, "FXA_OAUTH_JWKS") === undefined ? null : parseJwks(str(vars, "FXA_OAUTH_JWKS") as string),
    issuer: str(vars, "FXA_OAUTH_ISSUER") ?? null,
    emailDomain: str(vars, "FXA_EMAIL_DOMAIN") ?? "api.accounts.firefox.com",
    tokenDuration: readInt(vars, "TOKEN_DURATION", 3600, 1, 86400 * 7),
    allowNewUsers: readBool(vars, "ALLOW_NEW_SYNC_USERS", true),
    allowedAccounts:
      allowed === undefined
        ? null
        : new Set(
            allowed
              .split(/[\s,]+/)
              .map((s) => s.trim().toLowerCase())
              .filter((s) => s !== ""),
          ),
    publicUrl: publicUrl === undefined ? null : trimSlash(normaliseNodeUrl(publicUrl.trim())),
    nodeType: str(vars, "TOKENSERVER_NODE_TYPE") ?? "mysql",
    jwksCacheSeconds: readInt(vars, "JWKS_CACHE_SECONDS", 21600, 0, 7 * 86400),
  };
}

const tsCache = new WeakMap<object, TokenserverConfig>();
const hawkCache = new WeakMap<object, HawkConfig>();

export function getTokenserverConfig(env: object): TokenserverConfig {
  let c = tsCache.get(env);
  if (!c) {
    c = parseTokenserverConfig(env as Vars);
    tsCache.set(env, c);
  }
  return c;
}

export function getHawkConfig(env: object): HawkConfig {
  let c = hawkCache.get(env);
  if (!c) {
    c = parseHawkConfig(env as Vars);
    hawkCache.set(env, c);
  }
  return c;
}
