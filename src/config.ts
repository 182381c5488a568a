/**
 * @module config
 * The one configuration module: every var and secret of every part of the
 * Worker (accounts, recovery, throttling, Storage 1.5, tokenserver, Hawk,
 * operator), described by one zod schema and read once per env object.
 * Every setting is documented in README.md ("Configuration").
 *
 * One trimming rule: a value is trimmed of surrounding whitespace, and a
 * value that is empty after trimming counts as unset. The only exception is
 * key material (SYNC_MASTER_SECRET, SYNC_MASTER_SECRET_PREVIOUS,
 * FXA_METRICS_HASH_SECRET): its bytes sign tokens and derive Hawk keys, so a
 * non-blank value is used exactly as given.
 *
 * An invalid value is a {@link ConfigError} naming the setting and the rule
 * it breaks, never the value (it may be a secret or embed one); the app
 * answers 500 with that message instead of failing somewhere later.
 */
import * as z from "zod/mini";

export type Registration = "open" | "secret" | "closed";

/** LOG_LEVEL (src/log.ts): which lines are written. */
export type LogLevel = "debug" | "info" | "warn" | "error";
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const satisfies readonly LogLevel[];

export interface Config {
  /** open: anyone may create an account; secret: only with X-Weave-Secret; closed: nobody. */
  registration: Registration;
  /** Value of X-Weave-Secret that allows account creation when registration = secret (and bypasses captcha). */
  sharedSecret: string | null;
  /** Require the username to be the hash of the e-mail (user-1.0 §3.3). */
  strictUsernames: boolean;
  useQuota: boolean;
  /** KB. */
  quotaSizeKb: number;
  /** Records accepted per POST; later ones fail with "retry wbo". */
  batchMaxCount: number;
  /** Payload characters accepted per POST; later ones fail with "retry bytes". */
  batchMaxBytes: number;
  /**
   * PUBLIC_URL normalised like server-full's fallback_node (https:// added
   * when no scheme, one trailing slash added when none). Null: the request's
   * own origin. Read it through {@link publicBaseUrl}.
   */
  publicUrl: string | null;
  /** Retry-After seconds on 503. */
  retryAfter: number;
  /** PBKDF2-SHA256 iterations for newly written password hashes (Workers caps PBKDF2 at 100000). */
  pbkdf2Iterations: number;
  /** Account recovery: password-reset e-mail, captcha, account pages (user-1.0 §7.7-§12). */
  recovery: RecoveryConfig;
  /** Failed-login / reset-request throttling (src/throttle/policy.ts). */
  throttle: ThrottleConfig;
  /** Storage 1.5 limits and quota (see {@link Storage15Config}). */
  storage15: Storage15Config;
  /** The tokenserver (tokenserver-1.0); read it through {@link tokenserverSettings}. */
  tokenserver: TokenserverConfig;
  /** Hawk verification of Storage 1.5 requests; read it through {@link hawkSettings}. */
  hawk: HawkConfig;
  /** Who runs this server, shown on the setup and account pages. */
  operator: OperatorConfig;
  /** Lowest level of log line written (src/log.ts); read it through {@link logLevelOf}. */
  logLevel: LogLevel;
}

/**
 * How reset e-mails leave the Worker. `none`: no e-mail configured, so every
 * reset feature answers 503 like the reference without a reset backend.
 */
export type MailConfig =
  | { transport: "none" }
  | { transport: "cloudflare"; from: string }
  | { transport: "http"; from: string; apiUrl: string; apiKey: string }
  | { transport: "outbox"; from: string };

export interface RecoveryConfig {
  mail: MailConfig;
  /** Seconds a reset code stays valid (reset_codes.expiration, default 21600 = 6 h). */
  resetCodeTtl: number;
  /** Turnstile keys; null when no captcha is configured (`captcha.use = false`). */
  captcha: { siteKey: string; secretKey: string } | null;
  /** Development helpers: the outbox transport and the route that reads it. Never on in a deployment. */
  devMode: boolean;
}

export interface ThrottleConfig {
  enabled: boolean;
  /** Failed logins one address may make against one account before being slowed down. */
  failuresPerClient: number;
  /** Failed logins against one account, all addresses together, before unknown addresses are slowed down. */
  failuresPerAccount: number;
  /** Failed logins from one address, all accounts together, before that address is slowed down. */
  failuresPerAddress: number;
  /** Longest lockout, seconds. */
  maxLockout: number;
}

