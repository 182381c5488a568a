import { describe, expect, it } from "vitest";
import { call, register } from "../helpers/sync11";

describe("smoke", () => {
  it("registers, writes and reads back", async () => {
    const a = await register();
    const put = await call(a, "PUT", "/storage/col2/12345", { body: { payload: "xxx" } });
    expect(put.status).toBe(200);
    expect(put.text).toBe(put.headers.get("X-Weave-Timestamp"));
    const get = await call(a, "GET", "/storage/col2/12345");
    expect(get.status).toBe(200);
    expect(get.text).toBe(`{"payload": "xxx", "id": "12345", "modified": ${put.text}}`);
    const post = await call(a, "POST", "/storage/col2", { body: [{ id: 12, payload: "a" }, { id: "b", sortindex: "x" }] });
    expect(post.text).toMatch(/^\{"failed": \{"b": \["invalid sortindex"\]\}, "modified": \d+\.\d\d, "success": \["12"\]\}$/);
    const info = await call(a, "GET", "/info/collections");
    expect(info.json).toEqual({ col2: Number(JSON.parse(post.text).modified) });
  });
});

describe("tokenserver and 1.1 share /1.0/", () => {
  it("S11-3.2: GET /1.0/<u>/storage stays 405 and /1.0/<u>/info 404 with the tokenserver mounted", async () => {
    const a = await register();
    const r405 = await call(a, "GET", "/storage", { version: "1.0" });
    expect(r405.status).toBe(405);
    expect(r405.headers.get("X-Weave-Timestamp")).toMatch(/^\d+\.\d\d$/);
    const r404 = await call(a, "GET", "/info", { version: "1.0" });
    expect(r404.status).toBe(404);
    expect(r404.text.startsWith("404 Not Found")).toBe(true);
  });
});
