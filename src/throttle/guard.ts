/**
 * @module guard
 * The Worker side of throttling (rules: src/throttle/policy.ts): derives the
 * client address, asks the account's and the address's LoginThrottle
 * instances whether a login or reset request may go ahead, and reports the
 * outcome. Every call is best-effort: if the throttle is unreachable the
 * request proceeds (logged), so the throttle can never take the service down.
 */
import { getConfig, type ThrottleConfig } from "../config";
import { HttpError } from "../protocol/errors";
import { RESET_LIMITS, type Limits, type ThrottleAction, type Verdict } from "./policy";

/** Who is trying: the account name as typed in the URL or form, and the client address (null if unknown). */
export interface Attempt {
  account: string;
  address: string | null;
}

/** Stand-in address for requests without CF-Connecting-IP (local tools, tests). */
export const UNKNOWN_ADDRESS = "unknown";

/**
 * The client address Cloudflare reports (`CF-Connecting-IP`, set by the edge
 * and not forgeable there). IPv6 addresses are reduced to their /64, since
 * one client usually owns a whole /64. Null when absent or malformed.
 */
export function clientAddress(req: Request): string | null {
  const raw = req.headers.get("CF-Connecting-IP")?.trim();
  if (!raw) return null;
  if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(raw)) return raw;
  if (/^[0-9a-fA-F:.]+$/.test(raw) && raw.includes(":")) return ipv6Prefix64(raw);
  return null;
}

function ipv6Prefix64(ip: string): string | null {
  const [head, tail] = ip.split("::") as [string, string | undefined];
  if (ip.split("::").length > 2) return null;
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? h : [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t];
  if (groups.length < 4) return null;
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(":")}::/64`;
}

export function attemptFor(req: Request, account: string): Attempt {
  return { account, address: clientAddress(req) };
}

function limitsFor(action: ThrottleAction, t: ThrottleConfig): Limits {
  const maxLockout = t.maxLockout * 1000;
  return action === "login"
    ? { pair: t.failuresPerClient, account: t.failuresPerAccount, address: t.failuresPerAddress, maxLockout }
    : { ...RESET_LIMITS, maxLockout };
}

type Stub = {
  checkAccount(action: ThrottleAction, address: string): Promise<Verdict>;
  failAccount(action: ThrottleAction, address: string, limits: Limits): Promise<number>;
  loginSucceeded(address: string): Promise<void>;
  checkAddress(action: ThrottleAction): Promise<number>;
  failAddress(action: ThrottleAction, limits: Limits): Promise<number>;
};

function stub(env: Env, name: string): Stub {
  return env.LIMITER.get(env.LIMITER.idFromName(name)) as unknown as Stub;
}
const accountStub = (env: Env, a: Attempt) => stub(env, `acct:${a.account}`);
const addressStub = (env: Env, a: Attempt) => stub(env, `addr:${a.address}`);

async function bestEffort<T>(what: string, fn: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    console.error(`throttle ${what} failed (request allowed):`, err instanceof Error ? err.message : err);
    return fallback;
  }
}

const ALLOWED: Verdict = { retryAfter: 0, reportSuccess: false };

/** May this attempt go ahead? Retry-After seconds (0 = yes) and whether to report a success. */
export async function checkAttempt(env: Env, action: ThrottleAction, a: Attempt): Promise<Verdict> {
  if (!getConfig(env).throttle.enabled) return ALLOWED;
  return bestEffort(
    "check",
    async () => {
      const [acct, addr] = await Promise.all([
        accountStub(env, a).checkAccount(action, a.address ?? UNKNOWN_ADDRESS),
        a.address === null ? Promise.resolve(0) : addressStub(env, a).checkAddress(action),
      ]);
      return { retryAfter: Math.max(acct.retryAfter, addr), reportSuccess: acct.reportSuccess };
    },
    ALLOWED,
  );
}

/** Records a failed login (or a reset request); returns the Retry-After now in force (0 = none). */
export async function recordFailure(env: Env, action: ThrottleAction, a: Attempt): Promise<number> {
  const t = getConfig(env).throttle;
  if (!t.enabled) return 0;
  const limits = limitsFor(action, t);
  return bestEffort(
    "record",
    async () => {
      const [acct, addr] = await Promise.all([
        accountStub(env, a).failAccount(action, a.address ?? UNKNOWN_ADDRESS, limits),
        a.address === null ? Promise.resolve(0) : addressStub(env, a).failAddress(action, limits),
      ]);
      return Math.max(acct, addr);
    },
    0,
  );
}

/** Records a successful login when the check asked for it (clears the pair counter, marks the address known). */
export async function recordSuccess(env: Env, a: Attempt, verdict: Verdict): Promise<void> {
  if (!verdict.reportSuccess || !getConfig(env).throttle.enabled) return;
  await bestEffort("success", () => accountStub(env, a).loginSucceeded(a.address ?? UNKNOWN_ADDRESS), undefined);
}

/** The protocol's "come back later": 503 with Retry-After (user-1.0 §2, storage-1.1 §14). */
export class ThrottledError extends HttpError {
  constructor(readonly retryAfter: number) {
    super(503, "Too many attempts. Please try again later.", { "Retry-After": String(retryAfter) });
    this.name = "ThrottledError";
  }
}

export function throttledError(retryAfter: number): ThrottledError {
  return new ThrottledError(retryAfter);
}

/**
 * Runs a credential check under the login throttle: refuses (503 +
 * Retry-After) while locked, otherwise runs `verify` and records its
 * outcome. `verify` returns true for good credentials.
 */
export async function guardedLogin<T extends { ok: boolean }>(
  env: Env,
  a: Attempt,
  verify: () => Promise<T>,
  /**
   * Optional cheap check run concurrently with the throttle lookup (so its
   * latency overlaps); a non-null answer is used instead of `verify`, but
   * only once the throttle has allowed the attempt, so a locked client learns
   * nothing, not even that a password is right.
   */
  fast?: () => Promise<T | null>,
): Promise<T | { ok: false; throttled: number }> {
  const [verdict, quick] = await Promise.all([checkAttempt(env, "login", a), fast ? fast() : Promise.resolve(null)]);
  if (verdict.retryAfter > 0) return { ok: false, throttled: verdict.retryAfter };
  const result = quick ?? (await verify());
  if (result.ok) await recordSuccess(env, a, verdict);
  else await recordFailure(env, "login", a);
  return result;
}