/**
 * Storage 1.5 limits, advertised in `info/configuration` and enforced
 * (storage-1.5 §6.5, §8.2, §9.5, §13.1). Clients size uploads from them, so
 * every layer must accept what is advertised. Why each default is what it is:
 * README.md, "Storage 1.5 limits". In short: a Durable Object SQLite row is
 * capped at 2 MB, so a record's payload stays at or below
 * {@link MAX_ROW_PAYLOAD_BYTES} (the reference's 2 621 440 would not fit); a
 * batch commit is one synchronous transaction, so its total stays at the
 * reference's Spanner value.
 */
export interface Storage15Config {
  maxRecordPayloadBytes: number;
  maxPostRecords: number;
  maxPostBytes: number;
  maxRequestBytes: number;
  maxTotalRecords: number;
  maxTotalBytes: number;
  /** Bytes; null when quotas are off. */
  quotaBytes: number | null;
}

/** Sync 1.5 secrets (tokenserver-1.0 §9.1): the first mints, all verify. Empty when unset. */
export interface AuthSecrets {
  masterSecrets: string[];
}

export interface HawkConfig extends AuthSecrets {
  /** Accepted |ts − now| (hawk §6). */
  skewSeconds: number;
  /** Refuse replayed nonces (per isolate). */
  nonceCheck: boolean;
  /** Check signatures against Forwarded / X-Forwarded-Host / -Proto. */
  trustForwarded: boolean;
}

/**
 * The tokenserver's settings. SYNC_ALLOWED_ACCOUNTS lists Mozilla account
 * ids (or `<id>@<FXA_EMAIL_DOMAIN>`): Sync access tokens carry no e-mail
 * address, so the list cannot use one.
 */
export interface TokenserverConfig extends AuthSecrets {
  /** = the first master secret when FXA_METRICS_HASH_SECRET is unset. */
  metricsHashSecret: string;
  /** Without trailing slash. */
  oauthServerUrl: string;
  jwksUrl: string;
  /** Pinned public keys; null = fetch {@link jwksUrl}. */
  staticJwks: JsonWebKey[] | null;
  issuer: string | null;
  emailDomain: string;
  tokenDuration: number;
  allowNewUsers: boolean;
  /** Lower-cased entries; null = no allow-list. */
  allowedAccounts: Set<string> | null;
  nodeType: string;
  jwksCacheSeconds: number;
}

/** Shown in the footer of the setup and account pages. */
export interface OperatorConfig {
  /** Who runs this server; null: not said. */
  name: string | null;
  /** How to reach them: an e-mail address or an http(s) URL; null: not said. */
  contact: { kind: "email" | "url"; value: string } | null;
  /** Link to the operator's privacy policy; null: none. */
  privacyPolicyUrl: string | null;
}

/** The most payload bytes a record's SQLite row can hold with room for its other columns. */
export const MAX_ROW_PAYLOAD_BYTES = 1_900_000;

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`invalid configuration: ${setting}: ${message}`);
    this.name = "ConfigError";
  }
}

/** Normalises a node URL like server-full: https:// prefixed if not http(s), trailing slash added. */
export function normaliseNodeUrl(url: string): string {
  let u = url;
  if (!u.startsWith("http")) u = `https://${u}`;
  if (!u.endsWith("/")) u += "/";
  return u;
}

/**
 * This deployment's public base URL: PUBLIC_URL (normalised) or, when unset,
 * the request's own origin. With a trailing slash by default, as `node/weave`,
 * reset links and the setup page use it; `{ trailingSlash: false }` strips
 * every trailing slash, as the tokenserver's node URL and `api_endpoint` need.
 * Never the Host header when PUBLIC_URL is set.
 */
export function publicBaseUrl(config: Config, requestUrl: string, opts: { trailingSlash?: boolean } = {}): string {
  const base = config.publicUrl ?? `${new URL(requestUrl).origin}/`;
  return opts.trailingSlash === false ? base.replace(/\/+$/, "") : base;
}

// ---------------------------------------------------------------------------
// The schema

/** A setting: trimmed; blank is unset. Non-string vars (JSON in wrangler.toml) are read as text. */
function trimmed(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  const s = (typeof v === "string" ? v : String(v)).trim();
  return s === "" ? undefined : s;
}

