/** BENCH_NO_AUTH: the benchmark's "authentication short-circuited" build switch, off unless set to exactly "1". */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import app from "../../src/index";

const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
const get = (e: Record<string, unknown>) =>
  app.fetch(new Request("http://bench.test/1.5/4242/info/collections"), { ...env, SYNC_MASTER_SECRET: "s", ...e } as unknown as Env, ctx);

describe("BENCH_NO_AUTH for Hawk", () => {
  it("without it, an unsigned 1.5 request is refused (401, body 0)", async () => {
    const res = await get({});
    expect([res.status, await res.text()]).toEqual([401, "0"]);
    expect((await get({ BENCH_NO_AUTH: "true" })).status).toBe(401);
  });

  it("with BENCH_NO_AUTH=1 the path uid is taken as is (benchmark builds only)", async () => {
    const res = await get({ BENCH_NO_AUTH: "1" });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("{}");
  });
});
