/**
 * The account pages: U10-9.2, U10-9.3 (password reset), U10-12 (delete
 * account), U10-11 (media), and the CSRF, escaping and dev-outbox rules added here.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import worker from "../../src/index";
import { describe, expect, it, vi } from "vitest";
import { mediaFile } from "../../src/recovery/media";
import { userStoreFor } from "../../src/storage/stub";
import { RESET_ERRORS } from "../../src/routes/recovery";
import { basic, CAPTCHA_FAIL, CAPTCHA_PASS, DEV, fetchWith, FormClient, MAIL_API, mailApiAnswers, newAccount, outbox, resetCodeFor, resetLink } from "../helpers/recovery";

async function loginStatus(username: string, password: string): Promise<number> {
  const res = await fetchWith(DEV, `/user/1.0/${username}/password_reset`, {
    method: "DELETE",
    headers: { Authorization: basic(username, password) },
  });
  return res.status;
}

describe("U10-9.2 GET /weave-password-reset", () => {
  it("U10-9.2 no query → ask page: accessible form with a username field, CSRF token and cookie, safe headers", async () => {
    const f = new FormClient();
    const { res, html, csrf } = await f.get("/weave-password-reset");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/html; charset=UTF-8");
    expect(html).toContain("<title>Mozilla Labs / Weave / Forgot Password</title>");
    expect(html).toContain('<form method="post" action="/weave-password-reset">');
    expect(html).toMatch(/<label for="username">[^<]+<\/label>/);
    expect(html).toContain('name="username"');
    expect(html).toContain('lang="en"');
    expect(csrf).toMatch(/^[\w-]+\.[\w-]+$/);
    expect(res.headers.get("Set-Cookie")).toMatch(/^weave_csrf=[\w.-]+; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(res.headers.get("Referrer-Policy")).toBe("same-origin");
    expect(res.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
  });

  it("U10-9.2 the cookie is __Host- and Secure over https", async () => {
    const res = await fetchWith(DEV, "/weave-password-reset");
    expect(res.headers.get("Set-Cookie")).not.toContain("Secure");
    const ctx = createExecutionContext();
    const https = await worker.fetch(new Request("https://sync.test/weave-password-reset"), { ...env, ...DEV } as unknown as Env, ctx);
    await waitOnExecutionContext(ctx);
    expect(https.headers.get("Set-Cookie")).toMatch(/^__Host-weave_csrf=.*; Secure$/);
  });

  it("U10-9.2 key → reset page with password, confirm, hidden key and username, submit pchange", async () => {
    const { html } = await new FormClient().get("/weave-password-reset?username=someone&key=ABCD-1234-EFGH-5678");
    expect(html).toContain('type="password" id="password" name="password"');
    expect(html).toContain('name="confirm"');
    expect(html).toContain('<input type="hidden" name="key" value="ABCD-1234-EFGH-5678" />');
    expect(html).toContain('<input type="hidden" name="username" value="someone" />');
    expect(html).toContain('name="pchange"');
    expect(html).not.toContain('class="error"');
  });

  it("U10-9.2 key, username and error are HTML-escaped (REF-BUG: XSS)", async () => {
    const evil = `"><script>alert(1)</script>`;
    const q = new URLSearchParams({ key: evil, username: evil, error: evil });
    const { html } = await new FormClient().get(`/weave-password-reset?${q}`);
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).toContain("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toMatch(/<div class="error" id="form-error" role="alert">&quot;&gt;&lt;script&gt;/);
  });

  it("U10-9.2 no username → no hidden username field", async () => {
    const { html } = await new FormClient().get("/weave-password-reset?key=K");
    expect(html).not.toContain('name="username"');
  });

  it("U10-9.2 other query → 400", async () => {
    expect((await fetchWith(DEV, "/weave-password-reset?foo=1")).status).toBe(400);
  });

  it("U10-9.2 with a captcha configured the ask page embeds the Turnstile widget and allows its origin in the CSP", async () => {
    const { res, html } = await new FormClient({ ...DEV, ...CAPTCHA_PASS }).get("/weave-password-reset");
    expect(html).toContain('<div class="cf-turnstile" data-sitekey="1x00000000000000000000AA"></div>');
    expect(html).toContain("https://challenges.cloudflare.com/turnstile/v0/api.js");
    expect(res.headers.get("Content-Security-Policy")).toContain("frame-src https://challenges.cloudflare.com");
  });
});

describe("U10-9.3 POST /weave-password-reset", () => {
  it("U10-9.3.1 no e-mail configured → 503", async () => {
    const f = new FormClient({});
    const { res } = await f.post("/weave-password-reset", { username: "x" });
    expect(res.status).toBe(503);
  });

  it("U10-9.3 (CSRF) without the token, with a wrong one, or from another origin → 403 and nothing is sent", async () => {
    const a = await newAccount();
    const f = new FormClient();
    expect((await f.post("/weave-password-reset", { username: a.email }, { csrf: null })).res.status).toBe(403);
    expect((await f.post("/weave-password-reset", { username: a.email }, { csrf: "forged.token" })).res.status).toBe(403);
    const other = new FormClient(DEV, { Origin: "https://evil.example" });
    expect((await other.post("/weave-password-reset", { username: a.email })).res.status).toBe(403);
    const opaque = new FormClient(DEV, { Origin: "null", "Sec-Fetch-Site": "cross-site" });
    expect((await opaque.post("/weave-password-reset", { username: a.email })).res.status).toBe(403);
    // a token from one browser is useless in another (no cookie)
    const { csrf } = await new FormClient().get("/weave-password-reset");
    expect((await new FormClient().post("/weave-password-reset", { username: a.email }, { csrf })).res.status).toBe(403);
    expect(await outbox(a.email)).toEqual([]);
  });

  it("U10-9.3.3 request step with an e-mail address → key-sent page ('next 6 hours') and a mail", async () => {
    const a = await newAccount();
    const { res, body } = await new FormClient().post("/weave-password-reset", { username: a.email });
    expect(res.status).toBe(200);
    expect(body).toContain("next 6 hours");
    const link = await resetLink(a.email);
    expect(link.searchParams.get("username")).toBe(a.username);
  });

  it("U10-9.3.3 request step for an unknown user → failure page 'Error: 3'", async () => {
    const { res, body } = await new FormClient().post("/weave-password-reset", { username: "nobody@nowhere.example" });
    expect(res.status).toBe(200);
    expect(body).toContain("Error: 3");
  });

  it("U10-9.3.3 with a captcha configured, the form verifies the Turnstile token (fixes 'always code 2')", async () => {
    const a = await newAccount();
    const ok = await new FormClient({ ...DEV, ...CAPTCHA_PASS }).post("/weave-password-reset", {
      username: a.username,
      "cf-turnstile-response": "XXXX.DUMMY.TOKEN.XXXX",
    });
    expect(ok.body).toContain("next 6 hours");
    const bad = await new FormClient({ ...DEV, ...CAPTCHA_FAIL }).post("/weave-password-reset", {
      username: a.username,
      "cf-turnstile-response": "XXXX.DUMMY.TOKEN.XXXX",
    });
    expect(bad.body).toContain("Error: 2");
    const missing = await new FormClient({ ...DEV, ...CAPTCHA_PASS }).post("/weave-password-reset", { username: a.username });
    expect(missing.body).toContain("Error: 2");
  });

  it("U10-9.3.4 reset step without key → 400 application/json null", async () => {
    const { res, body } = await new FormClient().post("/weave-password-reset", { username: "x", password: "y" });
    expect(res.status).toBe(400);
    expect(res.headers.get("Content-Type")).toBe("application/json");
    expect(body).toBe("null");
  });

  it("U10-9.3.4 errors re-render the reset page in the spec's order, keeping the fields", async () => {
    const a = await newAccount();
    const code = await resetCodeFor(a);
    const f = new FormClient();
    const post = (fields: Record<string, string>) => f.post("/weave-password-reset", { key: code, ...fields });
    const cases: [Record<string, string>, string][] = [
      [{ password: "new password 1", confirm: "new password 1" }, "Username not provided"],
      [{ username: "nobody-here", password: "new password 1", confirm: "new password 1" }, "unable to locate your account"],
      [{ username: a.username, confirm: "x" }, "Password not provided"],
      [{ username: a.username, password: "new password 1", confirm: "new password 2" }, "do not match"],
      [{ username: a.username, password: "short", confirm: "short" }, "at least 8"],
    ];
    for (const [fields, text] of cases) {
      const { res, body } = await post(fields);
      expect(res.status, text).toBe(200);
      expect(body, text).toContain(text);
      expect(body).toContain(`name="key" value="${code}"`);
    }
    const bad = await f.post("/weave-password-reset", {
      key: "AAAA-BBBB-CCCC-DDDD",
      username: a.username,
      password: "new password 1",
      confirm: "new password 1",
    });
    expect(bad.body).toContain("Key does not match with username");
    expect(RESET_ERRORS.badKey).toContain("Key does not match with username");
    // none of that changed anything
    expect(await loginStatus(a.username, a.password)).toBe(200);
  });

  it("U10-9.3.4 success sets the SUBMITTED password (REF-BUG: not the literal 'password') and clears the code", async () => {
    const a = await newAccount();
    const code = await resetCodeFor(a);
    const f = new FormClient();
    const { body } = await f.post("/weave-password-reset", {
      key: code,
      username: a.email, // an e-mail may be typed
      password: "chosen by the user",
      confirm: "chosen by the user",
      pchange: "Change Password",
    });
    expect(body).toContain("Password successfully changed.");
    expect(await loginStatus(a.username, "chosen by the user")).toBe(200);
    expect(await loginStatus(a.username, "password")).toBe(401);
    expect(await loginStatus(a.username, a.password)).toBe(401);
    const again = await f.post("/weave-password-reset", {
      key: code,
      username: a.username,
      password: "another choice!",
      confirm: "another choice!",
    });
    expect(again.body).toContain("Key does not match with username");
  });

  it("U10-8 a code for one account cannot reset another", async () => {
    const a = await newAccount();
    const b = await newAccount();
    const code = await resetCodeFor(a);
    const { body } = await new FormClient().post("/weave-password-reset", {
      key: code,
      username: b.username,
      password: "takeover attempt",
      confirm: "takeover attempt",
    });
    expect(body).toContain("Key does not match with username");
    expect(await loginStatus(b.username, b.password)).toBe(200);
  });
});

describe("U10-12 /weave-delete-account", () => {
  it("U10-12 GET → the page with username, password and the pchange button", async () => {
    const { res, html } = await new FormClient().get("/weave-delete-account");
    expect(res.status).toBe(200);
    expect(html).toContain('<form method="post" action="/weave-delete-account">');
    expect(html).toContain('name="username"');
    expect(html).toContain('type="password" id="password" name="password" autocomplete="current-password"');
    expect(html).toContain('<input type="submit" name="pchange" value="Permanently Delete My Account" />');
  });

  it("U10-12.1 missing data; U10-12.3 bad credentials; text/plain 200", async () => {
    const a = await newAccount();
    const f = new FormClient();
    const missing = await f.post("/weave-delete-account", { username: a.username });
    expect(missing.res.headers.get("Content-Type")).toBe("text/plain; charset=UTF-8");
    expect(missing.body).toBe("Missing data");
    expect((await f.post("/weave-delete-account", { username: a.username, password: "wrong password" })).body).toBe("Bad credentials");
    expect((await f.post("/weave-delete-account", { username: "not valid!", password: "x" })).body).toBe("Bad credentials");
  });

  it("U10-12 (CSRF) a POST without the token deletes nothing → 403", async () => {
    const a = await newAccount();
    const { res } = await new FormClient().post("/weave-delete-account", { username: a.username, password: a.password }, { csrf: null });
    expect(res.status).toBe(403);
    expect(await loginStatus(a.username, a.password)).toBe(200);
  });

  it("U10-12.4 to U10-12.5 deletes the stored data and the account (e-mail typed) → 'Account removed.'", async () => {
    const a = await newAccount();
    const put = await fetchWith(DEV, `/1.1/${a.username}/storage/bookmarks/x1`, {
      method: "PUT",
      body: JSON.stringify({ payload: "secret" }),
      headers: { Authorization: a.auth },
    });
    expect(put.status).toBe(200);
    const userid = (await env.DB.prepare(`SELECT userid FROM "user" WHERE username = ?1`).bind(a.username).first<{ userid: number }>())
      ?.userid as number;
    const store = userStoreFor(env, { kind: "account", userid, username: a.username });
    const live = async () => {
      const r = await store.info({ view: "collections" });
      return (r.ok ? (r.collections ?? []) : []).filter(([, modified]) => modified !== null).map(([name]) => name);
    };
    expect(await live()).toEqual(["bookmarks"]);
    const { body } = await new FormClient().post("/weave-delete-account", { username: a.email, password: a.password });
    expect(body).toBe("Account removed.");
    expect(await live()).toEqual([]);
    expect(await (await fetchWith(DEV, `/user/1.0/${a.username}`)).text()).toBe("0");
    const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM "user" WHERE username = ?1`).bind(a.username).first<{ n: number }>();
    expect(row?.n).toBe(0);
  });

  it("U10-12 with a captcha configured the token is required", async () => {
    const a = await newAccount();
    const f = new FormClient({ ...DEV, ...CAPTCHA_PASS });
    expect((await f.post("/weave-delete-account", { username: a.username, password: a.password })).body).toBe("Captcha failed");
    expect(await loginStatus(a.username, a.password)).toBe(200);
  });
});

describe("U10-11 /media/<file>", () => {
  it("U10-11 serves the bundled files as text/html (REF-QUIRK)", async () => {
    for (const name of ["forgot_password.css", "weave-logo.png", "table-top.png", "table-sides.png", "circles.png", "bg.jpg"]) {
      const res = await fetchWith({}, `/media/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get("Content-Type")).toBe("text/html; charset=UTF-8");
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(50);
    }
    const png = new Uint8Array(await (await fetchWith({}, "/media/weave-logo.png")).arrayBuffer());
    expect(Array.from(png.subarray(0, 4))).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });

  it("U10-11 unknown names, '..' and encoded slashes → 404; query parameters ignored", async () => {
    // ("/media/.." itself never arrives: URL parsing resolves it to "/" before the Worker sees it.)
    for (const p of ["/media/nope.png", "/media/..%2fsrc%2findex.ts", "/media/%2e%2e%2fwrangler.toml", "/media/constructor", "/media/__proto__"]) {
      expect((await fetchWith({}, p)).status, p).toBe(404);
    }
    for (const name of ["..", ".", "../bg.jpg", "toString", "hasOwnProperty"]) expect(mediaFile(name), name).toBeNull();
    expect((await fetchWith({}, "/media/bg.jpg?x=1")).status).toBe(200);
  });
});

describe("development outbox", () => {
  it("GET /__dev__/outbox is 404 unless DEV_MODE = true", async () => {
    expect((await fetchWith({}, "/__dev__/outbox")).status).toBe(404);
    expect((await fetchWith({ DEV_MODE: "false" }, "/__dev__/outbox")).status).toBe(404);
    expect((await fetchWith(DEV, "/__dev__/outbox")).status).toBe(200);
  });
});

describe("U10-9.3 request step: failures of the mail and the throttle", () => {
  it("U10-9.3.3 a mail failure → 200 failure page with the transport's message", async () => {
    const a = await newAccount();
    mailApiAnswers(async () => {
      throw new TypeError("Network connection lost.");
    });
    vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const { res, body } = await new FormClient(MAIL_API).post("/weave-password-reset", { username: a.username });
      expect(res.status).toBe(200);
      expect(body).toContain("Error: The e-mail service could not be reached.");
    } finally {
      vi.restoreAllMocks();
    }
  });

  it("U10-9.3.3 throttled → 503 with Retry-After and a readable page", async () => {
    const a = await newAccount();
    const f = new FormClient(DEV, { "CF-Connecting-IP": "198.51.100.77" });
    for (let i = 0; i < 4; i++) expect((await f.post("/weave-password-reset", { username: a.username })).res.status).toBe(200);
    const { res, body } = await f.post("/weave-password-reset", { username: a.username });
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).not.toBeNull();
    expect(body).toContain("Too many attempts");
  });
});

describe("issue 12 item 6: the pages speak for the operator", () => {
  const OPERATOR = {
    ...DEV,
    OPERATOR_NAME: "Ada's <Sync> & Co",
    OPERATOR_CONTACT: "admin@sync.example.org",
    PRIVACY_POLICY_URL: "https://sync.example.org/privacy",
  };

  it("reset and delete pages: the operator's name (escaped), contact and privacy policy; no Mozilla footer", async () => {
    for (const path of ["/weave-password-reset", "/weave-delete-account"]) {
      const { html } = await new FormClient(OPERATOR).get(path);
      expect(html).toContain("This Sync server is run by Ada&#39;s &lt;Sync&gt; &amp; Co.");
      expect(html).toContain('Contact: <a href="mailto:admin@sync.example.org">admin@sync.example.org</a>');
      expect(html).toContain('<a href="https://sync.example.org/privacy">Privacy policy</a>');
      expect(html).not.toContain("2010 Mozilla");
      expect(html).not.toContain("mozilla.org");
    }
  });

  it("without operator settings the footer says only that Mozilla does not run it", async () => {
    const { html } = await new FormClient().get("/weave-password-reset");
    expect(html).toContain("This is a self-hosted Firefox Sync server; it is not run by Mozilla.");
    expect(html).not.toContain("Privacy policy");
    expect(html).not.toContain("Contact:");
  });

  it("the setup page has the same layout and footer (a URL contact is a plain link)", async () => {
    const vars = { ...OPERATOR, OPERATOR_CONTACT: "https://sync.example.org/contact" };
    const res = await fetchWith(vars, "/");
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Security-Policy")).toContain("style-src 'nonce-");
    expect(html).toContain('<footer id="footer">');
    expect(html).toContain('<header id="header"><img src="/media/weave-logo.png"');
    expect(html).toContain('Contact: <a href="https://sync.example.org/contact">https://sync.example.org/contact</a>');
    expect(html).toContain('<a href="https://sync.example.org/privacy">Privacy policy</a>');
  });

  it("the reset, delete-account and setup pages link to the user's own export (/weave-export)", async () => {
    for (const path of ["/weave-password-reset", "/weave-delete-account"]) {
      const { html } = await new FormClient(OPERATOR).get(path);
      expect(html).toMatch(/<a href="\/weave-export">download (all )?your data<\/a>/);
    }
    const setup = await (await fetchWith(OPERATOR, "/")).text();
    expect(setup).toContain('<a href="/weave-export">download their own data</a>');
  });

  it("an operator contact that is neither an e-mail address nor an http(s) URL is a configuration error naming it", async () => {
    const res = await fetchWith({ OPERATOR_CONTACT: "javascript:alert(1)" }, "/weave-password-reset");
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).toContain("OPERATOR_CONTACT");
    expect(body).not.toContain("javascript:");
  });
});