/** Key material: blank is unset, anything else is used byte for byte. */
function verbatim(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v : undefined;
}

type Read<T> = (s: string) => T | Invalid;

class Invalid {
  constructor(readonly message: string) {}
}

/**
 * One setting: read by `read` after the trimming rule (`prepare`), or
 * `dflt` when unset. A value `read` refuses becomes an issue on this
 * setting's path carrying only the rule, never the value.
 */
function setting<T, D extends T | undefined>(read: Read<T>, dflt: D, prepare: (v: unknown) => string | undefined = trimmed) {
  return z.transform((v: unknown, ctx): T | D => {
    const s = prepare(v);
    if (s === undefined) return dflt;
    const r = read(s);
    if (r instanceof Invalid) {
      ctx.issues.push({ code: "custom", message: r.message, input: undefined });
      return dflt;
    }
    return r;
  });
}

const asText: Read<string> = (s) => s;

const text = () => setting(asText, undefined);

const secret = () => setting(asText, undefined, verbatim);

const TRUE = ["true", "1", "yes", "on"];
const FALSE = ["false", "0", "no", "off"];

const bool = (dflt: boolean) =>
  setting((s) => {
    const l = s.toLowerCase();
    return TRUE.includes(l) ? true : FALSE.includes(l) ? false : new Invalid("expected true or false");
  }, dflt);

const inRange = (n: number, min: number, max: number): number | Invalid =>
  n >= min && n <= max ? n : new Invalid(`must be between ${min} and ${max}`);

const int = (dflt: number, min: number, max: number) =>
  setting((s) => (/^-?\d+$/.test(s) ? inRange(Number(s), min, max) : new Invalid("expected an integer")), dflt);

const num = (dflt: number, min: number, max: number) =>
  setting((s) => (Number.isFinite(Number(s)) ? inRange(Number(s), min, max) : new Invalid("expected a number")), dflt);

const oneOf = <const T extends readonly [string, ...string[]]>(values: T, dflt: T[number]) =>
  setting((s): T[number] | Invalid => {
    const l = s.toLowerCase();
    return values.includes(l) ? l : new Invalid(`expected ${values.slice(0, -1).join(", ")} or ${values[values.length - 1]}`);
  }, dflt);

function isUrl(s: string, schemes: readonly string[] = ["https:", "http:"]): boolean {
  try {
    return schemes.includes(new URL(s).protocol);
  } catch {
    return false;
  }
}

/** A text setting that must pass `ok`. */
const checked = (ok: (s: string) => boolean, rule: string) => setting((s) => (ok(s) ? s : new Invalid(rule)), undefined);

const url = () => checked((s) => isUrl(s), "expected an http(s) URL");

const EMAIL = /^[^\s@<>]+@[^\s@<>]+$/;

/** LOG_LEVEL, also read alone by {@link logLevelOf}. */
const logLevelField = oneOf(LOG_LEVELS, "warn");

