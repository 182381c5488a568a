/**
 * @module config
 * Reads and validates the Worker's vars and secrets once per isolate. Every
 * setting is documented in README.md ("Configuration"). An invalid value is a
 * {@link ConfigError} naming the setting; the app answers 500 with that
 * message instead of crashing on first use.
 */

export type Registration = "open" | "secret" | "closed";

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
  /** Base URL returned by node/weave (trailing slash added). Empty: the request's own origin. */
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
 * every layer must accept what is advertised.
 *
 * | Var | Default | Meaning and why |
 * |---|---|---|
 * | SYNC15_MAX_RECORD_PAYLOAD_BYTES | 1 900 000 | Largest payload (UTF-8 bytes) of one record. A Durable Object SQLite row (and value) is capped at 2 MB (taken as 2 000 000 bytes); a record's row also holds its id (≤ 64 B), collection (≤ 32 B) and integers, and a staged batch item is a row too, so 100 KB of headroom is left. Values above {@link MAX_ROW_PAYLOAD_BYTES} are refused. The reference advertises 2 621 440, which SQLite here could not store. |
 * | SYNC15_MAX_POST_RECORDS | 100 | Records per POST (reference value); the surplus fails with "retry bso". |
 * | SYNC15_MAX_POST_BYTES | 2 621 440 | Summed payload bytes per POST (reference, 2.5 MiB); later records fail with "retry bytes". Keep it ≥ the record limit so that a maximal record fits in a POST. |
 * | SYNC15_MAX_REQUEST_BYTES | 2 625 536 | Largest request body (reference: 2.5 MiB + 4 KiB of JSON framing); larger → 413 / 17. The body crosses the Durable Object RPC (32 MiB cap) as parsed records, far below it. |
 * | SYNC15_MAX_TOTAL_RECORDS | 10 000 | Records per batch (reference); also the page size of a listing without `limit`. A commit applies the batch in one transaction, so it stays bounded. |
 * | SYNC15_MAX_TOTAL_BYTES | 100 000 000 | Payload bytes per batch. Lower than the reference's MySQL value (262 144 000) and equal to its Spanner value: a commit copies the whole batch inside one synchronous Durable Object transaction, and staged plus committed copies coexist until it ends. |
 * | SYNC15_QUOTA_BYTES | 0 (off) | Per-user quota on live payload bytes; 0 disables it, as syncstorage-rs does by default. When on, a write that starts at or over it fails with 400 / 14 and `info/quota` reports it. |
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

type Vars = Record<string, unknown>;

