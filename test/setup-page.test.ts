import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import app from "../src/index";

const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;

describe("setup page (issue 3 item 4)", () => {
  it("GET / shows the tokenserver URL for every Firefox and the 1.1 details", async () => {
    const res = await SELF.fetch("http://sync.example.test/");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain("identity.sync.tokenserver.uri");
    expect(html.match(/http:\/\/sync\.example\.test\/1\.0\/sync\/1\.5/g)?.length).toBe(3);
    expect(html).toContain("Sync 1.1");
    expect(html).toContain("PUBLIC_URL is not set");
  });

  it("uses PUBLIC_URL, reports registration state, never shows secrets", async () => {
    const res = await app.fetch(
      new Request("http://internal/"),
      { ...env, PUBLIC_URL: "https://sync.example.com", REGISTRATION: "closed", ALLOW_NEW_SYNC_USERS: "false", SYNC_MASTER_SECRET: "s3cret-value" },
      ctx,
    );
    const html = await res.text();
    expect(html).toContain("https://sync.example.com/1.0/sync/1.5");
    expect(html).not.toContain("http://internal");
    expect(html).toContain("closed: no new accounts");
    expect(html).toContain("ALLOW_NEW_SYNC_USERS = false");
    expect(html).not.toContain("s3cret-value");
    expect(html).not.toContain("Sync 1.5 is not ready");
  });

  it("says when SYNC_MASTER_SECRET is missing", async () => {
    const res = await app.fetch(new Request("http://internal/"), { ...env, SYNC_MASTER_SECRET: undefined } as unknown as Env, ctx);
    expect(await res.text()).toContain("Sync 1.5 is not ready");
  });
});