const fields = z.object({
  // Logs
  LOG_LEVEL: logLevelField,
  // Accounts and Storage 1.1 (User API 1.0)
  REGISTRATION: oneOf(["open", "secret", "closed"], "open"),
  SHARED_SECRET: text(),
  PUBLIC_URL: checked((s) => isUrl(normaliseNodeUrl(s)), "not a URL"),
  STRICT_USERNAMES: bool(true),
  USE_QUOTA: bool(true),
  QUOTA_SIZE_KB: num(5120, 0, 1e12),
  BATCH_MAX_COUNT: int(100, 1, 100_000),
  BATCH_MAX_BYTES: int(1_048_576, 1, 1024 * 1024 * 1024),
  RETRY_AFTER: int(10, 0, 7 * 86400),
  PBKDF2_ITERATIONS: int(100_000, 10_000, 100_000),
  // Account recovery
  DEV_MODE: bool(false),
  MAIL_TRANSPORT: oneOf(["none", "cloudflare", "http", "outbox"], "none"),
  MAIL_FROM: text(),
  MAIL_API_URL: text(),
  MAIL_API_KEY: text(),
  SEND_EMAIL: z.optional(z.unknown()),
  RESET_CODE_TTL: int(21600, 60, 7 * 86400),
  TURNSTILE_SITE_KEY: text(),
  TURNSTILE_SECRET_KEY: text(),
  // Throttling
  THROTTLE: bool(true),
  THROTTLE_FAILURES_PER_CLIENT: int(5, 1, 1000),
  THROTTLE_FAILURES_PER_ACCOUNT: int(50, 1, 100_000),
  THROTTLE_FAILURES_PER_ADDRESS: int(100, 1, 100_000),
  THROTTLE_MAX_LOCKOUT: int(900, 1, 86400),
  // Storage 1.5 limits
  SYNC15_MAX_RECORD_PAYLOAD_BYTES: int(MAX_ROW_PAYLOAD_BYTES, 1, MAX_ROW_PAYLOAD_BYTES),
  SYNC15_MAX_POST_BYTES: int(2_621_440, 1, 64 * 1024 * 1024),
  SYNC15_QUOTA_BYTES: int(0, 0, Number.MAX_SAFE_INTEGER),
  SYNC15_MAX_POST_RECORDS: int(100, 1, 10_000),
  SYNC15_MAX_REQUEST_BYTES: int(2_625_536, 1, 16 * 1024 * 1024),
  SYNC15_MAX_TOTAL_RECORDS: int(10_000, 1, 1_000_000),
  SYNC15_MAX_TOTAL_BYTES: int(100_000_000, 1, 1024 * 1024 * 1024),
  // Sync 1.5: tokenserver and Hawk
  SYNC_MASTER_SECRET: secret(),
  SYNC_MASTER_SECRET_PREVIOUS: secret(),
  FXA_METRICS_HASH_SECRET: secret(),
  FXA_OAUTH_SERVER_URL: url(),
  FXA_JWKS_URL: url(),
  FXA_OAUTH_JWKS: text(),
  FXA_OAUTH_ISSUER: text(),
  FXA_EMAIL_DOMAIN: text(),
  TOKEN_DURATION: int(3600, 1, 7 * 86400),
  ALLOW_NEW_SYNC_USERS: bool(true),
  SYNC_ALLOWED_ACCOUNTS: text(),
  TOKENSERVER_NODE_TYPE: text(),
  JWKS_CACHE_SECONDS: int(21600, 0, 7 * 86400),
  HAWK_SKEW_SECONDS: int(3600, 60, 52 * 7 * 86400),
  HAWK_NONCE_CHECK: bool(true),
  TRUST_FORWARDED_HOST: bool(false),
  // The operator
  OPERATOR_NAME: checked((s) => s.length <= 200, "at most 200 characters"),
  OPERATOR_CONTACT: checked((s) => EMAIL.test(s) || isUrl(s), "expected an e-mail address or an http(s) URL"),
  PRIVACY_POLICY_URL: url(),
});

type Fields = z.output<typeof fields>;

