/**
 * Listings that never outgrow a Durable Object call: the engine's keyset
 * pages (every order, NULL sort values, rows deleted between pages) and the
 * Storage 1.1 route streaming a collection larger than one page.
 */
import { describe, expect, it } from "vitest";
import type { StorageEngine } from "../../src/storage/engine";
import { INLINE_MAX, listPages, renderedPage, renderPage, type ListRender, type RenderedListParams } from "../../src/storage/paging";
import { PROFILE_1_1, PROFILE_1_5, type Profile } from "../../src/storage/profile";
import type { StoreApi } from "../../src/storage/stub";
import type { ListParams, SortOrder } from "../../src/storage/types";
import { call, register } from "../helpers/sync11";
import { ok, withEngine } from "./support";

/** The store API over an engine in the same object (only what listPages calls), counting the calls. */
function storeOf(e: StorageEngine): StoreApi & { calls: number } {
  const store = {
    calls: 0,
    listRendered: async (p: RenderedListParams) => {
      store.calls++;
      return renderedPage((q) => e.list(q), p);
    },
  };
  return store as unknown as StoreApi & { calls: number };
}

/** A listing's body as one text. */
async function bodyText(pages: { body: BodyInit }): Promise<string> {
  return new TextDecoder().decode(await new Response(pages.body).arrayBuffer());
}

const LINES: ListRender & { protocol: "1.1" } = { protocol: "1.1", format: "newlines", full: false };

async function readAll(e: StorageEngine, p: ListParams, records: number, between?: () => void): Promise<{ total: number; ids: string[] }> {
  const pages = await listPages(storeOf(e), p, { records, bytes: 1 << 30 }, { ...LINES, full: p.full });
  if (!pages.ok) throw new Error("refused");
  between?.();
  const lines = (await bodyText(pages)).split("\n").filter((l) => l !== "");
  const ids = lines.map((l) => JSON.parse(l) as string | { id: string }).map((v) => (typeof v === "string" ? v : v.id));
  return { total: pages.total, ids };
}

/** A collection with NULL and repeated sort values: 1.1 payload-less PUTs have no modified, some records no sortindex. */
function seed(e: StorageEngine, clock: { now: number }): void {
  for (let i = 0; i < 12; i++) {
    clock.now += 1000;
    const record = i % 4 === 0 ? { id: `r${i}`, sortindex: i % 3 } : { id: `r${i}`, payload: "x", ...(i % 2 ? { sortindex: i % 3 } : {}) };
    ok(e.put({ collection: "c", record, quota: null }));
  }
  // Two records with the same modified (one POST).
  ok(e.post({ collection: "c", records: [{ id: "s1", payload: "y" }, { id: "s2", payload: "y", sortindex: 1 }], quota: null }));
}

const ORDERS: Array<SortOrder | undefined> = [undefined, "oldest", "newest", "index"];

describe("engine: keyset pages read a listing exactly as one call would", () => {
  for (const profile of [PROFILE_1_1, PROFILE_1_5] as Profile[]) {
    for (const sort of ORDERS) {
      it(`${profile.protocol} sort=${sort ?? "(none)"}: pages of 1, 2 and 5 give the single-call order; total counts the selection`, async () => {
        await withEngine(profile, async (e, clock) => {
          seed(e, clock);
          const whole = ok(e.list({ collection: "c", full: false, ...(sort ? { sort } : {}) })).records.map((r) => r.id);
          expect(whole).toHaveLength(14);
          for (const n of [1, 2, 5]) {
            const r = await readAll(e, { collection: "c", full: false, ...(sort ? { sort } : {}) }, n);
            expect(r.ids).toEqual(whole);
            expect(r.total).toBe(14);
          }
          const windowed = await readAll(e, { collection: "c", full: true, limit: 7, offset: 3, ...(sort ? { sort } : {}) }, 2);
          expect(windowed.ids).toEqual(whole.slice(3, 10));
          expect(windowed.total).toBe(7);
        });
      });
    }
  }

  it("an ids-only page stays within the byte budget when the record cap alone would not", async () => {
    await withEngine(PROFILE_1_5, (e) => {
      ok(e.post({ collection: "c", records: ["a", "b", "c"].map((ch) => ({ id: ch.repeat(64), payload: "" })), quota: null }));
      // 2 ids of 64 + 16 units fit 170, a third does not.
      const p = ok(e.list({ collection: "c", full: false, pageCap: 1000, pageBytes: 170, sort: "index" }));
      expect(p.records).toHaveLength(2);
      expect(p.nextOffset).toBe(2);
      expect(ok(e.list({ collection: "c", full: false, pageCap: 2, pageBytes: 170 })).records).toHaveLength(2);
    });
  });

  it("storage-1.1: rows deleted between pages shift nothing: every untouched record is read exactly once", async () => {
    await withEngine(PROFILE_1_1, async (e, clock) => {
      seed(e, clock);
      const whole = ok(e.list({ collection: "c", full: false, sort: "oldest" })).records.map((r) => r.id);
      const gone = whole.slice(0, 3);
      const r = await readAll(e, { collection: "c", full: false, sort: "oldest" }, 4, () => {
        ok(e.deleteRecords({ collection: "c", ids: gone }));
      });
      // The first page (4 rows) was read before the deletion.
      expect(r.ids).toEqual(whole);
      const r2 = await readAll(e, { collection: "c", full: false }, 4, () => {
        ok(e.deleteRecords({ collection: "c", ids: whole.slice(0, 4) }));
      });
      expect(r2.ids).toEqual(whole.filter((id) => !gone.includes(id)));
    });
  });
});

