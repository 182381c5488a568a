/**
 * Tests as contracts: the behaviours both storage protocols share, written
 * once as a table of cases and run over each protocol driver (drivers.ts)
 * through the real Worker with real credentials. Each case names the rules
 * it checks in both protocols (docs/protocol/).
 */
import { describe, expect, it } from "vitest";
import type { Reply } from "../helpers/reply";
import { DRIVERS, reason, type Driver, type User } from "./drivers";

/** "1700000000.12" → 1700000000120 (exactly two decimals, S11-6 / S15-5.1). */
function ms(text: string | null | undefined): number {
  if (!text || !/^\d+\.\d\d$/.test(text)) throw new Error(`not a 2-decimal timestamp: ${text}`);
  return Math.round(Number(text) * 100) * 10;
}
const fmt = (t: number) => (t / 1000).toFixed(2);
/** The timestamp a write answered (its body: S11-8.7 / S15-8.1, or `modified` of a POST result). */
function written(r: Reply): number {
  expect(r.status, r.text).toBe(200);
  const j = r.json as { modified?: number } | number;
  return typeof j === "number" ? ms(r.text) : ms(/"modified": ?([0-9.]+)/.exec(r.text)?.[1]);
}
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));
const ids = (r: Reply) => [...(r.json as string[])].sort();

interface Case {
  title: string;
  /** Rule ids per protocol prefix. */
  rules: { S11: string[]; S15: string[] };
  run(d: Driver, u: User): Promise<void>;
}