const schema = z.pipe(
  fields.check(
    z.superRefine((v, ctx) => {
      // Rules between settings, in the order a reader meets them in README.md;
      // the first one broken is reported.
      const fail = (setting: string, message: string) => ctx.addIssue({ code: "custom", path: [setting], message });
      if (v.REGISTRATION === "secret" && v.SHARED_SECRET === undefined) return fail("SHARED_SECRET", "must be set when REGISTRATION = secret");
      if (v.MAIL_TRANSPORT !== "none") {
        const t = v.MAIL_TRANSPORT;
        if (v.MAIL_FROM === undefined) return fail("MAIL_FROM", `must be set when MAIL_TRANSPORT = ${t}`);
        if (!EMAIL.test(v.MAIL_FROM)) return fail("MAIL_FROM", "not an e-mail address");
        if (t === "cloudflare" && typeof (v.SEND_EMAIL as { send?: unknown } | undefined)?.send !== "function") {
          return fail("SEND_EMAIL", "MAIL_TRANSPORT = cloudflare needs a send_email binding named SEND_EMAIL");
        }
        if (t === "http") {
          if (v.MAIL_API_URL === undefined) return fail("MAIL_API_URL", "must be set when MAIL_TRANSPORT = http");
          if (!isUrl(v.MAIL_API_URL, v.DEV_MODE ? ["https:", "http:"] : ["https:"])) {
            return fail("MAIL_API_URL", "must be an https:// URL (http:// only with DEV_MODE = true)");
          }
          if (v.MAIL_API_KEY === undefined) return fail("MAIL_API_KEY", "must be set when MAIL_TRANSPORT = http");
        }
        if (t === "outbox" && !v.DEV_MODE) return fail("MAIL_TRANSPORT", "outbox is a development transport and needs DEV_MODE = true");
      }
      if ((v.TURNSTILE_SITE_KEY === undefined) !== (v.TURNSTILE_SECRET_KEY === undefined)) {
        return fail(v.TURNSTILE_SITE_KEY === undefined ? "TURNSTILE_SITE_KEY" : "TURNSTILE_SECRET_KEY", "TURNSTILE_SITE_KEY and TURNSTILE_SECRET_KEY must be set together");
      }
      // Otherwise one address alone could trip the account-wide limit and lock out the owner elsewhere.
      if (v.THROTTLE_FAILURES_PER_ACCOUNT <= v.THROTTLE_FAILURES_PER_CLIENT) {
        return fail("THROTTLE_FAILURES_PER_ACCOUNT", "must be greater than THROTTLE_FAILURES_PER_CLIENT");
      }
      if (v.FXA_OAUTH_JWKS !== undefined && parseJwks(v.FXA_OAUTH_JWKS) === null) {
        return fail("FXA_OAUTH_JWKS", "expected RSA public key(s) as JSON: a JWK, an array of JWKs or {\"keys\": [...]}");
      }
    }),
  ),
  z.transform((v: Fields): Config => {
    const masterSecrets = [v.SYNC_MASTER_SECRET, v.SYNC_MASTER_SECRET_PREVIOUS].filter((s) => s !== undefined);
    // No current secret: nothing verifies, not even with a previous one.
    if (v.SYNC_MASTER_SECRET === undefined) masterSecrets.length = 0;
    const oauthServerUrl = (v.FXA_OAUTH_SERVER_URL ?? "https://oauth.accounts.firefox.com").replace(/\/+$/, "");
    const contact = v.OPERATOR_CONTACT;
    return {
      registration: v.REGISTRATION,
      sharedSecret: v.SHARED_SECRET ?? null,
      strictUsernames: v.STRICT_USERNAMES,
      useQuota: v.USE_QUOTA,
      quotaSizeKb: v.QUOTA_SIZE_KB,
      batchMaxCount: v.BATCH_MAX_COUNT,
      batchMaxBytes: v.BATCH_MAX_BYTES,
      publicUrl: v.PUBLIC_URL === undefined ? null : normaliseNodeUrl(v.PUBLIC_URL),
      retryAfter: v.RETRY_AFTER,
      pbkdf2Iterations: v.PBKDF2_ITERATIONS,
      recovery: {
        mail: mailConfig(v),
        resetCodeTtl: v.RESET_CODE_TTL,
        captcha:
          v.TURNSTILE_SITE_KEY !== undefined && v.TURNSTILE_SECRET_KEY !== undefined
            ? { siteKey: v.TURNSTILE_SITE_KEY, secretKey: v.TURNSTILE_SECRET_KEY }
            : null,
        devMode: v.DEV_MODE,
      },
      throttle: {
        enabled: v.THROTTLE,
        failuresPerClient: v.THROTTLE_FAILURES_PER_CLIENT,
        failuresPerAccount: v.THROTTLE_FAILURES_PER_ACCOUNT,
        failuresPerAddress: v.THROTTLE_FAILURES_PER_ADDRESS,
        maxLockout: v.THROTTLE_MAX_LOCKOUT,
      },
      storage15: {
        maxRecordPayloadBytes: v.SYNC15_MAX_RECORD_PAYLOAD_BYTES,
        maxPostRecords: v.SYNC15_MAX_POST_RECORDS,
        maxPostBytes: v.SYNC15_MAX_POST_BYTES,
        maxRequestBytes: v.SYNC15_MAX_REQUEST_BYTES,
        maxTotalRecords: v.SYNC15_MAX_TOTAL_RECORDS,
        maxTotalBytes: v.SYNC15_MAX_TOTAL_BYTES,
        quotaBytes: v.SYNC15_QUOTA_BYTES === 0 ? null : v.SYNC15_QUOTA_BYTES,
      },
      tokenserver: {
        masterSecrets,
        metricsHashSecret: v.FXA_METRICS_HASH_SECRET ?? masterSecrets[0] ?? "",
        oauthServerUrl,
        jwksUrl: v.FXA_JWKS_URL ?? `${oauthServerUrl}/v1/jwks`,
        staticJwks: v.FXA_OAUTH_JWKS === undefined ? null : parseJwks(v.FXA_OAUTH_JWKS),
        issuer: v.FXA_OAUTH_ISSUER ?? null,
        emailDomain: v.FXA_EMAIL_DOMAIN ?? "api.accounts.firefox.com",
        tokenDuration: v.TOKEN_DURATION,
        allowNewUsers: v.ALLOW_NEW_SYNC_USERS,
        allowedAccounts:
          v.SYNC_ALLOWED_ACCOUNTS === undefined
            ? null
            : new Set(
                v.SYNC_ALLOWED_ACCOUNTS.split(/[\s,]+/)
                  .map((s) => s.toLowerCase())
                  .filter((s) => s !== ""),
              ),
        nodeType: v.TOKENSERVER_NODE_TYPE ?? "mysql",
        jwksCacheSeconds: v.JWKS_CACHE_SECONDS,
      },
      hawk: {
        masterSecrets,
        skewSeconds: v.HAWK_SKEW_SECONDS,
        nonceCheck: v.HAWK_NONCE_CHECK,
        trustForwarded: v.TRUST_FORWARDED_HOST,
      },
      operator: {
        name: v.OPERATOR_NAME ?? null,
        contact: contact === undefined ? null : { kind: EMAIL.test(contact) ? "email" : "url", value: contact },
        privacyPolicyUrl: v.PRIVACY_POLICY_URL ?? null,
      },
      logLevel: v.LOG_LEVEL,
    };
  }),
);

