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
