/**
 * Throttling over HTTP: Basic logins, reset codes, reset e-mails and the
 * delete page answer 503 + Retry-After while locked (U10-2's "come
 * back later"), per (account, address) first.
 */
import { describe, expect, it } from "vitest";
import { basic, DEV, fetchWith, FormClient, newAccount, resetCodeFor, type TestAccount } from "../helpers/recovery";

const from = (ip: string) => ({ "CF-Connecting-IP": ip });

async function login(a: TestAccount, password: string, ip: string, vars = DEV): Promise<Response> {
  return fetchWith(vars, `/1.1/${a.username}/info/collections`, { headers: { Authorization: basic(a.username, password), ...from(ip) } });
}

describe("throttling of failed logins (HTTP Basic)", () => {
  it("THR-HTTP-1 after 5 failures from one address: 503 with Retry-After, even for the right password", async () => {
    const a = await newAccount();
    for (let i = 0; i < 5; i++) expect((await login(a, "wrong password", "198.51.100.7")).status).toBe(401);
    const sixth = await login(a, "wrong password", "198.51.100.7");
    expect(sixth.status).toBe(401); // this one was checked, and starts the lock
    const locked = await login(a, a.password, "198.51.100.7");
    expect(locked.status).toBe(503);
    expect(Number(locked.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect(await locked.text()).toMatch(/^503 Service Unavailable/);
  });

  it("THR-HTTP-2 the owner on another address is not locked out", async () => {
    const a = await newAccount();
    for (let i = 0; i < 12; i++) await login(a, "wrong password", "203.0.113.66");
    expect((await login(a, a.password, "203.0.113.66")).status).toBe(503);
    expect((await login(a, a.password, "192.0.2.10")).status).toBe(200);
  });

  it("THR-HTTP-3 IPv6 clients are counted per /64", async () => {
    const a = await newAccount();
    for (let i = 0; i < 7; i++) await login(a, "wrong password", `2001:db8:1:2::${i + 1}`);
    expect((await login(a, a.password, "2001:db8:1:2:ffff::9")).status).toBe(503);
    expect((await login(a, a.password, "2001:db8:1:3::1")).status).toBe(200);
  });

  it("THR-HTTP-4 THROTTLE=false switches it off", async () => {
    const a = await newAccount();
    const off = { ...DEV, THROTTLE: "false" };
    for (let i = 0; i < 10; i++) await login(a, "wrong password", "198.51.100.99", off);
    expect((await login(a, a.password, "198.51.100.99", off)).status).toBe(200);
  });

  it("THR-HTTP-5 invalid reset codes count as failed logins", async () => {
    const a = await newAccount();
    await resetCodeFor(a);
    const ip = from("198.51.100.20");
    for (let i = 0; i < 6; i++) {
      const r = await fetchWith(DEV, `/user/1.0/${a.username}/password`, {
        method: "POST",
        body: "a new password",
        headers: { "X-Weave-Password-Reset": "AAAA-BBBB-CCCC-DDDD", ...ip },
      });
      expect(await r.text()).toBe("10");
    }
    const r = await fetchWith(DEV, `/user/1.0/${a.username}/password`, {
      method: "POST",
      body: "a new password",
      headers: { "X-Weave-Password-Reset": "AAAA-BBBB-CCCC-DDDD", ...ip },
    });
    expect(r.status).toBe(503);
    expect(r.headers.get("Retry-After")).not.toBeNull();
  });

  it("THR-HTTP-6 the delete page's credential check is throttled too", async () => {
    const a = await newAccount();
    const f = new FormClient(DEV, from("198.51.100.30"));
    for (let i = 0; i < 6; i++) {
      expect((await f.post("/weave-delete-account", { username: a.username, password: "wrong password" })).body).toBe("Bad credentials");
    }
    const locked = await f.post("/weave-delete-account", { username: a.username, password: a.password });
    expect(locked.res.status).toBe(503);
    expect(locked.res.headers.get("Retry-After")).not.toBeNull();
    expect((await login(a, a.password, "192.0.2.11")).status).toBe(200);
  });
});

describe("throttling of reset e-mails", () => {
  it("THR-HTTP-7 3 requests per (account, address), then 503 + Retry-After; other addresses still served", async () => {
    const a = await newAccount();
    const req = (ip: string) => fetchWith(DEV, `/user/1.0/${a.username}/password_reset`, { headers: from(ip) });
    for (let i = 0; i < 4; i++) expect((await req("198.51.100.40")).status).toBe(200);
    const locked = await req("198.51.100.40");
    expect(locked.status).toBe(503);
    expect(locked.headers.get("Retry-After")).not.toBeNull();
    expect((await req("192.0.2.40")).status).toBe(200);
  });

  it("THR-HTTP-8 the throttle answers the same for unknown accounts (no existence oracle)", async () => {
    const req = () =>
      fetchWith(DEV, `/user/1.0/doesnotexistxxxxxxxxxxxxxxxxxxxx/password_reset`, { headers: from("198.51.100.50") });
    for (let i = 0; i < 4; i++) expect(await (await req()).text()).toBe("3");
    expect((await req()).status).toBe(503);
  });
});
