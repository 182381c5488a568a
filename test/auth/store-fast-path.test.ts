/**
 * The store fast path for Sync 1.1 credentials (src/auth/access-gate.ts,
 * src/storage/access.ts) through the real Worker:
 *  - a steady-state request makes one Durable Object call, no D1 query and no
 *    login-throttle call (counted through wrapped bindings, not timed);
 *  - a password change, a reset, a disable and a deletion take effect on the
 *    very next request, from a warmed cache (S11-4, U10-6, U10-7.3, U10-7.5);
 *  - a locked-out client learns nothing about its password: the right one is
 *    refused like a wrong one, for account, pair and address locks (D12);
 *  - a wrong password never takes the fast path.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { clientUsername } from "../../src/lib/usernames";
import { DEV, outbox, resetLink } from "../helpers/recovery";
import { basic } from "../helpers/sync11";
import { readReply, type Reply } from "../helpers/reply";

const ORIGIN = "http://sync.test";
const ADMIN_TOKEN = "admin-token-for-fast-path-tests-0123";

/** Calls made through the wrapped bindings since the last reset. */
interface Counts {
  d1: number;
  throttle: number;
  storeStubs: number;
  storeCalls: number;
}

/** The test env with D1, the login throttle and the user stores wrapped to count what a request uses. */
function countingEnv(vars: Record<string, string> = {}): { env: Env; counts: Counts; reset(): void } {
  const counts: Counts = { d1: 0, throttle: 0, storeStubs: 0, storeCalls: 0 };
  const base = env as unknown as Env;
  const db = new Proxy(base.DB, {
    get(target, name) {
      const v = Reflect.get(target, name, target) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (name === "prepare" || name === "batch" || name === "exec") counts.d1++;
        return Reflect.apply(v as (...a: unknown[]) => unknown, target, args);
      };
    },
  });
  const limiter = new Proxy(base.LIMITER, {
    get(target, name) {
      const v = Reflect.get(target, name, target) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (name === "get") counts.throttle++;
        return Reflect.apply(v as (...a: unknown[]) => unknown, target, args);
      };
    },
  });
  const stores = new Proxy(base.USER_STORE, {
    get(target, name) {
      const v = Reflect.get(target, name, target) as unknown;
      if (typeof v !== "function") return v;
      if (name !== "get") return (...args: unknown[]) => Reflect.apply(v as (...a: unknown[]) => unknown, target, args);
      return (...args: unknown[]) => {
        counts.storeStubs++;
        const stub = Reflect.apply(v as (...a: unknown[]) => object, target, args);
        return new Proxy(stub, {
          get(s, m) {
            const f = Reflect.get(s, m, s) as unknown;
            if (typeof f !== "function") return f;
            return (...a: unknown[]) => {
              counts.storeCalls++;
              return Reflect.apply(f as (...x: unknown[]) => unknown, s, a);
            };
          },
        });
      };
    },
  });
  const wrapped = { ...base, ...vars, DB: db, LIMITER: limiter, USER_STORE: stores } as unknown as Env;
  return {
    env: wrapped,
    counts,
    reset() {
      counts.d1 = counts.throttle = counts.storeStubs = counts.storeCalls = 0;
    },
  };
}

