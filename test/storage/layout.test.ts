/**
 * The records table's layout (schema version 4, docs/storage-schema.md)
 * against the reads and writes the engine really runs: every statement an
 * operation issues is recorded and its EXPLAIN QUERY PLAN checked, so a
 * change of layout or query that turns a listing into a full scan or a sort
 * fails here, not in production. And the per-collection counters, kept by
 * the engine statement by statement, are compared with a recount after
 * every kind of write (property test).
 */
import { env, runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PURGE_GRACE_MS, StorageEngine } from "../../src/storage/engine";
import { PROFILE_1_1, PROFILE_1_5, type Profile } from "../../src/storage/profile";
import { recordSize } from "../../src/storage/schema";
import { durableObjectSql, type SqlPort, type SqlValue } from "../../src/storage/sql";
import { exportPage, purgeExpiredNow } from "../../src/storage/transfer";
import type { RecordFields } from "../../src/storage/types";
import { START_MS } from "./support";

interface Statement {
  query: string;
  plan: string[];
}

/** A port that records every statement run through it. */
function recording(sql: SqlPort, log: { query: string; bindings: SqlValue[] }[]): SqlPort {
  return {
    all: (query, ...bindings) => (log.push({ query, bindings }), sql.all(query, ...bindings)),
    each: (query, ...bindings) => (log.push({ query, bindings }), sql.each(query, ...bindings)),
    one: (query, ...bindings) => (log.push({ query, bindings }), sql.one(query, ...bindings)),
    run: (query, ...bindings) => (log.push({ query, bindings }), sql.run(query, ...bindings)),
    transaction: (fn) => sql.transaction(fn),
  };
}

type Op = (e: StorageEngine, sql: SqlPort, now: number) => unknown;

/**
 * Runs `op` on a store of `profile` holding 60 records in "c" (some with
 * ttls, sortindexes, parents) and 5 in "other", and returns the plan of each
 * statement it ran on `bso`.
 */