function str(vars: Vars, name: string): string | undefined {
  const v = vars[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") return String(v);
  return v.trim() === "" ? undefined : v.trim();
}

export function readBool(vars: Vars, name: string, dflt: boolean): boolean {
  const v = str(vars, name);
  if (v === undefined) return dflt;
  const l = v.toLowerCase();
  if (["true", "1", "yes", "on"].includes(l)) return true;
  if (["false", "0", "no", "off"].includes(l)) return false;
  throw new ConfigError(name, `expected true or false, got ${JSON.stringify(v)}`);
}

export function readInt(vars: Vars, name: string, dflt: number, min: number, max: number): number {
  const v = str(vars, name);
  if (v === undefined) return dflt;
  if (!/^-?\d+$/.test(v)) throw new ConfigError(name, `expected an integer, got ${JSON.stringify(v)}`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function readNumber(vars: Vars, name: string, dflt: number, min: number, max: number): number {
  const v = str(vars, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(name, `expected a number, got ${JSON.stringify(v)}`);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** Normalises a node URL like server-full: https:// prefixed if not http(s), trailing slash added. */
export function normaliseNodeUrl(url: string): string {
  let u = url;
  if (!u.startsWith("http")) u = `https://${u}`;
  if (!u.endsWith("/")) u += "/";
  return u;
}

export function parseConfig(vars: Vars): Config {
  const reg = (str(vars, "REGISTRATION") ?? "open").toLowerCase();
  if (reg !== "open" && reg !== "secret" && reg !== "closed") {
    throw new ConfigError("REGISTRATION", `expected open, secret or closed, got ${JSON.stringify(reg)}`);
  }
  const sharedSecret = str(vars, "SHARED_SECRET") ?? null;
  if (reg === "secret" && sharedSecret === null) {
    throw new ConfigError("SHARED_SECRET", "must be set when REGISTRATION = secret");
  }
  const publicUrl = str(vars, "PUBLIC_URL");
  if (publicUrl !== undefined) {
    try {
      new URL(normaliseNodeUrl(publicUrl));
    } catch {
      throw new ConfigError("PUBLIC_URL", `not a URL: ${JSON.stringify(publicUrl)}`);
    }
  }
  return {
    registration: reg,
    sharedSecret,
    strictUsernames: readBool(vars, "STRICT_USERNAMES", true),
    useQuota: readBool(vars, "USE_QUOTA", true),
    quotaSizeKb: readNumber(vars, "QUOTA_SIZE_KB", 5120, 0, 1e12),
    batchMaxCount: readInt(vars, "BATCH_MAX_COUNT", 100, 1, 100000),
    batchMaxBytes: readInt(vars, "BATCH_MAX_BYTES", 1048576, 1, 1024 * 1024 * 1024),
    publicUrl: publicUrl === undefined ? null : normaliseNodeUrl(publicUrl),
    retryAfter: readInt(vars, "RETRY_AFTER", 10, 0, 86400 * 7),
    pbkdf2Iterations: readInt(vars, "PBKDF2_ITERATIONS", 100000, 10000, 100000),
    recovery: parseRecovery(vars),
    throttle: parseThrottle(vars),
    storage15: parseStorage15(vars),
  };
}

function parseRecovery(vars: Vars): RecoveryConfig {
  const devMode = readBool(vars, "DEV_MODE", false);
  const transport = (str(vars, "MAIL_TRANSPORT") ?? "none").toLowerCase();
  let mail: MailConfig;
  if (!["none", "cloudflare", "http", "outbox"].includes(transport)) {
    throw new ConfigError("MAIL_TRANSPORT", `expected none, cloudflare, http or outbox, got ${JSON.stringify(transport)}`);
  }
  if (transport === "none") {
    mail = { transport: "none" };
  } else {
    const from = str(vars, "MAIL_FROM");
    if (from === undefined) throw new ConfigError("MAIL_FROM", `must be set when MAIL_TRANSPORT = ${transport}`);
    if (!/^[^\s@<>]+@[^\s@<>]+$/.test(from)) throw new ConfigError("MAIL_FROM", `not an e-mail address: ${JSON.stringify(from)}`);
    switch (transport) {
      case "cloudflare":
        if (typeof (vars.SEND_EMAIL as { send?: unknown } | undefined)?.send !== "function") {
          throw new ConfigError("SEND_EMAIL", "MAIL_TRANSPORT = cloudflare needs a send_email binding named SEND_EMAIL");
        }
        mail = { transport, from };
        break;
      case "http": {
        const apiUrl = str(vars, "MAIL_API_URL");
        if (apiUrl === undefined) throw new ConfigError("MAIL_API_URL", "must be set when MAIL_TRANSPORT = http");
        let u: URL;
        try {
          u = new URL(apiUrl);
        } catch {
          throw new ConfigError("MAIL_API_URL", "not a URL"); // the value may embed a key: never echoed
        }
        if (u.protocol !== "https:" && !(devMode && u.protocol === "http:")) {
          throw new ConfigError("MAIL_API_URL", "must be an https:// URL (http:// only with DEV_MODE = true)");
        }
        const apiKey = str(vars, "MAIL_API_KEY");
        if (apiKey === undefined) throw new ConfigError("MAIL_API_KEY", "must be set when MAIL_TRANSPORT = http");
        mail = { transport, from, apiUrl, apiKey };
        break;
      }
      case "outbox":
        if (!devMode) throw new ConfigError("MAIL_TRANSPORT", "outbox is a development transport and needs DEV_MODE = true");
        mail = { transport, from };
        break;
      default:
        throw new ConfigError("MAIL_TRANSPORT", `expected none, cloudflare, http or outbox, got ${JSON.stringify(transport)}`);
    }
  }
  const siteKey = str(vars, "TURNSTILE_SITE_KEY");
  const secretKey = str(vars, "TURNSTILE_SECRET_KEY");
  if ((siteKey === undefined) !== (secretKey === undefined)) {
    throw new ConfigError(
      siteKey === undefined ? "TURNSTILE_SITE_KEY" : "TURNSTILE_SECRET_KEY",
      "TURNSTILE_SITE_KEY and TURNSTILE_SECRET_KEY must be set together",
    );
  }
  return {
    mail,
    resetCodeTtl: readInt(vars, "RESET_CODE_TTL", 21600, 60, 7 * 86400),
    captcha: siteKey !== undefined && secretKey !== undefined ? { siteKey, secretKey } : null,
    devMode,
  };
}

function parseThrottle(vars: Vars): ThrottleConfig {
  const failuresPerClient = readInt(vars, "THROTTLE_FAILURES_PER_CLIENT", 5, 1, 1000);
  const failuresPerAccount = readInt(vars, "THROTTLE_FAILURES_PER_ACCOUNT", 50, 1, 100000);
  if (failuresPerAccount <= failuresPerClient) {
    // Otherwise one address alone could trip the account-wide limit and lock out the owner elsewhere.
    throw new ConfigError("THROTTLE_FAILURES_PER_ACCOUNT", "must be greater than THROTTLE_FAILURES_PER_CLIENT");
  }
  return {
    enabled: readBool(vars, "THROTTLE", true),
    failuresPerClient,
    failuresPerAccount,
    failuresPerAddress: readInt(vars, "THROTTLE_FAILURES_PER_ADDRESS", 100, 1, 100000),
    maxLockout: readInt(vars, "THROTTLE_MAX_LOCKOUT", 900, 1, 86400),
  };
}

function parseStorage15(vars: Vars): Storage15Config {
  const maxRecordPayloadBytes = readInt(vars, "SYNC15_MAX_RECORD_PAYLOAD_BYTES", MAX_ROW_PAYLOAD_BYTES, 1, MAX_ROW_PAYLOAD_BYTES);
  const maxPostBytes = readInt(vars, "SYNC15_MAX_POST_BYTES", 2_621_440, 1, 64 * 1024 * 1024);
  const quota = readInt(vars, "SYNC15_QUOTA_BYTES", 0, 0, Number.MAX_SAFE_INTEGER);
  return {
    maxRecordPayloadBytes,
    maxPostRecords: readInt(vars, "SYNC15_MAX_POST_RECORDS", 100, 1, 10_000),
    maxPostBytes,
    maxRequestBytes: readInt(vars, "SYNC15_MAX_REQUEST_BYTES", 2_625_536, 1, 16 * 1024 * 1024),
    maxTotalRecords: readInt(vars, "SYNC15_MAX_TOTAL_RECORDS", 10_000, 1, 1_000_000),
    maxTotalBytes: readInt(vars, "SYNC15_MAX_TOTAL_BYTES", 100_000_000, 1, 1024 * 1024 * 1024),
    quotaBytes: quota === 0 ? null : quota,
  };
}

const cache = new WeakMap<object, Config>();

/** Parsed config for this env object, cached per isolate (env objects are stable). */
export function getConfig(env: object): Config {
  let c = cache.get(env);
  if (!c) {
    c = parseConfig(env as Vars);
    cache.set(env, c);
  }
  return c;
}