async function send(e: Env, method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${ORIGIN}${path}`, { method, headers: init.headers, body: init.body }), e, ctx);
  const reply = await readReply(res);
  await waitOnExecutionContext(ctx);
  return reply;
}

interface Acct {
  username: string;
  password: string;
  email: string;
}

let n = 0;
async function newAccount(e: Env): Promise<Acct> {
  n += 1;
  const email = `fast.${Date.now().toString(36)}.${n}.${crypto.randomUUID().slice(0, 8)}@example.com`;
  const username = await clientUsername(email);
  const password = `pw-${crypto.randomUUID()}`;
  const r = await send(e, "PUT", `/user/1.0/${username}`, { body: JSON.stringify({ password, email }) });
  expect(r.status).toBe(200);
  return { username, password, email };
}

function get(e: Env, a: Acct, path: string, password = a.password, address?: string): Promise<Reply> {
  const headers: Record<string, string> = { Authorization: basic(a.username, password) };
  if (address) headers["CF-Connecting-IP"] = address;
  return send(e, "GET", `/1.1/${a.username}${path}`, { headers });
}

/** Sends requests until one is served by the store alone (at most 4: miss, stale + grant, then fast). */
async function warm(w: ReturnType<typeof countingEnv>, a: Acct, address?: string): Promise<void> {
  for (let i = 0; i < 4; i++) {
    w.reset();
    const r = await get(w.env, a, "/info/collections", a.password, address);
    expect(r.status).toBe(200);
    if (w.counts.d1 === 0 && w.counts.throttle === 0) return;
  }
  throw new Error("the fast path never engaged");
}

describe("store fast path: cost of a steady-state 1.1 request", { timeout: 60_000 }, () => {
  it("one Durable Object call, no D1 query, no throttle call (GET info/collections, GET newer, PUT)", async () => {
    const w = countingEnv();
    const a = await newAccount(w.env);
    await warm(w, a);
    const auth = { Authorization: basic(a.username, a.password) };
    const cases: Array<[string, string, string | undefined]> = [
      ["GET", "/info/collections", undefined],
      ["PUT", "/storage/tabs/t1", JSON.stringify({ payload: "x" })],
      ["GET", "/storage/tabs?newer=1000000000", undefined],
      ["GET", "/storage/tabs?full=1", undefined],
      ["DELETE", "/storage/tabs/t1", undefined],
    ];
    for (const [method, path, body] of cases) {
      w.reset();
      const r = await send(w.env, method, `/1.1/${a.username}${path}`, { headers: auth, body });
      expect(r.status, `${method} ${path}`).toBe(200);
      expect(w.counts, `${method} ${path}`).toEqual({ d1: 0, throttle: 0, storeStubs: 1, storeCalls: 1 });
    }
  });

  it("a wrong password never takes the fast path: it reads D1 and asks the throttle (→ 401)", async () => {
    const w = countingEnv();
    const a = await newAccount(w.env);
    await warm(w, a);
    w.reset();
    expect((await get(w.env, a, "/info/collections", "not-the-password")).status).toBe(401);
    expect(w.counts.d1).toBeGreaterThan(0);
    expect(w.counts.throttle).toBeGreaterThan(0);
    expect(w.counts.storeCalls).toBe(0);
  });
});

describe("store fast path: changes take effect on the very next request", { timeout: 60_000 }, () => {
  it("U10-7.5: a password change refuses the old password at once (warmed cache); the new one works", async () => {
    const w = countingEnv();
    const a = await newAccount(w.env);
    await warm(w, a);
    const np = `new-${crypto.randomUUID()}`;
    const ch = await send(w.env, "POST", `/user/1.0/${a.username}/password`, { headers: { Authorization: basic(a.username, a.password) }, body: np });
    expect(ch.status).toBe(200);
    expect((await get(w.env, a, "/info/collections")).status).toBe(401);
    expect((await get(w.env, a, "/storage/tabs")).status).toBe(401);
    expect((await get(w.env, a, "/info/collections", np)).status).toBe(200);
  });

  it("U10-7.5 reset: a password reset with a mailed code refuses the old password at once", async () => {
    const w = countingEnv(DEV);
    const a = await newAccount(w.env);
    await warm(w, a);
    expect((await send(w.env, "GET", `/user/1.0/${a.username}/password_reset`)).status).toBe(200);
    expect((await outbox(a.email)).length).toBeGreaterThan(0);
    const code = (await resetLink(a.email)).searchParams.get("key") as string;
    const np = `reset-${crypto.randomUUID()}`;
    const r = await send(w.env, "POST", `/user/1.0/${a.username}/password`, { headers: { "X-Weave-Password-Reset": code }, body: np });
    expect(r.status).toBe(200);
    expect((await get(w.env, a, "/info/collections")).status).toBe(401);
    expect((await get(w.env, a, "/info/collections", np)).status).toBe(200);
  });

  it("U10-6 / admin API: disable refuses the next request (warmed cache); enable restores access", async () => {
    const w = countingEnv({ ADMIN_TOKEN });
    const a = await newAccount(w.env);
    await warm(w, a);
    const adm = { Authorization: `Bearer ${ADMIN_TOKEN}` };
    expect((await send(w.env, "POST", `/__admin__/users/acct:${a.username}/disable`, { headers: adm })).status).toBe(200);
    expect((await get(w.env, a, "/info/collections")).status).toBe(401);
    expect((await send(w.env, "PUT", `/1.1/${a.username}/storage/tabs/x`, { headers: { Authorization: basic(a.username, a.password) }, body: '{"payload":"p"}' })).status).toBe(401);
    expect((await send(w.env, "POST", `/__admin__/users/acct:${a.username}/enable`, { headers: adm })).status).toBe(200);
    expect((await get(w.env, a, "/info/collections")).status).toBe(200);
  });

  it("U10-7.3: deleting the account refuses the next request (warmed cache) on every route", async () => {
    const w = countingEnv();
    const a = await newAccount(w.env);
    await warm(w, a);
    const del = await send(w.env, "DELETE", `/user/1.0/${a.username}`, { headers: { Authorization: basic(a.username, a.password) } });
    expect(del.status).toBe(200);
    expect((await get(w.env, a, "/info/collections")).status).toBe(401);
    const put = await send(w.env, "PUT", `/1.1/${a.username}/storage/tabs/x`, { headers: { Authorization: basic(a.username, a.password) }, body: '{"payload":"p"}' });
    expect(put.status).toBe(401);
  });

  it("admin API: deleting the account refuses the next request (warmed cache)", async () => {
    const w = countingEnv({ ADMIN_TOKEN });
    const a = await newAccount(w.env);
    await warm(w, a);
    expect((await send(w.env, "DELETE", `/__admin__/users/acct:${a.username}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
    expect((await get(w.env, a, "/info/collections")).status).toBe(401);
  });

  it("a password change whose store cannot be reached fails (503) and changes nothing", async () => {
    const w = countingEnv();
    const a = await newAccount(w.env);
    await warm(w, a);
    const base = env as unknown as Env;
    const down = {
      ...w.env,
      USER_STORE: {
        idFromName: (x: string) => base.USER_STORE.idFromName(x),
        get: () => ({ accessBegin: () => Promise.reject(new Error("overloaded")) }),
      },
    } as unknown as Env;
    const np = `new-${crypto.randomUUID()}`;
    const r = await send(down, "POST", `/user/1.0/${a.username}/password`, { headers: { Authorization: basic(a.username, a.password) }, body: np });
    expect(r.status).toBe(503);
    expect((await get(w.env, a, "/info/collections")).status).toBe(200);
    expect((await get(w.env, a, "/info/collections", np)).status).toBe(401);
  });

  it("a stale credential is refused even when the handler fails before any storage call (401, not 400)", async () => {
    const w = countingEnv();
    const a = await newAccount(w.env);
    await warm(w, a);
    const np = `new-${crypto.randomUUID()}`;
    expect((await send(w.env, "POST", `/user/1.0/${a.username}/password`, { headers: { Authorization: basic(a.username, a.password) }, body: np })).status).toBe(200);
    // DELETE /storage without X-Confirm-Delete fails in the handler, before the store is asked.
    const r = await send(w.env, "DELETE", `/1.1/${a.username}/storage`, { headers: { Authorization: basic(a.username, a.password) } });
    expect(r.status).toBe(401);
    const ok = await send(w.env, "DELETE", `/1.1/${a.username}/storage`, { headers: { Authorization: basic(a.username, np) } });
    expect(ok.status).toBe(400);
  });
});