describe("S11-8.5: a collection larger than one Durable Object answer is read back whole", () => {
  it("full listing of 20 × 250,000-character records (pages of 4 MiB): every record, X-Weave-Records, JSON and newlines; limit/offset kept", async () => {
    const a = await register();
    const ids = Array.from({ length: 20 }, (_, i) => `r${i + 1}`);
    const payload = (id: string) => id.padEnd(250_000, "x");
    // Four records per POST stay under BATCH_MAX_BYTES (1 MiB).
    for (let i = 0; i < ids.length; i += 4) {
      const r = await call(a, "POST", "/storage/big", { body: ids.slice(i, i + 4).map((id) => ({ id, payload: payload(id) })) });
      expect((r.json as { success: string[] }).success).toHaveLength(4);
    }
    const all = await call(a, "GET", "/storage/big?full=1");
    expect(all.status).toBe(200);
    expect(all.headers.get("X-Weave-Records")).toBe("20");
    const records = all.json as Array<{ id: string; payload: string }>;
    expect(records.map((r) => r.id)).toEqual(ids);
    expect(records.every((r) => r.payload === payload(r.id))).toBe(true);
    const lines = await call(a, "GET", "/storage/big?full=1", { headers: { Accept: "application/newlines" } });
    expect(lines.text.split("\n").filter((l) => l !== "").map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(ids);
    const window = await call(a, "GET", "/storage/big?full=1&limit=17&offset=2");
    expect(window.headers.get("X-Weave-Records")).toBe("17");
    expect((window.json as Array<{ id: string }>).map((r) => r.id)).toEqual(ids.slice(2, 19));
  }, 60_000);
});

/** A listing's body as bytes (whoisi is binary). */
async function bodyBytes(pages: { body: BodyInit }): Promise<Uint8Array> {
  return new Uint8Array(await new Response(pages.body).arrayBuffer());
}

/** Records whose text needs every escape 1.1 knows: quotes, backslashes, control characters, DEL, non-ASCII, astral pairs. */
function seedAwkward(e: StorageEngine, clock: { now: number }): void {
  const payloads = ['{"a": "q\\"b\\\\"}', "tab\there\nnl\u0001\u007f", "é ü ✓ 😀", "plain"];
  for (let i = 0; i < 9; i++) {
    clock.now += 1000;
    const record = { id: `r${i}`, payload: payloads[i % payloads.length] as string, ...(i % 3 ? { sortindex: i - 4 } : {}), ...(i % 4 === 1 ? { parentid: `p${i}` } : {}) };
    ok(e.put({ collection: "c", record, quota: null }));
  }
}

describe("listings rendered in the store (D20): the same bytes however they are paged", () => {
  const FORMATS = ["json", "newlines", "whoisi"] as const;
  for (const format of FORMATS) {
    for (const full of [true, false]) {
      it(`S11-8.5: 1.1 ${format}${full ? " full" : " ids"}: one call when the listing fits a page; pages of 1, 2, 3 and 4 give its bytes`, async () => {
        await withEngine(PROFILE_1_1, async (e, clock) => {
          seedAwkward(e, clock);
          const how = { protocol: "1.1" as const, format, full };
          const p: ListParams = { collection: "c", full };
          const one = storeOf(e);
          const whole = await listPages(one, p, { records: 100, bytes: 1 << 30 }, how);
          if (!whole.ok) throw new Error("refused");
          expect(one.calls).toBe(1);
          const expected = await bodyBytes(whole);
          if (format === "json") expect(JSON.parse(new TextDecoder().decode(expected))).toHaveLength(9);
          for (const records of [1, 2, 3, 4]) {
            const s = storeOf(e);
            const paged = await listPages(s, p, { records, bytes: 1 << 30 }, how);
            if (!paged.ok) throw new Error("refused");
            expect(paged.total).toBe(9);
            expect(await bodyBytes(paged)).toEqual(expected);
            expect(s.calls).toBe(Math.max(1, Math.ceil(9 / records)));
          }
        });
      });
    }
  }

  it("storage-1.5: a page rendered in the store is the whole answer: count and next offset kept", async () => {
    await withEngine(PROFILE_1_5, async (e, clock) => {
      seedAwkward(e, clock);
      for (const format of ["json", "newlines"] as const) {
        const p = { collection: "c", full: true, pageCap: 4, render: { protocol: "1.5" as const, format, full: true } };
        const rendered = ok(renderedPage((q) => e.list(q), p));
        expect(rendered.count).toBe(4);
        expect(rendered.nextOffset).toBe(4);
        expect(rendered.whole).toBe(true);
        const text = await bodyText(rendered);
        const items = format === "json" ? (JSON.parse(text) as unknown[]) : text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as unknown);
        expect(items).toHaveLength(4);
      }
    });
  });

  it("a page text longer than INLINE_MAX leaves the store as a byte stream of the same text; a short one inline", async () => {
    await withEngine(PROFILE_1_5, async (e) => {
      const big = "é".repeat(INLINE_MAX / 2);
      ok(e.post({ collection: "c", records: ["a", "b", "c"].map((id) => ({ id, payload: big })), quota: null }));
      for (const protocol of ["1.1", "1.5"] as const) {
        const how = { protocol, format: "json" as const, full: true };
        const page = ok(renderedPage((q) => e.list(q), { collection: "c", full: true, render: how }));
        expect(page.body).toBeInstanceOf(ReadableStream);
        const records = ok(e.list({ collection: "c", full: true })).records;
        expect(await bodyText(page)).toBe(renderPage(records, how, true));
        const small = ok(renderedPage((q) => e.list(q), { collection: "c", full: false, render: how }));
        expect(typeof small.body).toBe("string");
      }
    });
  });
});