function mailConfig(v: Fields): MailConfig {
  const from = v.MAIL_FROM as string;
  switch (v.MAIL_TRANSPORT) {
    case "none":
      return { transport: "none" };
    case "http":
      return { transport: "http", from, apiUrl: v.MAIL_API_URL as string, apiKey: v.MAIL_API_KEY as string };
    case "cloudflare":
    case "outbox":
      return { transport: v.MAIL_TRANSPORT, from };
  }
}

/** FXA_OAUTH_JWKS: a JWK, an array of JWKs or `{"keys": [...]}`, all RSA; null when it is none of these. */
function parseJwks(text: string): JsonWebKey[] | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const keys = z.array(z.looseObject({ kty: z.literal("RSA") }));
  const list = Array.isArray(v) ? v : (z.object({ keys: z.array(z.unknown()) }).safeParse(v).data?.keys ?? [v]);
  return keys.safeParse(list).success ? (list as JsonWebKey[]) : null;
}

/** Validates every setting; throws a {@link ConfigError} naming the first invalid one. */
export function parseConfig(vars: Record<string, unknown>): Config {
  const r = schema.safeParse(vars);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new ConfigError(String(issue?.path[0] ?? "configuration"), issue?.message ?? "invalid");
}

const cache = new WeakMap<object, Config>();

/** Parsed config for this env object, cached per isolate (env objects are stable). */
export function getConfig(env: object): Config {
  let c = cache.get(env);
  if (!c) {
    c = parseConfig(env as Record<string, unknown>);
    cache.set(env, c);
  }
  return c;
}

function requireMasterSecret(c: AuthSecrets): void {
  if (c.masterSecrets.length === 0) {
    throw new ConfigError("SYNC_MASTER_SECRET", "must be set (wrangler secret put SYNC_MASTER_SECRET) to serve Sync 1.5");
  }
}

/** The tokenserver's settings; a {@link ConfigError} when Sync 1.5 has no master secret. */
export function tokenserverSettings(env: object): TokenserverConfig {
  const c = getConfig(env).tokenserver;
  requireMasterSecret(c);
  return c;
}

/**
 * LOG_LEVEL for the request log, which writes its line even when another
 * setting is invalid (that request then answers the other setting's 500).
 * A {@link ConfigError} only when LOG_LEVEL itself is invalid.
 */
export function logLevelOf(env: object): LogLevel {
  try {
    return getConfig(env).logLevel;
  } catch (err) {
    if (!(err instanceof ConfigError) || err.setting === "LOG_LEVEL") throw err;
    const r = logLevelField.safeParse((env as Record<string, unknown>).LOG_LEVEL);
    if (r.success) return r.data;
    throw new ConfigError("LOG_LEVEL", r.error?.issues[0]?.message ?? "invalid");
  }
}

/** Hawk's settings; a {@link ConfigError} when Sync 1.5 has no master secret. */
export function hawkSettings(env: object): HawkConfig {
  const c = getConfig(env).hawk;
  requireMasterSecret(c);
  return c;
}
