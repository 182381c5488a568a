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
    retryAfter: readInt(vars, "RETRY_AFTER", 1800, 0, 86400 * 7),
    pbkdf2Iterations: readInt(vars, "PBKDF2_ITERATIONS", 100000, 10000, 100000),
    recovery: parseRecovery(vars),
    throttle: parseThrottle(vars),
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
