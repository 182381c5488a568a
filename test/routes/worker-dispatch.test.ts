/**
 * The Worker's one dispatch (src/index.ts): 1.x API paths go straight to the
 * 1.x app, everything else to the main app, which hands what it does not
 * answer on to the 1.x app. Either way a request gets one request-log line
 * (one X-Request-Id) and the 1.x answers it would have had before.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker, { isLegacyPath } from "../../src/index";
import { logSink } from "../../src/log";

const ORIGIN = "http://sync.test";

describe("isLegacyPath", () => {
  it.each([
    ["GET", "/1.1/alice/info/collections", true],
    ["GET", "/1/alice/storage/bookmarks", true],
    ["PUT", "/user/1.0/alice", true],
    ["GET", "/user/1/alice/node/weave", true],
    // GET /1.0/<app>/<version> is the tokenserver's, unless <version> is storage or info (S11 paths)
    ["GET", "/1.0/sync/1.5", false],
    ["HEAD", "/1.0/sync/1.5", false],
    ["GET", "/1.0/alice/storage", true],
    ["GET", "/1.0/alice/info", true],
    ["GET", "/1.0/alice/storage/bookmarks", true],
    ["POST", "/1.0/sync/1.5", true],
    // the main app's own paths, and 1.x pages it hands on
    ["GET", "/1.5/12/info/collections", false],
    ["GET", "/", false],
    ["GET", "/__heartbeat__", false],
    ["GET", "/weave-password-reset", false],
    ["GET", "/1.1", false],
    // percent-encoding in the first segment: the main app decides first
    ["GET", "/1%2E1/alice/info/collections", false],
  ] as const)("%s %s → %s", (method, path, legacy) => {
    expect(isLegacyPath(new Request(`${ORIGIN}${path}`, { method }))).toBe(legacy);
  });
});

describe("one request line, one X-Request-Id, on both ways into the 1.x app", () => {
  let lines: string[] = [];
  beforeEach(() => {
    lines = [];
    vi.spyOn(logSink, "write").mockImplementation((_level, line) => {
      lines.push(line);
    });
  });
  afterEach(() => vi.restoreAllMocks());

  async function get(path: string): Promise<Response> {
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(`${ORIGIN}${path}`), { ...env, LOG_LEVEL: "info" } as unknown as Env, ctx);
    await res.arrayBuffer();
    await waitOnExecutionContext(ctx);
    return res;
  }
  const requestLines = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "request");

  it("S11-3: a 1.x API path no route matches: 404 with X-Weave-Timestamp, straight from the 1.x app", async () => {
    const res = await get("/1.1/alice/nothing/here");
    expect(res.status).toBe(404);
    expect(res.headers.get("X-Weave-Timestamp")).toMatch(/^\d+\.\d{2}$/);
    expect(requestLines()).toMatchObject([{ status: 404, route: null, request_id: res.headers.get("X-Request-Id") }]);
  });

  it("a 1.x route behind the main app (the heartbeat without a JSON Accept): its own route in the one line", async () => {
    const res = await get("/__heartbeat__");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/plain; charset=UTF-8");
    expect(res.headers.get("X-Weave-Timestamp")).toMatch(/^\d+\.\d{2}$/);
    expect(requestLines()).toMatchObject([{ status: 200, route: "/__heartbeat__", request_id: res.headers.get("X-Request-Id") }]);
  });

  it("an unknown path outside the 1.x API: the 1.x 404 through the main app, one line", async () => {
    const res = await get("/no/such/thing");
    expect(res.status).toBe(404);
    expect(res.headers.get("X-Weave-Timestamp")).toMatch(/^\d+\.\d{2}$/);
    expect(requestLines()).toMatchObject([{ status: 404, route: null, request_id: res.headers.get("X-Request-Id") }]);
  });
});
