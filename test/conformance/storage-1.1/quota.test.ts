/** S11-11 (quota), S11-8.7 step 1 and S11-8.8 step 5, S11-A (X-Weave-Quota-Remaining). */
import { describe, expect, it } from "vitest";
import { pyStrFloat } from "../../../src/protocol/pyjson";
import { call, dispatchWith, expectError, expectOk, expectWeave, PLAIN, plain, register, snapshot, tsMs } from "./_helpers";

const Q01 = { QUOTA_SIZE_KB: "0.1" };

describe("quota", () => {
  it("S11-11 (peer test): quota 0.1 KB with 24 bytes stored → X-Weave-Quota-Remaining exactly 0.0765625", async () => {
    const a = await register("quota-peer");
    const first = await dispatchWith(Q01, a, "PUT", "/storage/c/1", { body: { payload: "x".repeat(24) } });
    expectOk(first);
    expect(first.headers.get("X-Weave-Quota-Remaining")).toBe("0.1"); // pre-write: nothing stored yet
    const second = await dispatchWith(Q01, a, "PUT", "/storage/c/2", { body: { payload: "y" } });
    expectOk(second);
    expect(second.headers.get("X-Weave-Quota-Remaining")).toBe("0.0765625");
  });

  it("S11-11: the write crossing the quota is accepted; the next PUT → 400 14 (application/json, no X-Weave-Timestamp); nothing stored", async () => {
    const a = await register("quota-cross");
    expectOk(await dispatchWith(Q01, a, "PUT", "/storage/c/1", { body: { payload: "x".repeat(200) } }));
    const before = await snapshot(a);
    expectWeave(await dispatchWith(Q01, a, "PUT", "/storage/c/2", { body: { payload: "y" } }), 14);
    // A PUT that would shrink usage is refused too.
    expectWeave(await dispatchWith(Q01, a, "PUT", "/storage/c/1", { body: { payload: "" } }), 14);
    expect(await snapshot(a)).toEqual(before);
  });

  it("S11-8.7 step 1: quota is checked before X-If-Unmodified-Since and before the body (14 wins over 412 and 6)", async () => {
    const a = await register("quota-order");
    const w = await dispatchWith(Q01, a, "PUT", "/storage/c/1", { body: { payload: "x".repeat(200) } });
    const stale = ((tsMs(w.text) - 10) / 1000).toFixed(2);
    expectWeave(await dispatchWith(Q01, a, "PUT", "/storage/c/1", { raw: "{bad", headers: { "X-If-Unmodified-Since": stale } }), 14);
    expectWeave(await dispatchWith(Q01, a, "PUT", "/storage/c/1", { raw: "[]" }), 14);
  });

  it("S11-8.8 step 5: POST checks quota after validation: bad JSON → 6, non-array → 8, then 14 for the whole batch (even empty)", async () => {
    const a = await register("quota-post");
    await dispatchWith(Q01, a, "PUT", "/storage/c/1", { body: { payload: "x".repeat(200) } });
    const before = await snapshot(a);
    expectWeave(await dispatchWith(Q01, a, "POST", "/storage/c", { raw: "[" }), 6);
    expectWeave(await dispatchWith(Q01, a, "POST", "/storage/c", { raw: '"x"' }), 8);
    expectWeave(await dispatchWith(Q01, a, "POST", "/storage/c", { raw: "[]" }), 14);
    expectWeave(await dispatchWith(Q01, a, "POST", "/storage/c", { body: [{ id: "2", payload: "y" }, { id: "3", ttl: -1 }] }), 14);
    expect(await snapshot(a)).toEqual(before);
  });

  it("S11-8.8 step 1 before step 5: an over-quota POST with a stale X-If-Unmodified-Since → 412", async () => {
    const a = await register("quota-post-412");
    const w = await dispatchWith(Q01, a, "PUT", "/storage/c/1", { body: { payload: "x".repeat(200) } });
    const stale = ((tsMs(w.text) - 10) / 1000).toFixed(2);
    const r = await dispatchWith(Q01, a, "POST", "/storage/c", { body: [{ id: "2", payload: "y" }], headers: { "X-If-Unmodified-Since": stale } });
    expectError(r, 412, PLAIN, plain(412, "c"));
  });

  it("S11-8.8 step 1 then S11-8.7: a lone-object POST over quota with a stale X-If-Unmodified-Since → 412 (POST checks it before delegating to PUT)", async () => {
    const a = await register("quota-lone-412");
    const w = await dispatchWith(Q01, a, "PUT", "/storage/c/1", { body: { payload: "x".repeat(200) } });
    const stale = ((tsMs(w.text) - 10) / 1000).toFixed(2);
    const before = await snapshot(a);
    const r = await dispatchWith(Q01, a, "POST", "/storage/c", { body: { id: "2", payload: "y" }, headers: { "X-If-Unmodified-Since": stale } });
    expectError(r, 412, PLAIN, plain(412, "c"));
    // Fresh header: PUT semantics, so the quota refusal applies.
    expectWeave(await dispatchWith(Q01, a, "POST", "/storage/c", { body: { id: "2", payload: "y" }, headers: { "X-If-Unmodified-Since": w.text } }), 14);
    expect(await snapshot(a)).toEqual(before);
  });

  it("S11-11: POST under the limit gets X-Weave-Quota-Remaining from the pre-write usage", async () => {
    const a = await register("quota-post-hdr");
    await dispatchWith(Q01, a, "PUT", "/storage/c/1", { body: { payload: "x".repeat(24) } });
    const r = await dispatchWith(Q01, a, "POST", "/storage/c", { body: [{ id: "2", payload: "y".repeat(500) }] });
    expectOk(r);
    expect(r.headers.get("X-Weave-Quota-Remaining")).toBe("0.0765625");
    expect((r.json as { success: string[] }).success).toEqual(["2"]);
  });

  it("S11-11: refusal iff left ≤ 0 exactly: 1023 of 1024 chars used → allowed (header 0.0009765625); 1024 used → 14", async () => {
    const a = await register("quota-edge");
    const q1 = { QUOTA_SIZE_KB: "1" };
    await dispatchWith(q1, a, "PUT", "/storage/c/1", { body: { payload: "x".repeat(1023) } });
    const r = await dispatchWith(q1, a, "PUT", "/storage/c/2", { body: { payload: "y" } });
    expectOk(r);
    expect(r.headers.get("X-Weave-Quota-Remaining")).toBe("0.0009765625");
    expectWeave(await dispatchWith(q1, a, "PUT", "/storage/c/3", { body: { payload: "z" } }), 14);
    expectWeave(await dispatchWith(q1, a, "POST", "/storage/c", { body: [] }), 14);
  });

  it("S11-11: deletes are never blocked by quota", async () => {
    const a = await register("quota-del");
    await dispatchWith(Q01, a, "PUT", "/storage/c/1", { body: { payload: "x".repeat(200) } });
    expectOk(await dispatchWith(Q01, a, "DELETE", "/storage/c/1"));
    expectOk(await dispatchWith(Q01, a, "PUT", "/storage/c/1", { body: { payload: "again" } }));
    expectOk(await dispatchWith(Q01, a, "DELETE", "/storage/c"));
    expectOk(await dispatchWith(Q01, a, "DELETE", "/storage", { headers: { "X-Confirm-Delete": "1" } }));
  });

  it("S11-11: no X-Weave-Quota-Remaining while more than 1024 KB are left (default 5120 KB)", async () => {
    const a = await register("quota-none");
    const r = await call(a, "PUT", "/storage/c/1", { body: { payload: "x" } });
    expect(r.headers.get("X-Weave-Quota-Remaining")).toBeNull();
  });

  it("S11-11: with 1024 KB left (quota 1024) the header is 1024.0; at 1025 KB it is absent", async () => {
    const a = await register("quota-1024");
    const r = await dispatchWith({ QUOTA_SIZE_KB: "1024" }, a, "PUT", "/storage/c/1", { body: { payload: "x" } });
    expect(r.headers.get("X-Weave-Quota-Remaining")).toBe("1024.0");
    const r2 = await dispatchWith({ QUOTA_SIZE_KB: "1025" }, a, "PUT", "/storage/c/2", { body: { payload: "x" } });
    expect(r2.headers.get("X-Weave-Quota-Remaining")).toBeNull();
    const r3 = await dispatchWith({ QUOTA_SIZE_KB: "1000" }, a, "PUT", "/storage/c/3", { body: { payload: "x" } });
    expect(r3.headers.get("X-Weave-Quota-Remaining")).toBe("999.998046875");
  });

  it("S11-11: no quota header and no 14 when use_quota is off", async () => {
    const a = await register("quota-off");
    const off = { USE_QUOTA: "false", QUOTA_SIZE_KB: "0" };
    const r = await dispatchWith(off, a, "PUT", "/storage/c/1", { body: { payload: "x".repeat(2000) } });
    expectOk(r);
    expect(r.headers.get("X-Weave-Quota-Remaining")).toBeNull();
    expectOk(await dispatchWith(off, a, "POST", "/storage/c", { body: [{ id: "2", payload: "y" }] }));
  });

  it("S11-A: Python 2 str(float) formatting — 12 significant digits, %g, .0 appended", () => {
    expect(pyStrFloat(0.0765625)).toBe("0.0765625");
    expect(pyStrFloat(1000)).toBe("1000.0");
    expect(pyStrFloat(999.9990234375)).toBe("999.999023438");
    expect(pyStrFloat(1023.9990234375)).toBe("1023.99902344");
    expect(pyStrFloat(0.5)).toBe("0.5");
    expect(pyStrFloat(0)).toBe("0.0");
    expect(pyStrFloat(-0)).toBe("-0.0");
    expect(pyStrFloat(Infinity)).toBe("inf");
    expect(pyStrFloat(-0.5)).toBe("-0.5");
    expect(pyStrFloat(0.0001)).toBe("0.0001");
    expect(pyStrFloat(0.00001)).toBe("1e-05");
    expect(pyStrFloat(0.0000152587890625)).toBe("1.52587890625e-05");
    expect(pyStrFloat(123456789012)).toBe("123456789012.0");
    expect(pyStrFloat(1234567890123)).toBe("1.23456789012e+12");
    expect(pyStrFloat(-1.5)).toBe("-1.5");
    expect(pyStrFloat(0.1)).toBe("0.1");
    expect(pyStrFloat(5119.9990234375)).toBe("5119.99902344");
    // Rounding to 12 digits can change the exponent; values checked against CPython's "%.12g".
    expect(pyStrFloat(99999999999.95)).toBe("99999999999.9");
    expect(pyStrFloat(999999999999.5)).toBe("1e+12");
    expect(pyStrFloat(9.9999999999995e-5)).toBe("0.0001");
    expect(pyStrFloat(99999.99999995)).toBe("99999.9999999");
  });
});