describe("store fast path: lockout without an oracle (D12)", { timeout: 120_000 }, () => {
  const limits = { THROTTLE_FAILURES_PER_CLIENT: "2", THROTTLE_FAILURES_PER_ACCOUNT: "4", THROTTLE_FAILURES_PER_ADDRESS: "6", THROTTLE_MAX_LOCKOUT: "60" };

  /** Status, body and whether Retry-After is set: what a client can compare. */
  const seen = (r: Reply) => ({ status: r.status, body: r.text, retry: r.headers.get("Retry-After") !== null });

  it("pair lock: from the locked address the right password is refused exactly like a wrong one", async () => {
    const w = countingEnv(limits);
    const a = await newAccount(w.env);
    const ip = "198.51.100.7";
    await warm(w, a, ip);
    let wrong: Reply | null = null;
    for (let i = 0; i < 4; i++) wrong = await get(w.env, a, "/info/collections", `guess-${i}`, ip);
    expect(wrong?.status).toBe(503);
    const right = await get(w.env, a, "/info/collections", a.password, ip);
    expect(seen(right)).toEqual(seen(wrong as Reply));
    const again = await get(w.env, a, "/info/collections", "guess-x", ip);
    expect(seen(again)).toEqual(seen(right));
  });

  it("address lock (guesses spread over other accounts): the right password of a warmed account is refused too", async () => {
    const w = countingEnv(limits);
    const a = await newAccount(w.env);
    const ip = "198.51.100.9";
    await warm(w, a, ip);
    let wrong: Reply | null = null;
    for (let i = 0; i < 8; i++) {
      const name = `nobody${i}${crypto.randomUUID().slice(0, 6)}`;
      wrong = await send(w.env, "GET", `/1.1/${name}/info/collections`, { headers: { Authorization: basic(name, "x"), "CF-Connecting-IP": ip } });
    }
    expect(wrong?.status).toBe(503);
    const right = await get(w.env, a, "/info/collections", a.password, ip);
    const guess = await get(w.env, a, "/info/collections", "guess", ip);
    expect(right.status).toBe(503);
    expect(seen(right)).toEqual(seen(guess));
  });

  it("account lock from many addresses: the fast path closes; an address that logged in before still gets in (known)", async () => {
    const w = countingEnv(limits);
    const a = await newAccount(w.env);
    const home = "203.0.113.20";
    await warm(w, a, home);
    for (let i = 0; i < 6; i++) await get(w.env, a, "/info/collections", `guess-${i}`, `192.0.2.${10 + i}`);
    const stranger = await get(w.env, a, "/info/collections", a.password, "192.0.2.99");
    expect(stranger.status).toBe(503);
    // The owner's known address passes the throttle (THR rules), through the full check.
    w.reset();
    expect((await get(w.env, a, "/info/collections", a.password, home)).status).toBe(200);
    expect(w.counts.throttle).toBeGreaterThan(0);
  });
});
