/**
 * CORS headers on ordinary (non-preflight) answers of Storage 1.5 and the
 * service endpoints (S15-12.9): the origin echoed when the request names one,
 * the Sync headers exposed and `Vary: Origin` on every answer, success or
 * error, whichever layer produced it (handler, Hawk's 401, routing's 404 and
 * 405). Locks the headers while the middleware that adds them changes.
 */
import { describe, expect, it } from "vitest";
import { Client15, raw, type Reply } from "../helpers/sync15";

const EXPOSED =
  "Authorization,Content-Type,User-Agent,X-Last-Modified,X-Weave-Timestamp,X-Weave-Next-Offset,X-Weave-Records,X-Weave-Bytes,X-Weave-Total-Records,X-Weave-Total-Bytes,X-Verify-Code,TEST_IDLES";

function expectCors(r: Reply, origin: string | null): void {
  expect(r.headers.get("Access-Control-Allow-Origin")).toBe(origin);
  expect(r.headers.get("Access-Control-Expose-Headers")).toBe(EXPOSED);
  expect(r.headers.get("Vary")).toBe("Origin");
  expect(r.headers.get("Access-Control-Max-Age")).toBeNull();
  expect(r.headers.get("Access-Control-Allow-Methods")).toBeNull();
}

describe("CORS on non-preflight answers (S15-12.9)", () => {
  it("success, with and without Origin", async () => {
    const c = await Client15.create();
    const put = await c.call("PUT", "/storage/col/a", { body: { payload: "x" }, headers: { Origin: "https://app.example" } });
    expect(put.status).toBe(200);
    expectCors(put, "https://app.example");
    const get = await c.get("/storage/col/a");
    expect(get.status).toBe(200);
    expectCors(get, null);
    const info = await c.get("/info/collections", { headers: { Origin: "moz-extension://x" } });
    expect(info.status).toBe(200);
    expectCors(info, "moz-extension://x");
    expect(info.headers.get("Content-Type")).toBe("application/json");
  });

  it("errors: 401 (Hawk), 404, 405, 400 from a handler, 304", async () => {
    const c = await Client15.create();
    const h = { Origin: "https://app.example" };
    const unauth = await raw("GET", `/1.5/${c.uid}/info/collections`, { headers: h });
    expect(unauth.status).toBe(401);
    expectCors(unauth, "https://app.example");
    const missing = await c.get("/nope", { headers: h });
    expect(missing.status).toBe(404);
    expectCors(missing, "https://app.example");
    const method = await c.call("PATCH", "/storage/col", { headers: h });
    expect(method.status).toBe(405);
    expectCors(method, "https://app.example");
    const bad = await c.get("/storage/col?newer=nope", { headers: h });
    expect(bad.status).toBe(400);
    expectCors(bad, "https://app.example");
    const w = await c.call("PUT", "/storage/col/b", { body: { payload: "y" } });
    const notModified = await c.get("/storage/col/b", { headers: { ...h, "X-If-Modified-Since": String(w.headers.get("X-Weave-Timestamp")) } });
    expect(notModified.status).toBe(304);
    expectCors(notModified, "https://app.example");
  });

  it("service endpoints", async () => {
    const lb = await raw("GET", "/__lbheartbeat__", { headers: { Origin: "https://app.example" } });
    expect(lb.status).toBe(200);
    expectCors(lb, "https://app.example");
  });
});
