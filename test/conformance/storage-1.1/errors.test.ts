/** S11-14: error statuses, Weave codes, WebOb text/HTML bodies, 500/503 bodies. */
import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config";
import { HttpError } from "../../../src/protocol/errors";
import { legacyApp, type LegacyRoute } from "../../../src/routes/pipeline-1x";
import { StorageUnavailable } from "../../../src/storage/stub";
import { call, expectError, expectWeave, HTML, html, ORIGIN, PLAIN, plain, register } from "./_helpers";

async function viaRoute(handler: LegacyRoute["handler"], headers: Record<string, string> = {}, vars: Record<string, string> = {}) {
  const routes: LegacyRoute[] = [{ method: "GET", path: "/boom", auth: "none", handler }];
  const e = { ...env, ...vars } as unknown as Record<string, unknown>;
  const app = legacyApp(routes, { config: () => parseConfig(e) });
  const res = await app.fetch(new Request(`${ORIGIN}/boom`, { headers }), e as unknown as Env, createExecutionContext());
  return { res, text: await res.text() };
}

describe("errors", () => {
  it("S11-14.3: HTML variant iff Accept contains 'html' or '*/*'; otherwise plain", async () => {
    const a = await register("err");
    for (const [accept, isHtml] of [
      ["text/html", true],
      ["application/xhtml+xml", true],
      ["*/*", true],
      ["application/json, */*;q=0.1", true],
      ["application/json", false],
      ["text/*", false],
      ["", false],
    ] as const) {
      const r = await call(a, "GET", "/storage/c/missing", { headers: accept ? { Accept: accept } : {} });
      if (isHtml) expectError(r, 404, HTML, html(404));
      else expectError(r, 404, PLAIN, plain(404));
    }
  });

  it("S11-14.3: 400 for a bad query parameter, HTML form with the detail HTML-escaped", async () => {
    const a = await register("err-html");
    const r = await call(a, "GET", "/storage/c?older=x", { headers: { Accept: "text/html" } });
    expectError(r, 400, HTML, html(400, "Invalid value for &quot;older&quot;"));
  });

  it("S11-14.3: HEAD requests get headers and an empty body (routing 404 too)", async () => {
    const r = await call(null, "HEAD", "/nowhere");
    expect([r.status, r.text, r.headers.get("Content-Type")]).toEqual([404, "", PLAIN]);
  });

  it("S11-14.2: Weave-code responses are 400, application/json, bare integer, no X-Weave-Timestamp", async () => {
    const a = await register("err-codes");
    expectWeave(await call(a, "PUT", "/storage/c/1", { raw: "{" }), 6);
    expectWeave(await call(a, "PUT", "/storage/c/1", { raw: "[]" }), 8);
    expectWeave(await call(a, "DELETE", "/storage"), 4);
  });

  it("S11-14.1: no 404 for empty collections on GET/DELETE; never 201/204", async () => {
    const a = await register("err-empty");
    expect((await call(a, "GET", "/storage/empty")).status).toBe(200);
    expect((await call(a, "DELETE", "/storage/empty")).status).toBe(200);
    expect((await call(a, "PUT", "/storage/empty/1", { body: { payload: "x" } })).status).toBe(200);
  });

  it("S11-14.4: an uncaught exception → 500, content-type application/json, body \"application error: crash id <32 hex>\", no X-Weave-Timestamp", async () => {
    const { res, text } = await viaRoute(() => {
      throw new Error("kaboom");
    });
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(text).toMatch(/^"application error: crash id [0-9a-f]{32}"$/);
    expect(res.headers.get("X-Weave-Timestamp")).toBeNull();
  });

  it("S11-14.4: a storage backend failure → 503, Retry-After (configurable), crash id JSON-encoded twice", async () => {
    const fail = () => {
      throw new StorageUnavailable(new Error("db gone"));
    };
    const d = await viaRoute(fail);
    expect(d.res.status).toBe(503);
    expect(d.res.headers.get("Content-Type")).toBe("application/json");
    expect(d.res.headers.get("Retry-After")).toBe("10");
    expect(d.text).toMatch(/^"\\"application error: crash id [0-9a-f]{32}\\""$/);
    const c = await viaRoute(fail, {}, { RETRY_AFTER: "60" });
    expect(c.res.headers.get("Retry-After")).toBe("60");
  });

  it("S11-14.3: 503 raised as a WebOb error uses the 503 explanation", async () => {
    const { res, text } = await viaRoute(() => {
      throw new HttpError(503);
    });
    expect(res.status).toBe(503);
    expect(text).toBe("503 Service Unavailable\n\nThe server is currently unavailable. Please try again at a later time.\n\n   ");
  });

  it("S11-13: X-Weave-Alert is never sent", async () => {
    const a = await register("err-alert");
    for (const r of [await call(a, "GET", "/info/collections"), await call(a, "GET", "/storage/c/x"), await call(a, "DELETE", "/storage")]) {
      expect(r.headers.get("X-Weave-Alert")).toBeNull();
    }
  });
});