const CASES: Case[] = [
  {
    title: "X-If-Unmodified-Since: an older value refuses the write with 412 and changes nothing; an equal one passes",
    rules: { S11: ["S11-10", "S11-8.7", "S11-8.8", "S11-8.9", "S11-8.10"], S15: ["S15-12.2", "S15-8.1", "S15-9.7", "S15-10.1", "S15-10.2"] },
    async run(_d, u) {
      const t1 = written(await u.call("PUT", "/storage/col/a", { body: { payload: "one" } }));
      const stale = { "X-If-Unmodified-Since": fmt(t1 - 10) };
      expect((await u.call("PUT", "/storage/col/a", { body: { payload: "two" }, headers: stale })).status).toBe(412);
      expect((await u.call("POST", "/storage/col", { body: [{ id: "b", payload: "b" }], headers: stale })).status).toBe(412);
      expect((await u.call("DELETE", "/storage/col/a", { headers: stale })).status).toBe(412);
      expect((await u.call("DELETE", "/storage/col", { headers: stale })).status).toBe(412);
      // Nothing of the refused requests landed.
      expect((await u.call("GET", "/storage/col/a")).json).toMatchObject({ id: "a", payload: "one" });
      expect((await u.call("GET", "/storage/col/b")).status).toBe(404);
      expect(ms((await u.call("GET", "/info/collections")).text.match(/"col": ?([0-9.]+)/)?.[1])).toBe(t1);
      // Equal to the last modification: allowed.
      const t2 = written(await u.call("POST", "/storage/col", { body: [{ id: "b", payload: "b" }], headers: { "X-If-Unmodified-Since": fmt(t1) } }));
      expect(t2).toBeGreaterThan(t1);
      expect((await u.call("GET", "/storage/col/b")).status).toBe(200);
    },
  },
  {
    title: "timestamps: every write gets a strictly greater timestamp, and newer= sees exactly the later writes",
    rules: { S11: ["S11-6", "S11-17", "S11-9"], S15: ["S15-5.2", "S15-5.4", "S15-7.1"] },
    async run(_d, u) {
      const stamps: number[] = [];
      for (let i = 0; i < 6; i++) {
        const coll = i % 2 ? "odd" : "even";
        const r =
          i % 3 === 2
            ? await u.call("POST", `/storage/${coll}`, { body: [{ id: `r${i}`, payload: `p${i}` }] })
            : await u.call("PUT", `/storage/${coll}/r${i}`, { body: { payload: `p${i}` } });
        stamps.push(written(r));
      }
      for (let i = 1; i < stamps.length; i++) expect(stamps[i]!, `write ${i}`).toBeGreaterThan(stamps[i - 1]!);
      // The records carry the timestamp of the write that stored them.
      const even = await u.call("GET", "/storage/even?full=1");
      for (const rec of even.json as { id: string; modified: number }[]) expect(Math.round(rec.modified * 1000)).toBe(stamps[Number(rec.id.slice(1))]);
      // info/collections: each collection at its last write.
      const info = (await u.call("GET", "/info/collections")).json as Record<string, number>;
      expect(Math.round(info.even! * 1000)).toBe(stamps[4]);
      expect(Math.round(info.odd! * 1000)).toBe(stamps[5]);
      // newer= is strict: exactly the records written after the given one.
      expect(ids(await u.call("GET", `/storage/even?newer=${fmt(stamps[0]!)}`))).toEqual(["r2", "r4"]);
      expect(ids(await u.call("GET", `/storage/even?newer=${fmt(stamps[4]!)}`))).toEqual([]);
      // A read after the writes is stamped no earlier than the last write.
      expect(ms((await u.call("GET", "/info/collections")).headers.get("X-Weave-Timestamp"))).toBeGreaterThanOrEqual(stamps[5]!);
    },
  },
  {
    title: "TTL: a record with a ttl disappears from reads once it expires; records without one stay",
    rules: { S11: ["S11-12", "S11-8.5", "S11-8.6", "S11-8.2"], S15: ["S15-4.2", "S15-7.1", "S15-7.6", "S15-6.2"] },
    async run(_d, u) {
      // 1.1 expiries are whole seconds (S11-12): ttl 3 stays visible for at least 2 s and is gone within 3 s.
      written(await u.call("PUT", "/storage/col/short", { body: { payload: "gone soon", ttl: 3 } }));
      written(await u.call("POST", "/storage/col", { body: [{ id: "keep", payload: "stays" }, { id: "batch-short", payload: "x", ttl: 3 }] }));
      expect(ids(await u.call("GET", "/storage/col"))).toEqual(["batch-short", "keep", "short"]);
      expect((await u.call("GET", "/storage/col/short")).status).toBe(200);
      await sleep(3100);
      expect((await u.call("GET", "/storage/col/short")).status).toBe(404);
      expect(ids(await u.call("GET", "/storage/col"))).toEqual(["keep"]);
      expect((await u.call("GET", "/info/collection_counts")).json).toEqual({ col: 1 });
      // A new write under the same id brings it back (expired records can be overwritten).
      written(await u.call("PUT", "/storage/col/short", { body: { payload: "again" } }));
      expect((await u.call("GET", "/storage/col/short")).json).toMatchObject({ payload: "again" });
    },
  },
  {
    title: "deletes: one record, one collection, then all of a user's storage",
    rules: { S11: ["S11-8.10", "S11-8.9", "S11-8.11", "S11-8.1"], S15: ["S15-10.2", "S15-10.1", "S15-6.6", "S15-6.1"] },
    async run(_d, u) {
      written(await u.call("POST", "/storage/col", { body: [{ id: "a", payload: "a" }, { id: "b", payload: "b" }] }));
      written(await u.call("PUT", "/storage/other/x", { body: { payload: "x" } }));
      // One record.
      expect((await u.call("DELETE", "/storage/col/a")).status).toBe(200);
      expect((await u.call("GET", "/storage/col/a")).status).toBe(404);
      expect(ids(await u.call("GET", "/storage/col"))).toEqual(["b"]);
      // One collection: gone from the listing and from info/collections; others untouched.
      expect((await u.call("DELETE", "/storage/col")).status).toBe(200);
      const list = await u.call("GET", "/storage/col");
      expect(list.status).toBe(200);
      expect(list.json).toEqual([]);
      expect(Object.keys((await u.call("GET", "/info/collections")).json as object)).toEqual(["other"]);
      // Everything.
      expect((await u.wipe()).status).toBe(200);
      expect((await u.call("GET", "/info/collections")).json).toEqual({});
      expect((await u.call("GET", "/storage/other/x")).status).toBe(404);
      // The store is usable afterwards.
      written(await u.call("PUT", "/storage/other/y", { body: { payload: "y" } }));
    },
  },
  {
    title: "limits: a POST over the per-request record limit stores the first records and fails the surplus by name",
    rules: { S11: ["S11-8.8"], S15: ["S15-8.2", "S15-6.5"] },
    async run(d, u) {
      const { records, reason: why } = await d.postLimit(u);
      const body = Array.from({ length: records + 3 }, (_, i) => ({ id: `r${String(i).padStart(4, "0")}`, payload: "x" }));
      const r = await u.call("POST", "/storage/col", { body });
      expect(r.status).toBe(200);
      const res = r.json as { success: string[]; failed: Record<string, unknown> };
      expect(res.success).toEqual(body.slice(0, records).map((b) => b.id));
      expect(Object.keys(res.failed).sort()).toEqual(body.slice(records).map((b) => b.id));
      for (const v of Object.values(res.failed)) expect(reason(v)).toBe(why);
      expect((await u.call("GET", "/info/collection_counts")).json).toEqual({ col: records });
    },
  },
  {
    title: "limits: a record payload at the size limit is stored, one byte more is refused with 400 body 8",
    rules: { S11: ["S11-5.1", "S11-5.2", "S11-8.7"], S15: ["S15-4.1", "S15-8.1", "S15-6.5"] },
    async run(d, u) {
      const limit = await d.recordLimit(u);
      // Multi-byte characters: the limit counts UTF-8 bytes, not characters.
      const at = "é".repeat(limit / 2);
      expect((await u.call("PUT", "/storage/col/big", { body: { payload: at } })).status).toBe(200);
      expect(((await u.call("GET", "/storage/col/big")).json as { payload: string }).payload).toBe(at);
      const over = await u.call("PUT", "/storage/col/bigger", { body: { payload: `${at}x` } });
      expect(over.status).toBe(400);
      expect(over.text).toBe("8");
      expect((await u.call("GET", "/storage/col/bigger")).status).toBe(404);
    },
  },
  {
    title: "isolation: one user's credentials never reach another user's records",
    rules: { S11: ["S11-4"], S15: ["S15-3"] },
    async run(d, a) {
      const b = await d.newUser();
      written(await a.call("PUT", "/storage/secret/x", { body: { payload: "a's secret" } }));
      // b sees its own (empty) store at the same path.
      expect((await b.call("GET", "/storage/secret/x")).status).toBe(404);
      expect((await b.call("GET", "/info/collections")).json).toEqual({});
      // b's valid credentials on a's path are refused, for reads and for writes.
      expect((await b.trespass(a, "GET", "/storage/secret/x")).status).toBe(d.trespassStatus);
      expect((await b.trespass(a, "PUT", "/storage/secret/x")).status).toBe(d.trespassStatus);
      expect((await b.trespass(a, "DELETE", "/storage/secret")).status).toBe(d.trespassStatus);
      // a's data is untouched; wiping b leaves a alone.
      expect((await b.wipe()).status).toBe(200);
      expect((await a.call("GET", "/storage/secret/x")).json).toMatchObject({ payload: "a's secret" });
    },
  },
];

for (const d of DRIVERS) {
  describe(`contract over ${d.name}`, () => {
    for (const c of CASES) {
      it(`${c.rules[d.prefix].join(", ")}: ${c.title}`, async () => {
        await c.run(d, await d.newUser());
      }, 20_000);
    }
  });
}
