/**
 * The benchmark's "authentication short-circuited" Worker lives in its own
 * entry module (bench/entry.ts); the production entry has no switch that
 * turns authentication off, whatever the environment says.
 */
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import bench from "../../bench/entry";
import app from "../../src/index";
import { basic, register } from "../routes/user-helpers";

const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
const vars = { ...env, SYNC_MASTER_SECRET: "s", BENCH_NO_AUTH: "1" } as unknown as Env;
const fetchWith = (worker: typeof app, path: string, headers: Record<string, string> = {}) =>
  worker.fetch(new Request(`http://bench.test${path}`, { headers }), vars, ctx);

describe("authentication is never switched off in the production entry", () => {
  it("BENCH_NO_AUTH=1 is ignored: an unsigned 1.5 request → 401 body 0, a wrong 1.1 password → 401", async () => {
    const res = await fetchWith(app, "/1.5/4242/info/collections");
    expect([res.status, await res.text()]).toEqual([401, "0"]);
    const a = await register("benchprod");
    expect((await fetchWith(app, `/1.1/${a.user}/info/collections`, { Authorization: basic(a.user, "not the password") })).status).toBe(401);
  });
});

describe("bench/entry.ts (benchmark harness only)", () => {
  it("1.5: the path uid is taken as the principal, no Hawk", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const res = await fetchWith(bench, "/1.5/4242/info/collections");
    expect([res.status, await res.text()]).toEqual([200, "{}"]);
  });

  it("1.1: the password is not checked, but the account must exist and be the path's user", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const a = await register("benchentry");
    const ok = await fetchWith(bench, `/1.1/${a.user}/info/collections`, { Authorization: basic(a.user, "not the password") });
    expect([ok.status, await ok.text()]).toEqual([200, "{}"]);
    expect((await fetchWith(bench, "/1.1/ghost/info/collections", { Authorization: basic("ghost", "x") })).status).toBe(401);
    expect((await fetchWith(bench, `/1.1/${a.user}/info/collections`, { Authorization: basic("ghost", "x") })).status).toBe(401);
  });
});
