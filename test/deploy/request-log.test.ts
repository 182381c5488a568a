/**
 * Request logs (src/log.ts) through the real Worker: every kind of request
 * (User API with a password, Storage 1.1 with Basic, reset with a code by API
 * and by page, tokenserver with a Bearer token, Storage 1.5 with Hawk, errors)
 * writes exactly one JSON request line whose request id is the answer's
 * X-Request-Id, and no line contains a password, token, Hawk header, reset
 * code, payload, e-mail or 1.1 user name.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { computeMac, normalizedString, requestTarget } from "../../src/auth/hawk";
import { toBase64, toBase64UrlNoPad } from "../../src/auth/encoding";
import { clientUsername } from "../../src/lib/usernames";
import { logSink, type LogLevel } from "../../src/log";
import { issueResetCode } from "../../src/recovery/reset-codes";
import { hawkHeader } from "../auth/vectors";
import { FormClient } from "../helpers/recovery";
import { createMockFxa, FXA_URL } from "../tokenserver/mock-fxa";

const ORIGIN = "http://sync.test";
const MASTER = `log-test-master-${crypto.randomUUID()}`;
const BASE_VARS: Record<string, string> = {
  SYNC_MASTER_SECRET: MASTER,
  FXA_OAUTH_SERVER_URL: FXA_URL,
  PUBLIC_URL: ORIGIN,
  // reset features need a mail transport; the codes below are issued directly, no mail is sent
  MAIL_TRANSPORT: "outbox",
  MAIL_FROM: "sync@example.test",
  DEV_MODE: "true",
  // the default (warn) logs only failing requests; these tests read every line
  LOG_LEVEL: "info",
};

let lines: { level: LogLevel; line: string }[] = [];
beforeEach(() => {
  lines = [];
  vi.spyOn(logSink, "write").mockImplementation((level, line) => {
    lines.push({ level, line });
  });
});
afterEach(() => vi.restoreAllMocks());

const parsed = () => lines.map((l) => JSON.parse(l.line) as Record<string, unknown>);
const requestLines = () => parsed().filter((l) => l.msg === "request");

let sent = 0;
async function send(path: string, init: RequestInit = {}, vars: Record<string, string> = {}): Promise<Response> {
  sent += 1;
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${ORIGIN}${path}`, init), { ...env, ...BASE_VARS, ...vars } as unknown as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

function basic(user: string, password: string): string {
  return `Basic ${btoa(`${user}:${password}`)}`;
}

async function hawkFetch(cred: { id: string; key: string }, method: string, path: string, body?: string): Promise<Response> {
  const url = `${ORIGIN}${path}`;
  const ts = Math.floor(Date.now() / 1000);
  const nonce = crypto.randomUUID();
  const mac = await computeMac(cred.key, normalizedString({ ts: String(ts), nonce, method, ...requestTarget(url, new Headers()) }));
  const auth = hawkHeader({ id: cred.id, ts, nonce, mac });
  secrets.push(auth, mac);
  const headers: Record<string, string> = { Authorization: auth };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    headers["Content-Length"] = String(new TextEncoder().encode(body).length); // as on the wire
  }
  return send(path, { method, headers, body });
}

const secrets: string[] = [];

describe("one JSON line per request, no secret in any line", () => {
  it("1.1 + User API + reset + tokenserver + 1.5", async () => {
    sent = 0;
    const email = `log.${crypto.randomUUID()}@example.com`;
    const user = await clientUsername(email);
    const pw1 = `first-pw-${crypto.randomUUID()}`;
    const pw2 = `second-pw-${crypto.randomUUID()}`;
    const pw3 = `third-pw-${crypto.randomUUID()}`;
    const pw4 = `fourth-pw-${crypto.randomUUID()}`;
    const wrong = `wrong-pw-${crypto.randomUUID()}`;
    const payload11 = `PAYLOAD-11-${crypto.randomUUID()}`;
    const payload15 = `PAYLOAD-15-${crypto.randomUUID()}`;
    secrets.push(email, user, pw1, pw2, pw3, pw4, wrong, payload11, payload15, MASTER, basic(user, pw1), basic(user, wrong));

    const replies: Response[] = [];
    const keep = (r: Response) => (replies.push(r), r);

    // User API: create the account (password in the body)
    expect((await keep(await send(`/user/1.0/${user}`, { method: "PUT", body: JSON.stringify({ password: pw1, email }) }))).status).toBe(200);
    // Storage 1.1 with Basic
    expect((await keep(await send(`/1.1/${user}/storage/bookmarks/rec1`, { method: "PUT", headers: { Authorization: basic(user, pw1) }, body: JSON.stringify({ payload: payload11 }) }))).status).toBe(200);
    const got = keep(await send(`/1.1/${user}/storage/bookmarks?full=1`, { headers: { Authorization: basic(user, pw1) } }));
    expect(await got.clone().text()).toContain(payload11);
    expect((await keep(await send(`/1.1/${user}/info/collections`, { headers: { Authorization: basic(user, wrong) } }))).status).toBe(401);
    // User API: password change (new password in the body)
    const change = keep(await send(`/user/1.0/${user}/password`, { method: "POST", headers: { Authorization: basic(user, pw1) }, body: pw2 }));
    expect(change.status).toBe(200);
    secrets.push(basic(user, pw2));

    // Reset with a code: by the User API header, then by the page's form (code in the query and the form)
    const row = await env.DB.prepare('SELECT userid FROM "user" WHERE username = ?').bind(user).first<{ userid: number }>();
    const code1 = await issueResetCode(env, row!.userid, 3600);
    const code2 = await issueResetCode(env, row!.userid, 3600);
    secrets.push(code1, code2);
    const byApi = keep(await send(`/user/1.0/${user}/password`, { method: "POST", headers: { "X-Weave-Password-Reset": code1 }, body: pw3 }));
    expect(await byApi.clone().text()).toBe("success");
    const form = new FormClient({ ...BASE_VARS });
    const page = await form.get(`/weave-password-reset?username=${user}&key=${code2}`);
    replies.push(page.res);
    sent += 1;
    const posted = await form.post("/weave-password-reset", { username: user, key: code2, password: pw4, confirm: pw4 });
    replies.push(posted.res);
    sent += 2; // the form client fetches the page for its CSRF token, then posts
    expect(posted.res.status).toBe(200);

    // Tokenserver with a Bearer token, then Storage 1.5 with Hawk
    const fxa = await createMockFxa();
    const jwks = await (await fxa.fetch(`${FXA_URL}/v1/jwks`)).text();
    const jwt = await fxa.mint({ sub: "a".repeat(32), generation: 1 });
    const keyId = `1-${toBase64UrlNoPad(new Uint8Array(16).fill(7))}`;
    secrets.push(jwt);
    const tok = keep(
      await send("/1.0/sync/1.5", { headers: { Authorization: `Bearer ${jwt}`, "X-KeyID": keyId } }, { FXA_OAUTH_JWKS: jwks }),
    );
    expect(tok.status, await tok.clone().text()).toBe(200);
    const token = (await tok.clone().json()) as { id: string; key: string; uid: number };
    secrets.push(token.id, token.key, toBase64(new TextEncoder().encode(token.key)));
    const base = `/1.5/${token.uid}`;
    expect((await keep(await hawkFetch(token, "PUT", `${base}/storage/meta/global`, JSON.stringify({ payload: payload15 })))).status).toBe(200);
    const meta = keep(await hawkFetch(token, "GET", `${base}/storage/meta/global`));
    expect(await meta.clone().text()).toContain(payload15);
    expect((await keep(await send(`${base}/info/collections`, { headers: { Authorization: "Hawk id=\"x\", ts=\"1\", nonce=\"n\", mac=\"m\"" } }))).status).toBe(401);

    // Service endpoints and a 404
    keep(await send("/__heartbeat__"));
    keep(await send("/no/such/thing"));

    // Every line is JSON; one request line per request; nothing secret anywhere.
    const all = parsed();
    const reqs = requestLines();
    expect(reqs.length).toBe(sent);
    for (const l of lines) {
      for (const s of secrets) expect(l.line, `secret ${s.slice(0, 12)}… in ${l.line}`).not.toContain(s);
    }
    // Each answer's X-Request-Id is one request line's id.
    const ids = new Set(reqs.map((r) => r.request_id));
    for (const r of replies) expect(ids.has(r.headers.get("X-Request-Id"))).toBe(true);
    for (const r of reqs) {
      expect(r).toMatchObject({ level: expect.stringMatching(/^(info|warn|error)$/), method: expect.any(String), status: expect.any(Number) });
      const status = r.status as number;
      expect(r.level).toBe(status >= 500 ? "error" : status >= 400 ? "warn" : "info");
      expect(typeof r.duration_ms).toBe("number");
      expect(r.time).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(String(r.route ?? "")).not.toContain(user);
    }
    for (const l of all) expect(typeof l.request_id).toBe("string");

    // The 1.5 lines name the uid and the route pattern; the 1.1 lines a hash, never the name.
    const put15 = reqs.find((r) => r.method === "PUT" && r.uid === token.uid);
    expect(put15).toMatchObject({ status: 200, route: "/1.5/:uid/storage/:collection/:id", bytes_in: JSON.stringify({ payload: payload15 }).length });
    const tokLine = reqs.find((r) => String(r.route).startsWith("/1.0/:"));
    expect(tokLine?.status).toBe(200);
    const lines11 = reqs.filter((r) => typeof r.user_hash === "string");
    expect(lines11.length).toBeGreaterThanOrEqual(6);
    expect(new Set(lines11.map((r) => r.user_hash)).size).toBe(1);
    expect(lines11[0]!.user_hash).toMatch(/^[0-9a-f]{16}$/);
    // The 1.x pipeline's own route patterns, not the Worker's catch-all.
    expect(reqs.find((r) => r.method === "PUT" && String(r.route).includes("storage") && typeof r.user_hash === "string")).toMatchObject({ route: "/:version/:user/storage/:collection/:id", status: 200 });
    expect(reqs.find((r) => r.method === "PUT" && r.route === "/user/:version/:user")).toMatchObject({ status: 200 });
    expect(reqs.find((r) => r.status === 401 && typeof r.user_hash === "string")).toMatchObject({ route: "/:version/:user/info/collections", level: "warn" });
    expect(reqs.find((r) => r.status === 404)).toMatchObject({ route: null });
  });
});

describe("X-Request-Id", () => {
  it("keeps a sane incoming id and replaces an insane one", async () => {
    const kept = await send("/__heartbeat__", { headers: { "X-Request-Id": "edge-1234.abc:5" } });
    expect(kept.headers.get("X-Request-Id")).toBe("edge-1234.abc:5");
    const replaced = await send("/__heartbeat__", { headers: { "X-Request-Id": "bad id\twith spaces" } });
    expect(replaced.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    const long = await send("/__heartbeat__", { headers: { "X-Request-Id": "a".repeat(129) } });
    expect(long.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestLines().map((r) => r.request_id)).toEqual([
      "edge-1234.abc:5",
      replaced.headers.get("X-Request-Id"),
      long.headers.get("X-Request-Id"),
    ]);
  });

  it("is on error answers too (404, 405, 401, 500)", async () => {
    for (const r of [
      await send("/nope"),
      await send("/1.5/1/info/collections"),
      await send("/1.1/someone/info/collections", { method: "PATCH" }),
      await send("/__heartbeat__", {}, { LOG_LEVEL: "loud" }),
    ]) {
      expect(r.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

describe("LOG_LEVEL", () => {
  it("by default (warn) logs failing requests only", async () => {
    const defaults = { LOG_LEVEL: "" };
    await send("/__heartbeat__", {}, defaults);
    expect(lines).toEqual([]);
    const missing = await send("/no/such/thing", {}, defaults);
    expect(missing.status).toBe(404);
    expect(requestLines()).toMatchObject([{ level: "warn", status: 404, route: null, request_id: missing.headers.get("X-Request-Id") }]);
  });

  it("error keeps only failing requests; debug counts response bytes exactly", async () => {
    await send("/__heartbeat__", {}, { LOG_LEVEL: "error" });
    expect(lines).toEqual([]);
    const res = await send("/__heartbeat__", { headers: { Accept: "application/json" } }, { LOG_LEVEL: "debug" });
    const body = await res.text();
    const [line] = requestLines();
    expect(line).toMatchObject({ level: "info", status: 200, bytes_out: new TextEncoder().encode(body).length, bytes_in: 0 });
    expect(body.length).toBeGreaterThan(0);
  });

  it("an invalid value answers 500 naming the setting (and still logs the request)", async () => {
    const res = await send("/__heartbeat__", {}, { LOG_LEVEL: "verbose" });
    expect(res.status).toBe(500);
    expect(await res.text()).toContain("LOG_LEVEL");
    expect(requestLines()).toMatchObject([{ status: 500, level: "error" }]);
  });

  it("an unhandled error is one error line with the request id and the stack", async () => {
    const broken = {
      prepare() {
        throw new Error("d1 exploded");
      },
      batch() {
        throw new Error("d1 exploded");
      },
    };
    const res = await send(`/1.1/someone/info/collections`, { headers: { Authorization: basic("someone", "pw-someone-1") } }, { DB: broken as unknown as string });
    expect(res.status).toBeGreaterThanOrEqual(500);
    const id = res.headers.get("X-Request-Id");
    const errors = parsed().filter((l) => l.level === "error" && l.msg !== "request");
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e.request_id).toBe(id);
    expect(errors.some((e) => JSON.stringify(e).includes("d1 exploded") && JSON.stringify(e).includes("at "))).toBe(true);
    expect(requestLines()).toMatchObject([{ request_id: id, status: res.status, level: "error" }]);
    for (const l of lines) expect(l.line).not.toContain("pw-someone-1");
  });
});