async function plansOf(profile: Profile, op: Op): Promise<Statement[]> {
  const stub = env.USER_STORE.get(env.USER_STORE.idFromName(`layout-${crypto.randomUUID()}`));
  return runInDurableObject(stub, (_o, state) => {
    const raw = durableObjectSql(state.storage);
    const log: { query: string; bindings: SqlValue[] }[] = [];
    const sql = recording(raw, log);
    let now = START_MS;
    const e = new StorageEngine(sql, profile, () => now);
    const records = Array.from({ length: 60 }, (_, i): RecordFields => ({
      id: `r${i}`,
      payload: "x".repeat(i),
      sortindex: i % 7,
      ...(i % 3 === 0 ? { ttl: 1000 } : {}),
      ...(i % 5 === 0 ? { parentid: "p" } : {}),
    }));
    e.post({ collection: "c", records: records.slice(0, 30), quota: null });
    now += 1000;
    e.post({ collection: "c", records: records.slice(30), quota: null });
    e.post({ collection: "other", records: records.slice(0, 5), quota: null });
    now += 1000;
    log.length = 0;
    op(e, sql, now);
    return log
      .filter((s) => /\bbso\b/.test(s.query))
      .map((s) => ({
        query: s.query.replace(/\s+/g, " ").trim(),
        plan: raw.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${s.query}`, ...s.bindings).map((r) => String(r.detail)),
      }));
  });
}

/** The plan of the one statement of `plans` that selects from bso with `marker` in its text. */
function planOf(plans: Statement[], marker: RegExp): string[] {
  const found = plans.filter((s) => marker.test(s.query));
  expect(found.length, `one statement matching ${marker}: ${plans.map((s) => s.query).join("\n")}`).toBe(1);
  return found[0]!.plan;
}

const LISTING = /^SELECT id\b.* AS tie_/;
const PAGED = { pageCap: 5000, pageBytes: 4 * 1024 * 1024 };

function expectNoFullScan(plans: Statement[]): void {
  for (const s of plans) for (const line of s.plan) expect(line, s.query).not.toMatch(/^SCAN bso\b/);
}

describe("layout: query plans of the listings (schema 4)", () => {
  it("1.5 default order (newest first): the modified index read backwards, no sort", async () => {
    const plans = await plansOf(PROFILE_1_5, (e) => e.list({ collection: "c", full: true, ...PAGED }));
    const plan = planOf(plans, LISTING);
    expect(plan.join("\n")).toMatch(/SEARCH bso USING INDEX bso_modified \(collection=\?\)/);
    expect(plan.join("\n")).not.toMatch(/TEMP B-TREE/);
    expectNoFullScan(plans);
  });

  it("1.5 `newer` reads (full and ids): a range of the modified index, no sort", async () => {
    for (const full of [true, false]) {
      const plans = await plansOf(PROFILE_1_5, (e, _sql, now) => e.list({ collection: "c", full, newer: now - 1500, ...PAGED }));
      const plan = planOf(plans, LISTING).join("\n");
      expect(plan).toMatch(/bso_modified \(collection=\? AND modified>\?\)/);
      expect(plan).not.toMatch(/TEMP B-TREE/);
    }
  });

  it("1.5 paging with limit and offset, and sort=newest / oldest: the modified index, no sort", async () => {
    for (const sort of [undefined, "newest", "oldest"] as const) {
      const plans = await plansOf(PROFILE_1_5, (e) => e.list({ collection: "c", full: true, sort, limit: 10, offset: 20, ...PAGED, count: true }));
      const plan = planOf(plans, LISTING).join("\n");
      expect(plan).toMatch(/bso_modified/);
      expect(plan).not.toMatch(/TEMP B-TREE/);
      expectNoFullScan(plans);
    }
  });

  it("1.1 default order (first insertion): the partial insertion index, no sort", async () => {
    const plans = await plansOf(PROFILE_1_1, (e) => e.list({ collection: "c", full: true, ...PAGED }));
    const plan = planOf(plans, LISTING).join("\n");
    expect(plan).toMatch(/SEARCH bso USING INDEX bso_seq \(collection=\?/);
    expect(plan).not.toMatch(/TEMP B-TREE/);
  });

  it("1.1 next page (keyset after a cursor): the insertion index from the cursor on", async () => {
    const plans = await plansOf(PROFILE_1_1, (e) => e.list({ collection: "c", full: true, ...PAGED, after: { key: null, tie: 10 } }));
    const plan = planOf(plans, LISTING).join("\n");
    expect(plan).toMatch(/bso_seq \(collection=\? AND seq>\?\)/);
    expect(plan).not.toMatch(/TEMP B-TREE/);
  });

  it("1.1 `newer` reads: a range of the modified index; only the new rows are sorted by insertion", async () => {
    const plans = await plansOf(PROFILE_1_1, (e, _sql, now) => e.list({ collection: "c", full: true, newer: now - 1500, ...PAGED }));
    expect(planOf(plans, LISTING).join("\n")).toMatch(/bso_modified \(collection=\? AND modified>\?\)/);
  });

  it("1.1 sort=newest / oldest: the modified index; a sort only among equal timestamps", async () => {
    for (const sort of ["newest", "oldest"] as const) {
      const plans = await plansOf(PROFILE_1_1, (e) => e.list({ collection: "c", full: true, sort, ...PAGED }));
      const plan = planOf(plans, LISTING).join("\n");
      expect(plan).toMatch(/bso_modified \(collection=\?\)/);
      expect(plan).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
    }
  });

  it("sort=index: the collection's own range, sorted (no sortindex index by design: it cost every write a page at a random place)", async () => {
    for (const profile of [PROFILE_1_1, PROFILE_1_5]) {
      const plans = await plansOf(profile, (e) => e.list({ collection: "c", full: true, sort: "index", limit: 10, ...PAGED }));
      expect(planOf(plans, LISTING).join("\n")).toMatch(/SEARCH bso USING PRIMARY KEY \(collection=\?\)/);
      expectNoFullScan(plans);
    }
  });

  it("ids=: the primary key finds the few rows, then they are sorted", async () => {
    for (const profile of [PROFILE_1_1, PROFILE_1_5]) {
      const plans = await plansOf(profile, (e) => e.list({ collection: "c", full: true, ids: ["r1", "r7", "r40"], ...PAGED }));
      const plan = planOf(plans, LISTING).join("\n");
      expect(plan).toMatch(/SEARCH bso USING PRIMARY KEY \(collection=\? AND id=\?\)/);
      expect(plan).not.toMatch(/bso_modified|bso_seq/);
    }
  });
});

describe("layout: query plans of the writes (schema 4)", () => {
  it("DELETE ?ids=: primary key lookups only", async () => {
    for (const profile of [PROFILE_1_1, PROFILE_1_5]) {
      const plans = await plansOf(profile, (e) => e.deleteRecords({ collection: "c", ids: ["r1", "r2", "r50"] }));
      const plan = planOf(plans, /^DELETE FROM bso/).join("\n");
      expect(plan).toMatch(/PRIMARY KEY \(collection=\? AND id=\?\)/);
      expect(plan).not.toMatch(/bso_modified|bso_seq|TEMP B-TREE/);
    }
  });

  it("PUT and POST: every statement on bso goes through the primary key or an index", async () => {
    for (const profile of [PROFILE_1_1, PROFILE_1_5]) {
      const put = await plansOf(profile, (e) => e.put({ collection: "c", record: { id: "r3", payload: "q" }, quota: 1e9 }));
      const post = await plansOf(profile, (e) =>
        e.post({ collection: "c", records: [{ id: "r1", payload: "y" }, { id: "new", payload: "z", ttl: 5 }], quota: 1e9 }),
      );
      for (const plans of [put, post]) {
        expectNoFullScan(plans);
        for (const s of plans) for (const line of s.plan) expect(line, s.query).not.toMatch(/TEMP B-TREE/);
      }
    }
  });

  it("1.5 batch commit: the staged ids are found by primary key", async () => {
    const plans = await plansOf(PROFILE_1_5, (e) => {
      const open = e.post({ collection: "c", records: [{ id: "r1", payload: "a" }], quota: null, batch: { id: null, commit: false } });
      if (!open.ok || !open.batch) throw new Error("no batch");
      e.post({ collection: "c", records: [{ id: "b2", payload: "b" }], quota: null, batch: { id: open.batch, commit: true } });
    });
    expectNoFullScan(plans);
  });

  it("the purge (alarm and admin): the expiry index, primary key deletes", async () => {
    const alarm = await plansOf(PROFILE_1_5, (e) => e.purgeExpired());
    const admin = await plansOf(PROFILE_1_1, (_e, sql, now) => purgeExpiredNow(sql, now + 10 * PURGE_GRACE_MS));
    for (const plans of [alarm, admin]) {
      const plan = planOf(plans, /^DELETE FROM bso/).join("\n");
      expect(plan).toMatch(/bso_expiry/);
      expect(plan).toMatch(/PRIMARY KEY \(collection=\? AND id=\?\)/);
      expectNoFullScan(plans);
    }
  });

  it("export pages: a range of the global insertion index (1.1) or of the primary key (1.5)", async () => {
    const v11 = await plansOf(PROFILE_1_1, (_e, sql) => exportPage(sql, { seq: 10 }, 10, 1e9));
    expect(planOf(v11, /^SELECT seq, /).join("\n")).toMatch(/bso_seq_all \(seq>\?\)/);
    const v15 = await plansOf(PROFILE_1_5, (_e, sql) => exportPage(sql, { collection: "c", id: "r10" }, 10, 1e9));
    expect(planOf(v15, /^SELECT collection, id/).join("\n")).toMatch(/PRIMARY KEY \(\(collection,id\)>\(\?,\?\)\)/);
    for (const plans of [v11, v15]) expectNoFullScan(plans);
  });
});

// ------------------------------------------------------------------ counters

const RECOUNT = `SELECT collection AS name, COUNT(*) AS records, SUM(payload_size) AS bytes, SUM(${recordSize()}) AS size
                 FROM bso GROUP BY collection ORDER BY collection`;
const COUNTERS = `SELECT name, records, bytes, size FROM collections WHERE records <> 0 OR bytes <> 0 OR size <> 0 ORDER BY name`;

const ids = fc.constantFrom("a", "b", "c", "dé", "e".repeat(64));
const collectionName = fc.constantFrom("x", "y");
const fields = fc.record(
  {
    id: ids,
    payload: fc.string({ maxLength: 12 }),
    sortindex: fc.integer({ min: -5, max: 5 }),
    parentid: fc.constantFrom("p", "parent-ü"),
    predecessorid: fc.constantFrom("q", ""),
    ttl: fc.integer({ min: 0, max: 3 }),
  },
  { requiredKeys: ["id"] },
);

type Step =
  | { kind: "put"; collection: string; record: RecordFields }
  | { kind: "post"; collection: string; records: RecordFields[] }
  | { kind: "batch"; collection: string; parts: RecordFields[][] }
  | { kind: "delete-ids"; collection: string; ids: string[] }
  | { kind: "delete-limit"; collection: string; limit: number; offset: number }
  | { kind: "delete-one"; collection: string; id: string }
  | { kind: "delete-collection"; collection: string }
  | { kind: "delete-storage" }
  | { kind: "time"; seconds: number }
  | { kind: "purge" }
  | { kind: "admin-purge" };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("put" as const), collection: collectionName, record: fields }),
  fc.record({ kind: fc.constant("post" as const), collection: collectionName, records: fc.array(fields, { maxLength: 6 }) }),
  fc.record({ kind: fc.constant("batch" as const), collection: collectionName, parts: fc.array(fc.array(fields, { maxLength: 3 }), { minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constant("delete-ids" as const), collection: collectionName, ids: fc.array(ids, { maxLength: 3 }) }),
  fc.record({ kind: fc.constant("delete-limit" as const), collection: collectionName, limit: fc.integer({ min: 0, max: 3 }), offset: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant("delete-one" as const), collection: collectionName, id: ids }),
  fc.record({ kind: fc.constant("delete-collection" as const), collection: collectionName }),
  fc.constant({ kind: "delete-storage" as const }),
  fc.record({ kind: fc.constant("time" as const), seconds: fc.integer({ min: 1, max: 5 }) }),
  fc.constant({ kind: "purge" as const }),
  fc.constant({ kind: "admin-purge" as const }),
);

function apply(e: StorageEngine, sql: SqlPort, clock: { now: number }, s: Step): void {
  switch (s.kind) {
    case "put":
      e.put({ collection: s.collection, record: s.record, quota: null });
      return;
    case "post":
      e.post({ collection: s.collection, records: s.records, quota: null });
      return;
    case "batch": {
      if (e.profile.protocol !== "1.5") {
        e.post({ collection: s.collection, records: s.parts.flat(), quota: null });
        return;
      }
      let id: string | null = null;
      s.parts.forEach((records, i) => {
        const r = e.post({ collection: s.collection, records, quota: null, batch: { id, commit: i === s.parts.length - 1 } });
        if (r.ok && r.batch) id = r.batch;
      });
      return;
    }
    case "delete-ids":
      e.deleteRecords({ collection: s.collection, ids: s.ids });
      return;
    case "delete-limit":
      e.deleteRecords({ collection: s.collection, limit: s.limit, offset: s.offset });
      return;
    case "delete-one":
      e.deleteRecord({ collection: s.collection, id: s.id });
      return;
    case "delete-collection":
      e.deleteRecords({ collection: s.collection });
      return;
    case "delete-storage":
      e.deleteStorage({});
      return;
    case "time":
      clock.now += s.seconds * 1000;
      return;
    case "purge":
      clock.now += PURGE_GRACE_MS;
      e.purgeExpired();
      return;
    case "admin-purge":
      purgeExpiredNow(sql, clock.now);
      return;
  }
}

describe("layout: counters kept per statement", () => {
  for (const profile of [PROFILE_1_1, PROFILE_1_5]) {
    it(`${profile.protocol}: collections.records, bytes and size equal a recount after every kind of write`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
          const stub = env.USER_STORE.get(env.USER_STORE.idFromName(`counters-${crypto.randomUUID()}`));
          await runInDurableObject(stub, (_o, state) => {
            const sql = durableObjectSql(state.storage);
            const clock = { now: START_MS };
            const e = new StorageEngine(sql, profile, () => clock.now);
            for (const s of steps) {
              apply(e, sql, clock, s);
              expect(sql.all(COUNTERS), JSON.stringify(s)).toEqual(sql.all(RECOUNT));
            }
          });
        }),
        { numRuns: 40 },
      );
      // (40 runs of up to 25 operations each: seconds on a loaded machine.)
    }, 120_000);
  }
});
