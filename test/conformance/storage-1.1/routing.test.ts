/** S11-2 (pipeline), S11-3 (routing table), S11-3.3 (unknown parameters). */
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, expectError, expectOk, HTML, ORIGIN, PLAIN, plain, register, TS_RE, type Account } from "./_helpers";

const p405 = (m: string) => `405 Method Not Allowed\n\nThe method ${m} is not allowed for this resource. \n\n `;
const h405 = (m: string) =>
  `<html>\n <head>\n  <title>405 Method Not Allowed</title>\n </head>\n <body>\n  <h1>405 Method Not Allowed</h1>\n  The method ${m} is not allowed for this resource. <br /><br />\n\n </body>\n</html>`;

async function raw(method: string, path: string, headers: Record<string, string> = {}) {
  const res = await SELF.fetch(`${ORIGIN}${path}`, { method, headers });
  return { res, text: await res.text() };
}

describe("routing", () => {
  let a: Account;
  beforeAll(async () => {
    a = await register("routing");
    await call(a, "PUT", "/storage/col/item", { body: { payload: "p" } });
  });

  it("S11-2 step 7: unknown path → 404 before authentication, with X-Weave-Timestamp", async () => {
    for (const path of ["/nothing", "/1.1/someone/info", "/1.1/someone/info/unknown", "/1.1/someone", "/2.0/u/info/collections"]) {
      const { res, text } = await raw("GET", path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get("Content-Type")).toBe(PLAIN);
      expect(text).toBe(plain(404));
      expect(res.headers.get("X-Weave-Timestamp")).toMatch(TS_RE);
    }
  });

  it("S11-2 step 7: path matches, method does not → 405 before authentication, with X-Weave-Timestamp, no Allow", async () => {
    const { res, text } = await raw("GET", "/1.1/anyone/storage");
    expect(res.status).toBe(405);
    expect(res.headers.get("Content-Type")).toBe(PLAIN);
    expect(text).toBe(p405("GET"));
    expect(res.headers.get("Allow")).toBeNull();
    expect(res.headers.get("X-Weave-Timestamp")).toMatch(TS_RE);
  });

  it("S11-14.3: 405 HTML variant when Accept is */*", async () => {
    const { res, text } = await raw("POST", "/1.1/anyone/info/collections", { Accept: "*/*" });
    expect(res.status).toBe(405);
    expect(res.headers.get("Content-Type")).toBe(HTML);
    expect(text).toBe(h405("POST"));
  });

  it("S11-3.2: PUT/GET/POST /storage and PUT /storage/ → 405 (only DELETE routes there)", async () => {
    for (const [m, path] of [
      ["PUT", "/storage"],
      ["PUT", "/storage/"],
      ["GET", "/storage"],
      ["POST", "/storage"],
    ] as const) {
      const r = await call(a, m, path);
      expect(r.status, `${m} ${path}`).toBe(405);
      expect(r.text).toBe(p405(m));
    }
  });

  it("S11-3.2: HEAD on a GET route → 405 with an empty body; OPTIONS/PATCH → 405", async () => {
    const head = await call(a, "HEAD", "/info/collections");
    expect(head.status).toBe(405);
    expect(head.text).toBe("");
    expect(head.headers.get("X-Weave-Timestamp")).toMatch(TS_RE);
    for (const m of ["OPTIONS", "PATCH"]) {
      const r = await call(a, m, "/storage/col");
      expect(r.status).toBe(405);
      expect(r.text).toBe(p405(m));
    }
  });

  it("S11-2 step 4: trailing slashes are stripped (/storage/col/ ≡ /storage/col, also several)", async () => {
    const r1 = await call(a, "GET", "/storage/col/");
    const r2 = await call(a, "GET", "/storage/col///");
    const r3 = await call(a, "GET", "/storage/col/item/");
    expect([r1.status, r1.text, r2.text]).toEqual([200, '["item"]', '["item"]']);
    expect(r3.status).toBe(200);
    expect((r3.json as { id: string }).id).toBe("item");
  });

  it("S11-3.1: API versions 1.0, 1 and 1.1 behave identically", async () => {
    for (const v of ["1.0", "1", "1.1"]) {
      const r = await call(a, "GET", "/storage/col", { version: v });
      expect(r.text, v).toBe('["item"]');
    }
    const bad = await call(a, "GET", "/storage/col", { version: "1.2" });
    expect(bad.status).toBe(404);
  });

  it("S11-3.1: URL ids are matched on the decoded path: %3F %23 %5C ~ allowed; %2F, space, {, +, :, non-ASCII → 404", async () => {
    const ok = await call(a, "PUT", "/storage/col/a%3Fb%23c%5Cd~e.f_g-h", { body: { payload: "x" } });
    expectOk(ok);
    const list = await call(a, "GET", "/storage/col?ids=a%3Fb%23c%5Cd~e.f_g-h");
    expect(list.text).toBe('["a?b#c\\\\d~e.f_g-h"]');
    for (const id of ["a%2Fb", "a%20b", "%7Bguid%7D", "a+b", "a:b", "a@b", "a=b", "a,b", "%C3%A9"]) {
      const r = await call(a, "GET", `/storage/col/${id}`);
      expect(r.status, id).toBe(404);
      expect(r.headers.get("X-Weave-Timestamp"), id).toMatch(TS_RE); // routing 404, not the handler's
    }
  });

  it("S11-3.1: a {guid} id created by POST is listable and deletable via ?ids= but its URL does not route", async () => {
    const b = await register("guid");
    const post = await call(b, "POST", "/storage/c", { body: [{ id: "{abc}", payload: "x" }] });
    expect(post.json).toMatchObject({ success: ["{abc}"], failed: {} });
    expect((await call(b, "GET", "/storage/c?ids=%7Babc%7D")).text).toBe('["{abc}"]');
    expect((await call(b, "GET", "/storage/c/%7Babc%7D")).status).toBe(404);
    expect((await call(b, "DELETE", "/storage/c/%7Babc%7D")).status).toBe(404);
    expectOk(await call(b, "DELETE", "/storage/c?ids=%7Babc%7D"));
    expect((await call(b, "GET", "/storage/c")).text).toBe("[]");
  });

  it("S11-2 step 4: a path that cannot be percent-decoded (bad UTF-8 / bad escape) does not route → 404", async () => {
    for (const id of ["%E0%A4%A", "%FF", "%C3"]) {
      const r = await call(a, "GET", `/storage/col/${id}`);
      expect(r.status, id).toBe(404);
    }
  });

  it("U10-1 to U10-2: the User API shares the pipeline: 404/405 before auth with X-Weave-Timestamp, /user/1.1 does not exist", async () => {
    const u = await call(null, "GET", `/user/1.1/${a.username}`);
    expect(u.status).toBe(404);
    expect(u.headers.get("X-Weave-Timestamp")).toMatch(TS_RE);
    const m = await call(null, "POST", `/user/1.0/${a.username}/password_reset`);
    expect(m.status).toBe(405);
    expect(m.text).toBe(p405("POST"));
    const ok = await call(null, "GET", `/user/1.0/${a.username}/?x=1&request=2`); // unknown parameters ignored (U10-2)
    expect([ok.status, ok.text]).toEqual([200, "1"]);
    const node = await call(null, "GET", `/user/1/${a.username}/node/weave?x=1`);
    expect(node.status).toBe(200);
    expect(node.text.endsWith("/")).toBe(true);
    expect(ok.headers.get("X-Weave-Timestamp")).toMatch(TS_RE);
  });

  it("S11-3.1: collection names outside [a-zA-Z0-9._-] do not route → 404", async () => {
    for (const c of ["a%20b", "a+b", "%C3%A9", "a%2Fb%2Fc%2Fd"]) {
      const r = await call(a, "GET", `/storage/${c}`);
      expect(r.status, c).toBe(404);
    }
  });

  it("S11-2 step 9: PUT/POST ignore the query string entirely", async () => {
    const r = await call(a, "PUT", "/storage/col/q1?ttl=abc&older=x", { body: { payload: "q" } });
    expectOk(r);
    const p = await call(a, "POST", "/storage/col?limit=zz", { body: [{ id: "q2", payload: "q" }] });
    expectOk(p);
  });

  it("S11-2 step 9: for GET a repeated parameter's last value wins", async () => {
    const r = await call(a, "GET", "/storage/col?ids=nope&ids=item");
    expect(r.text).toBe('["item"]');
    const bad = await call(a, "GET", "/storage/col?limit=x&limit=1");
    expect(bad.status).toBe(200);
  });

  it("S11-3.3 REF-BUG fixed: unknown query parameters are ignored everywhere (200, not 500)", async () => {
    const b = await register("params");
    await call(b, "PUT", "/storage/c/1", { body: { payload: "x" } });
    for (const [m, path, headers] of [
      ["GET", "/info/collections?client=FxHome&v=1.1b2&request=1", {}],
      ["GET", "/info/collection_counts?x=1", {}],
      ["GET", "/info/quota?x=1", {}],
      ["GET", "/info/collection_usage?x=1", {}],
      ["GET", "/storage/c?request=1&foo=bar", {}],
      ["GET", "/storage/c/1?x=1&full=0", {}],
      ["DELETE", "/storage/c/2?x=1", {}],
      ["DELETE", "/storage/c?request=1&id=5", {}],
      ["DELETE", "/storage?x=1", { "X-Confirm-Delete": "1" }],
    ] as const) {
      const r = await call(b, m, path, { headers });
      expect(r.status, `${m} ${path}`).toBe(200);
    }
  });

  it("S11-16.1: heartbeat GET/HEAD → 200 empty text/plain with X-Weave-Timestamp; other methods → 404", async () => {
    for (const m of ["GET", "HEAD"]) {
      const { res, text } = await raw(m, "/__heartbeat__");
      expect(res.status).toBe(200);
      expect(text).toBe("");
      expect(res.headers.get("Content-Type")).toBe("text/plain; charset=UTF-8");
      expect(res.headers.get("X-Weave-Timestamp")).toMatch(TS_RE);
    }
    const post = await raw("POST", "/__heartbeat__");
    expect(post.res.status).toBe(404);
  });

  it("S11-2 step 10: errors raised by handlers carry no X-Weave-Timestamp (404 of a missing item)", async () => {
    const r = await call(a, "GET", "/storage/col/missing");
    expectError(r, 404, PLAIN, plain(404));
  });
});
