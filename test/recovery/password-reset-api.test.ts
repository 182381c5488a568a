/**
 * User API 1.0 password reset: U10-7.5 (X-Weave-Password-Reset),
 * U10-7.7 (send the e-mail), U10-7.8 (cancel), U10-9.1 (the e-mail).
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { MailError, mailerOverride } from "../../src/recovery/mail";
import { basic, DEV, fetchWith, newAccount, outbox, resetCodeFor, resetLink, type TestAccount } from "../helpers/recovery";

afterEach(() => {
  mailerOverride.current = null;
});

async function setByCode(a: TestAccount, code: string, password: string, vars = DEV) {
  return fetchWith(vars, `/user/1.0/${a.username}/password`, {
    method: "POST",
    body: password,
    headers: { "X-Weave-Password-Reset": code },
  });
}

async function loginStatus(a: TestAccount, password: string, vars = DEV): Promise<number> {
  const res = await fetchWith(vars, `/user/1.0/${a.username}/email`, {
    method: "POST",
    body: a.email,
    headers: { Authorization: basic(a.username, password) },
  });
  return res.status;
}

describe("U10-7.7 GET password_reset", () => {
  it("U10-7.7.1 no e-mail configured (server-full default) → 503 webob text, not a crash", async () => {
    const a = await newAccount();
    const res = await fetchWith({}, `/user/1.0/${a.username}/password_reset`);
    expect(res.status).toBe(503);
    expect(await res.text()).toMatch(/^503 Service Unavailable/);
  });

  it("U10-7.7.2 unknown user → Weave code 3", async () => {
    const res = await fetchWith(DEV, `/user/1.0/nosuchuserxxxxxxxxxxxxxxxxxxxxxx/password_reset`);
    expect(res.status).toBe(400);
    expect(await res.text()).toBe("3");
  });

  it("U10-7.7.3 no e-mail on file → Weave code 12", async () => {
    const a = await newAccount();
    await env.DB.prepare(`UPDATE "user" SET mail = NULL WHERE username = ?1`).bind(a.username).run();
    const res = await fetchWith(DEV, `/user/1.0/${a.username}/password_reset`);
    expect(await res.text()).toBe("12");
  });

  it("U10-7.7.4 captcha configured: missing or rejected captcha-response → 2; accepted → success", async () => {
    const a = await newAccount();
    const pass = { ...DEV, TURNSTILE_SITE_KEY: "1x00000000000000000000AA", TURNSTILE_SECRET_KEY: "1x0000000000000000000000000000000AA" };
    const fail = { ...DEV, TURNSTILE_SITE_KEY: "2x00000000000000000000AB", TURNSTILE_SECRET_KEY: "2x0000000000000000000000000000000AA" };
    expect(await (await fetchWith(pass, `/user/1.0/${a.username}/password_reset`)).text()).toBe("2");
    expect(await (await fetchWith(fail, `/user/1.0/${a.username}/password_reset?captcha-response=tok`)).text()).toBe("2");
    const ok = await fetchWith(pass, `/user/1.0/${a.username}/password_reset?captcha-response=XXXX.DUMMY.TOKEN.XXXX`);
    expect(ok.status).toBe(200);
  });

  it("U10-7.7.5 + U10-9.1 e-mails a link with a fresh code; 200 success text/plain", async () => {
    const a = await newAccount();
    const res = await fetchWith(DEV, `/user/1.0/${a.username}/password_reset`);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/plain; charset=UTF-8");
    expect(res.headers.get("X-Weave-Timestamp")).toMatch(/^\d+\.\d\d$/);
    expect(await res.text()).toBe("success");
    const [m] = await outbox(a.email);
    expect(m?.subject).toBe("Resetting your Services password");
    expect(m?.to).toBe(a.email);
    const link = await resetLink(a.email);
    expect(link.origin).toBe("http://sync.test");
    expect(link.pathname).toBe("/weave-password-reset");
    expect(link.searchParams.get("username")).toBe(a.username);
    expect(link.searchParams.get("key")).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  });

  it("U10-9.1 the link uses PUBLIC_URL when set, never the request's Host header", async () => {
    const a = await newAccount();
    const vars = { ...DEV, PUBLIC_URL: "https://sync.example.org" };
    await fetchWith(vars, `/user/1.0/${a.username}/password_reset`, { headers: { Host: "evil.example" } });
    expect((await resetLink(a.email, vars)).origin).toBe("https://sync.example.org");
  });

  it("U10-7.7.5 a mail transport failure → 503 with a safe detail, not a crash", async () => {
    const a = await newAccount();
    mailerOverride.current = {
      send: async () => {
        throw new MailError("The e-mail service refused the message (HTTP 500).");
      },
    };
    const res = await fetchWith(DEV, `/user/1.0/${a.username}/password_reset`);
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("10");
    expect(await res.text()).toContain("refused the message (HTTP 500)");
  });

  it("U10-7.7 POST password_reset → 405", async () => {
    const a = await newAccount();
    expect((await fetchWith(DEV, `/user/1.0/${a.username}/password_reset`, { method: "POST" })).status).toBe(405);
  });
});

describe("U10-7.5 POST password with X-Weave-Password-Reset", () => {
  it("U10-7.5.3 sets the new password with a valid code; old password refused, new accepted", async () => {
    const a = await newAccount();
    const code = await resetCodeFor(a);
    expect(await loginStatus(a, a.password)).toBe(200); // warms the credential cache with the old password
    const res = await setByCode(a, code, "a brand new password");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("success");
    expect(await loginStatus(a, a.password)).toBe(401);
    expect(await loginStatus(a, "a brand new password")).toBe(200);
  });

  it("U10-7.5.3 non-ASCII new passwords work (REF-BUG fixed)", async () => {
    const a = await newAccount();
    const code = await resetCodeFor(a);
    expect((await setByCode(a, code, "pässwörd-ünïcödé")).status).toBe(200);
    expect(await loginStatus(a, "pässwörd-ünïcödé")).toBe(200);
  });

  it("U10-8 a code works once (the spec's recommendation: the API path uses it up)", async () => {
    const a = await newAccount();
    const code = await resetCodeFor(a);
    expect((await setByCode(a, code, "first new password")).status).toBe(200);
    const again = await setByCode(a, code, "second new password");
    expect(again.status).toBe(400);
    expect(await again.text()).toBe("10");
    expect(await loginStatus(a, "first new password")).toBe(200);
  });

  it("U10-7.5.3 invalid, malformed or other account's code → Weave code 10", async () => {
    const a = await newAccount();
    const b = await newAccount();
    await resetCodeFor(a);
    const bCode = await resetCodeFor(b);
    for (const code of ["AAAA-BBBB-CCCC-DDDD", "garbage", "", bCode, bCode.toLowerCase()]) {
      const res = await setByCode(a, code, "whatever new password");
      expect(await res.text(), code).toBe("10");
    }
    expect(await loginStatus(a, a.password)).toBe(200);
  });

  it("U10-7.5.3 unknown user → 404", async () => {
    const res = await setByCode({ username: "nobodyxxxxxxxxxxxxxxxxxxxxxxxxxx" } as TestAccount, "AAAA-BBBB-CCCC-DDDD", "long enough pw");
    expect(res.status).toBe(404);
  });

  it("U10-7.5.2 the strength check still comes first (400 webob text)", async () => {
    const a = await newAccount();
    const res = await setByCode(a, "AAAA-BBBB-CCCC-DDDD", "short");
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Password should be at least 8 characters");
  });

  it("U10-7.5.3 no e-mail configured → Weave code 10 (REF-BUG: the reference crashed)", async () => {
    const a = await newAccount();
    const res = await setByCode(a, "AAAA-BBBB-CCCC-DDDD", "long enough pw", {});
    expect(await res.text()).toBe("10");
  });

  it("U10-8 an expired code is refused", async () => {
    const a = await newAccount();
    const code = await resetCodeFor(a);
    await env.DB.prepare(
      `UPDATE reset_codes SET expires_at = ?1 WHERE userid = (SELECT userid FROM "user" WHERE username = ?2)`,
    )
      .bind(Date.now() - 1, a.username)
      .run();
    expect(await (await setByCode(a, code, "a new password!")).text()).toBe("10");
  });

  it("U10-8 RESET_CODE_TTL sets the lifetime", async () => {
    const a = await newAccount();
    const vars = { ...DEV, RESET_CODE_TTL: "600" };
    const before = Date.now();
    await resetCodeFor(a, vars);
    const row = await env.DB.prepare(
      `SELECT expires_at - created_at AS life FROM reset_codes WHERE userid = (SELECT userid FROM "user" WHERE username = ?1)`,
    )
      .bind(a.username)
      .first<{ life: number }>();
    expect(row?.life).toBe(600_000);
    expect(before).toBeGreaterThan(0);
  });

  it("U10-8 asking twice: both e-mailed codes work (the newest three stay valid)", async () => {
    const a = await newAccount();
    const first = await resetCodeFor(a);
    const second = await resetCodeFor(a);
    expect(first).not.toBe(second);
    expect((await setByCode(a, first, "from the first mail")).status).toBe(200);
    // a successful reset cancels the other pending codes
    expect(await (await setByCode(a, second, "from the second mail")).text()).toBe("10");
  });
});

describe("U10-7.8 DELETE password_reset", () => {
  it("U10-7.8 needs Basic auth", async () => {
    const a = await newAccount();
    const res = await fetchWith(DEV, `/user/1.0/${a.username}/password_reset`, { method: "DELETE" });
    expect(res.status).toBe(401);
  });

  it("U10-7.8 no e-mail configured → 503", async () => {
    const a = await newAccount();
    const res = await fetchWith({}, `/user/1.0/${a.username}/password_reset`, { method: "DELETE", headers: { Authorization: a.auth } });
    expect(res.status).toBe(503);
  });

  it("U10-7.8 cancels pending codes → success; the code is then refused", async () => {
    const a = await newAccount();
    const code = await resetCodeFor(a);
    const res = await fetchWith(DEV, `/user/1.0/${a.username}/password_reset`, { method: "DELETE", headers: { Authorization: a.auth } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("success");
    expect(await (await setByCode(a, code, "a new password!")).text()).toBe("10");
  });

  it("U10-7.8 captcha configured: missing captcha-response → 2", async () => {
    const a = await newAccount();
    const vars = { ...DEV, TURNSTILE_SITE_KEY: "1x00000000000000000000AA", TURNSTILE_SECRET_KEY: "1x0000000000000000000000000000000AA" };
    const res = await fetchWith(vars, `/user/1.0/${a.username}/password_reset`, { method: "DELETE", headers: { Authorization: a.auth } });
    expect(await res.text()).toBe("2");
  });
});
