/**
 * Captcha (U10-7.2 step 7, U10-7.9, U10-10), the mail transports (U10-9.1) and
 * the recovery settings' validation.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config";
import { SITEVERIFY_URL, turnstileVerifier } from "../../src/recovery/captcha";
import { cloudflareMailer, httpMailer, MailError, resetMailText, toMime } from "../../src/recovery/mail";
import { clientUsername } from "../../src/lib/usernames";
import { CAPTCHA_FAIL, CAPTCHA_PASS, DEV, fetchWith } from "../helpers/recovery";

async function putUser(vars: Record<string, string>, extra: Record<string, unknown>, headers: Record<string, string> = {}) {
  const email = `cap.${crypto.randomUUID()}@example.com`;
  const username = await clientUsername(email);
  const res = await fetchWith(vars, `/user/1.0/${username}`, {
    method: "PUT",
    body: JSON.stringify({ email, password: "long enough password", ...extra }),
    headers,
  });
  return { res, username };
}

describe("U10-10 captcha_html", () => {
  it("U10-10 no captcha configured → 404 'No captcha configured' (GET and POST)", async () => {
    for (const method of ["GET", "POST"]) {
      const res = await fetchWith({}, "/misc/1.0/captcha_html", { method });
      expect(res.status).toBe(404);
      expect(await res.text()).toContain("No captcha configured");
    }
  });

  it("U10-10 configured → 200 text/html fragment with the Turnstile widget posting to captcha_html", async () => {
    const res = await fetchWith(CAPTCHA_PASS, "/misc/1.0/captcha_html?x=1");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/html; charset=UTF-8");
    const html = await res.text();
    expect(html).toMatch(/^<body>/);
    expect(html).toContain('<form action="/misc/1.0/captcha_html" method="post">');
    expect(html).toContain('data-sitekey="1x00000000000000000000AA"');
    expect(html).toContain('data-response-field-name="captcha-response"');
  });
});

describe("U10-7.9 captcha on account creation (U10-7.2 step 7)", () => {
  it("U10-7.9 off → passes without any captcha field", async () => {
    expect((await putUser({}, {})).res.status).toBe(200);
  });

  it("U10-7.9 on: missing or rejected token → 2; accepted → created", async () => {
    expect(await (await putUser(CAPTCHA_PASS, {})).res.text()).toBe("2");
    expect(await (await putUser(CAPTCHA_FAIL, { "captcha-response": "XXXX.DUMMY.TOKEN.XXXX" })).res.text()).toBe("2");
    const ok = await putUser(CAPTCHA_PASS, { "captcha-challenge": "ignored", "captcha-response": "XXXX.DUMMY.TOKEN.XXXX" });
    expect(ok.res.status).toBe(200);
    expect(await ok.res.text()).toBe(ok.username);
  });

  it("U10-7.2 a matching X-Weave-Secret skips the captcha; a wrong one does not", async () => {
    const vars = { ...CAPTCHA_FAIL, SHARED_SECRET: "s3cret" };
    expect((await putUser(vars, {}, { "X-Weave-Secret": "s3cret" })).res.status).toBe(200);
    expect(await (await putUser(vars, {}, { "X-Weave-Secret": "nope" })).res.text()).toBe("2");
  });

  it("U10-7.2 the captcha comes after the password checks (weak password → 9 first)", async () => {
    const email = `cap.${crypto.randomUUID()}@example.com`;
    const res = await fetchWith(CAPTCHA_PASS, `/user/1.0/${await clientUsername(email)}`, {
      method: "PUT",
      body: JSON.stringify({ email, password: "short" }),
    });
    expect(await res.text()).toBe("9");
  });
});

describe("Turnstile siteverify verifier", () => {
  it("posts secret, response and remoteip to siteverify and trusts only success: true", async () => {
    const seen: { url: string; form: FormData }[] = [];
    const fake = (answer: unknown, status = 200) =>
      (async (url: RequestInfo | URL, init?: RequestInit) => {
        seen.push({ url: String(url), form: init?.body as FormData });
        return new Response(JSON.stringify(answer), { status });
      }) as typeof fetch;
    expect(await turnstileVerifier("real-secret", fake({ success: true })).verify("tok", "192.0.2.1")).toBe(true);
    expect(seen[0]?.url).toBe(SITEVERIFY_URL);
    expect(seen[0]?.form.get("secret")).toBe("real-secret");
    expect(seen[0]?.form.get("response")).toBe("tok");
    expect(seen[0]?.form.get("remoteip")).toBe("192.0.2.1");
    expect(await turnstileVerifier("real-secret", fake({ success: false })).verify("tok", null)).toBe(false);
    expect(await turnstileVerifier("real-secret", fake({ success: "true" })).verify("tok", null)).toBe(false);
    expect(await turnstileVerifier("real-secret", fake({}, 500)).verify("tok", null)).toBe(false);
    const failing = (async () => {
      throw new Error("network down");
    }) as unknown as typeof fetch;
    expect(await turnstileVerifier("real-secret", failing).verify("tok", null)).toBe(false);
    expect(await turnstileVerifier("real-secret", fake({ success: true })).verify("", null)).toBe(false);
    expect(await turnstileVerifier("real-secret", fake({ success: true })).verify("x".repeat(2049), null)).toBe(false);
  });

  it("answers Turnstile's published test secrets offline", async () => {
    const never = (async () => {
      throw new Error("must not be called");
    }) as unknown as typeof fetch;
    expect(await turnstileVerifier("1x0000000000000000000000000000000AA", never).verify("XXXX.DUMMY.TOKEN.XXXX", null)).toBe(true);
    expect(await turnstileVerifier("2x0000000000000000000000000000000AA", never).verify("XXXX.DUMMY.TOKEN.XXXX", null)).toBe(false);
    expect(await turnstileVerifier("3x0000000000000000000000000000000AA", never).verify("XXXX.DUMMY.TOKEN.XXXX", null)).toBe(false);
  });
});

describe("U10-9.1 mail", () => {
  it("U10-9.1 the body: one line, empty line, four spaces + link, then the reassurance and sign-off", () => {
    const lines = resetMailText("https://sync.example.org/", "abc", "ABCD-1234-EFGH-5678").split("\n");
    expect(lines[1]).toBe("");
    expect(lines[2]).toBe("    https://sync.example.org/weave-password-reset?username=abc&key=ABCD-1234-EFGH-5678");
    expect(lines[3]).toBe("");
    expect(lines[4]).toBe("");
    expect(lines.join("\n")).toContain("The Weave Team");
  });

  it("U10-9.1 MIME: text/plain utf-8, base64 body, subject; header injection refused", () => {
    const mime = toMime({ from: "a@example.org", to: "b@example.org", subject: "Resetting your Services password", text: "héllo\n" });
    expect(mime).toContain('Content-Type: text/plain; charset="utf-8"\r\n');
    expect(mime).toContain("Content-Transfer-Encoding: base64\r\n");
    expect(mime).toContain("Subject: Resetting your Services password\r\n");
    const body = mime.split("\r\n\r\n")[1] as string;
    expect(new TextDecoder().decode(Uint8Array.from(atob(body.trim()), (ch) => ch.charCodeAt(0)))).toBe("héllo\n");
    expect(() => toMime({ from: "a@example.org", to: "b@example.org\r\nBcc: x@evil", subject: "s", text: "t" })).toThrow(MailError);
  });

  it("cloudflare transport: hands the send_email binding a raw MIME message; a refusal is a MailError", async () => {
    const sent: EmailMessage[] = [];
    const binding = { send: async (m: EmailMessage) => (sent.push(m), { messageId: "x" }) } as unknown as SendEmail;
    await cloudflareMailer(binding).send({ from: "a@example.org", to: "b@example.org", subject: "s", text: "t" });
    expect(sent).toHaveLength(1);
    expect(sent[0]?.from).toBe("a@example.org");
    expect(sent[0]?.to).toBe("b@example.org");
    const refusing = { send: async () => Promise.reject(new Error("destination address not verified")) } as unknown as SendEmail;
    await expect(cloudflareMailer(refusing).send({ from: "a@example.org", to: "b@example.org", subject: "s", text: "t" })).rejects.toBeInstanceOf(
      MailError,
    );
  });

  it("http transport: POSTs JSON with a Bearer key; a refusal is a MailError that reveals neither key nor response", async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const ok = (async (url: RequestInfo | URL, init?: RequestInit) => {
      calls.push({ url: String(url), init: init as RequestInit });
      return new Response("{}", { status: 202 });
    }) as typeof fetch;
    const msg = { from: "a@example.org", to: "b@example.org", subject: "s", text: "t" };
    await httpMailer("https://mail.example/send", "KEY123", ok).send(msg);
    expect(calls[0]?.url).toBe("https://mail.example/send");
    expect((calls[0]?.init.headers as Record<string, string>).Authorization).toBe("Bearer KEY123");
    expect(JSON.parse(calls[0]?.init.body as string)).toEqual(msg);
    const refuse = (async () => new Response("invalid key KEY123", { status: 401 })) as unknown as typeof fetch;
    const err = await httpMailer("https://mail.example/send", "KEY123", refuse).send(msg).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailError);
    expect(String((err as Error).message)).not.toContain("KEY123");
  });
});

describe("recovery settings", () => {
  const bad = (vars: Record<string, string>, setting: string) => {
    let e: unknown;
    try {
      parseConfig(vars);
    } catch (err) {
      e = err;
    }
    expect(e, setting).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).setting).toBe(setting);
  };

  it("defaults: no e-mail, 6 h codes, no captcha, throttle on, no dev mode", () => {
    const c = parseConfig({});
    expect(c.recovery).toEqual({ mail: { transport: "none" }, resetCodeTtl: 21600, captcha: null, devMode: false });
    expect(c.throttle).toEqual({ enabled: true, failuresPerClient: 5, failuresPerAccount: 50, failuresPerAddress: 100, maxLockout: 900 });
  });

  it("invalid values name the setting", () => {
    bad({ MAIL_TRANSPORT: "smtp" }, "MAIL_TRANSPORT");
    bad({ MAIL_TRANSPORT: "http" }, "MAIL_FROM");
    bad({ MAIL_TRANSPORT: "http", MAIL_FROM: "not an address" }, "MAIL_FROM");
    bad({ MAIL_TRANSPORT: "http", MAIL_FROM: "a@b.example" }, "MAIL_API_URL");
    bad({ MAIL_TRANSPORT: "http", MAIL_FROM: "a@b.example", MAIL_API_URL: "http://mail.example" }, "MAIL_API_URL");
    bad({ MAIL_TRANSPORT: "http", MAIL_FROM: "a@b.example", MAIL_API_URL: "https://mail.example" }, "MAIL_API_KEY");
    bad({ MAIL_TRANSPORT: "cloudflare", MAIL_FROM: "a@b.example" }, "SEND_EMAIL");
    bad({ MAIL_TRANSPORT: "outbox", MAIL_FROM: "a@b.example" }, "MAIL_TRANSPORT");
    bad({ TURNSTILE_SITE_KEY: "x" }, "TURNSTILE_SECRET_KEY");
    bad({ TURNSTILE_SECRET_KEY: "x" }, "TURNSTILE_SITE_KEY");
    bad({ RESET_CODE_TTL: "10" }, "RESET_CODE_TTL");
    bad({ THROTTLE: "maybe" }, "THROTTLE");
    bad({ THROTTLE_FAILURES_PER_CLIENT: "10", THROTTLE_FAILURES_PER_ACCOUNT: "10" }, "THROTTLE_FAILURES_PER_ACCOUNT");
  });

  it("the mail API key never appears in a configuration error", () => {
    try {
      parseConfig({ MAIL_TRANSPORT: "http", MAIL_FROM: "a@b.example", MAIL_API_URL: "not a url KEY999", MAIL_API_KEY: "KEY999" });
    } catch (err) {
      expect(String((err as Error).message)).not.toContain("KEY999");
    }
  });

  it("a valid http and cloudflare setup parses", () => {
    const http = parseConfig({ MAIL_TRANSPORT: "http", MAIL_FROM: "a@b.example", MAIL_API_URL: "https://m.example/send", MAIL_API_KEY: "k" });
    expect(http.recovery.mail).toEqual({ transport: "http", from: "a@b.example", apiUrl: "https://m.example/send", apiKey: "k" });
    const cf = parseConfig({ MAIL_TRANSPORT: "cloudflare", MAIL_FROM: "a@b.example", SEND_EMAIL: { send: async () => ({}) } as unknown as string });
    expect(cf.recovery.mail.transport).toBe("cloudflare");
    expect(parseConfig(DEV).recovery.devMode).toBe(true);
  });
});
