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
import { RESET_LIMITS, type Limits, type Member, type Registration, type Reservation, type ThrottleAction, type Verdict } from "./policy";

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
  reserveAccount(action: ThrottleAction, address: string, limits: Limits): Promise<Reservation>;
  releaseAccount(action: ThrottleAction, address: string, limits: Limits): Promise<void>;
  settleLogin(address: string, limits: Limits, member?: Member): Promise<Registration>;
  failAccount(action: ThrottleAction, address: string, limits: Limits): Promise<number>;
  loginSucceeded(address: string): Promise<void>;
  checkAddress(action: ThrottleAction): Promise<number>;
  reserveAddress(action: ThrottleAction, limits: Limits): Promise<number>;
  releaseAddress(action: ThrottleAction, limits: Limits): Promise<void>;
  settleAddress(limits: Limits, member?: Member): Promise<Registration>;
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

/**
 * May this attempt go ahead? Retry-After seconds (0 = yes) and whether to report a success.
 * Read-only: used for a remembered good password; anything verified for real goes through {@link reserveAttempt}.
 */
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

/** What {@link reserveAttempt} holds: the wait (0 = go ahead) and which instances counted the attempt. */
export interface Ticket {
  retryAfter: number;
  action: ThrottleAction;
  attempt: Attempt;
  limits: Limits | null;
  account: boolean;
  address: boolean;
}

/**
 * Checks and counts in one step per instance: while the attempt may go
 * ahead it is counted as a failure at once, in the same Durable Object call
 * that checked the lock, so concurrent attempts cannot all pass one check.
 * When one instance refuses, the other's count is taken back (a refused
 * attempt costs nothing, as before). Unreachable instances let the attempt
 * through uncounted (best-effort, logged).
 */
export async function reserveAttempt(env: Env, action: ThrottleAction, a: Attempt): Promise<Ticket> {
  const t = getConfig(env).throttle;
  const none: Ticket = { retryAfter: 0, action, attempt: a, limits: null, account: false, address: false };
  if (!t.enabled) return none;
  const limits = limitsFor(action, t);
  const address = a.address ?? UNKNOWN_ADDRESS;
  const [acct, addr] = await Promise.all([
    bestEffort("reserve", () => accountStub(env, a).reserveAccount(action, address, limits), null),
    a.address === null ? null : bestEffort("reserve", () => addressStub(env, a).reserveAddress(action, limits), null),
  ]);
  const ticket: Ticket = {
    ...none,
    limits,
    retryAfter: Math.max(acct?.retryAfter ?? 0, addr ?? 0),
    account: acct?.reserved ?? false,
    address: addr === 0,
  };
  if (ticket.retryAfter > 0 && (ticket.account || ticket.address)) {
    await releaseAttempt(env, ticket);
    return { ...ticket, account: false, address: false };
  }
  return ticket;
}

/** Takes back the counts of a reserved attempt that was never verified (or whose verification broke). */
export async function releaseAttempt(env: Env, ticket: Ticket): Promise<void> {
  const { action, attempt: a, limits } = ticket;
  if (limits === null) return;
  await Promise.all([
    ticket.account &&
      bestEffort("release", () => accountStub(env, a).releaseAccount(action, a.address ?? UNKNOWN_ADDRESS, limits), undefined),
    ticket.address && bestEffort("release", () => addressStub(env, a).releaseAddress(action, limits), undefined),
  ]);
}

/**
 * What settling a login tells the store fast path (src/storage/access.ts):
 * whether the account is registered with every throttle instance that could
 * lock this client out (so they push their future locks to its store), and
 * until when any of them is locked now (ms).
 */
export interface Settled {
  registered: boolean;
  lockedUntil: number;
  /** Until when the registration (and so a permit of the store) holds (ms); set by {@link guardedLogin}. */
  permitUntil?: number;
}

/**
 * A reserved login succeeded: the counts are taken back, the pair counter
 * cleared, the address marked known. With `member` (the account's store
 * registration, see {@link Settled}) the instances also register it.
 */
export async function settleSuccess(env: Env, ticket: Ticket, member?: Member): Promise<Settled> {
  const { attempt: a, limits } = ticket;
  // No throttle: nothing can ever lock this client out.
  if (limits === null) return { registered: true, lockedUntil: 0 };
  const failed: Registration = { registered: false, lockedUntil: 0 };
  const [acct, addr] = await Promise.all([
    ticket.account ? bestEffort("success", () => accountStub(env, a).settleLogin(a.address ?? UNKNOWN_ADDRESS, limits, member), failed) : failed,
    a.address === null
      ? { registered: true, lockedUntil: 0 }
      : ticket.address
        ? bestEffort("success", () => addressStub(env, a).settleAddress(limits, member), failed)
        : failed,
  ]);
  return { registered: acct.registered && addr.registered, lockedUntil: Math.max(acct.lockedUntil, addr.lockedUntil) };
}

/** The cached check is an optimisation: if it breaks, the full `verify` decides. */
async function cheap<T>(fast: () => Promise<T | null>): Promise<T | null> {
  try {
    return await fast();
  } catch (err) {
    console.error("cached credential check failed (full check used):", err instanceof Error ? err.message : err);
    return null;
  }
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

/** A remembered good password: reports the success when the check asked for it (clears the pair counter, marks the address known). */
async function recordSuccess(env: Env, a: Attempt, verdict: Verdict): Promise<void> {
  if (!verdict.reportSuccess) return;
  await bestEffort("success", () => accountStub(env, a).loginSucceeded(a.address ?? UNKNOWN_ADDRESS), undefined);
}

/**
 * Runs a credential check under the login throttle: refuses (503 +
 * Retry-After) while locked, otherwise reserves the attempt (counted as a
 * failure before `verify` runs: {@link reserveAttempt}), runs `verify`, and
 * on success takes the count back. `verify` returns ok for good credentials.
 * If `verify` throws, nothing was learnt and the count is taken back too.
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
): Promise<(T & { settled?: Settled }) | { ok: false; throttled: number }> {
  // A remembered good password costs one read-only look at the throttle (run
  // alongside the cached check), so steady-state requests write nothing there
  // and parallel requests of a legitimate client are never refused for racing.
  const [verdict, quick] = await Promise.all([checkAttempt(env, "login", a), fast ? cheap(fast) : null]);
  if (verdict.retryAfter > 0) return { ok: false, throttled: verdict.retryAfter };
  if (quick?.ok) {
    await recordSuccess(env, a, verdict);
    return quick;
  }
  // Anything else is verified for real, and is counted first: the reservation
  // checks the lock and counts the attempt in one step, so concurrent wrong
  // passwords cannot multiply the allowance.
  const ticket = await reserveAttempt(env, "login", a);
  if (ticket.retryAfter > 0) return { ok: false, throttled: ticket.retryAfter };
  let result: T;
  try {
    result = quick ?? (await verify());
  } catch (err) {
    await releaseAttempt(env, ticket);
    throw err;
  }
  if (!result.ok) return result;
  // An account id in the result registers its store with the throttle instances (store fast path).
  const userid = (result as { userid?: unknown }).userid;
  const member = typeof userid === "number" ? { userid, until: Date.now() + PERMIT_MS } : undefined;
  const settled = await settleSuccess(env, ticket, member);
  // The store's permit must not outlast the registration that makes its locks reach it.
  return { ...result, settled: { ...settled, permitUntil: member?.until ?? 0 } };
}

/** How long a client address may use the store fast path after a full check from it (ms). */
export const PERMIT_MS = 3_600_000;
