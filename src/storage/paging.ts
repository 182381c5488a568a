/**
 * @module paging
 * Reading a whole listing out of a user's store page by page, for protocols
 * that have no paging on the wire (Storage 1.1): no single Durable Object
 * call answers more than one page, so any collection a user could write can
 * be read back, with memory bounded by the page rather than the collection.
 *
 * The first page carries the response's timestamp and, when more pages
 * follow, the number of records the listing selects at that moment. Later
 * pages continue after the last row read (keyset, not offset), so rows
 * deleted or added meanwhile never shift a page: every record that stays
 * unchanged during the listing is read exactly once; one changed meanwhile
 * may be missed or read twice, and then carries a `modified` above the
 * response's timestamp, so a client's next `newer=` read gets it.
 */
import type { StoreApi } from "./stub";
import { callStore } from "./stub";
import type { Failure, ListCursor, ListParams, ListResult, Result, StoredRecord } from "./types";

/** Most records and record units (`recordSize`) one page carries. */
export interface PageLimits {
  records: number;
  bytes: number;
}

/**
 * Records and units per page for Storage 1.1 listings: one page's records
 * cross the RPC as UTF-16 strings (at most 2 bytes a unit), far below the
 * 32 MiB cap of a call, and render to a few times that in the Worker at most.
 */
export const LIST_PAGE_11: PageLimits = { records: 5000, bytes: 4 * 1024 * 1024 };

export type Pages =
  | {
      ok: true;
      ts: number;
      /** Records the listing selects (for a single page: exactly the page's). */
      total: number;
      first: StoredRecord[];
      /** The following pages, or null when the first was all. */
      rest: AsyncIterable<StoredRecord[]> | null;
    }
  | { ok: false; failure: Failure; ts: number };

/** A listing (client limit and offset included) as a first page and an iterator over the others. */
export async function listPages(store: StoreApi, p: ListParams, page: PageLimits): Promise<Pages> {
  const paged = { pageCap: page.records, pageBytes: page.bytes };
  const first = await callStore(() => store.list({ ...p, ...paged, count: true }));
  if (!first.ok) return first;
  if (first.cursor === undefined) return { ok: true, ts: first.ts, total: first.records.length, first: first.records, rest: null };
  const startCursor = first.cursor;
  let read = first.records.length;
  const rest = async function* (): AsyncGenerator<StoredRecord[]> {
    let cursor: ListCursor | undefined = startCursor;
    while (cursor !== undefined) {
      const { offset: _offset, ...selection } = p;
      const limit = p.limit === undefined ? undefined : p.limit - read;
      if (limit !== undefined && limit <= 0) return;
      const after: ListCursor = cursor;
      const r: Result<ListResult> = await callStore(() => store.list({ ...selection, ...paged, ...(limit === undefined ? {} : { limit }), after }));
      if (!r.ok) throw new Error(`listing page refused: ${r.failure.kind}`);
      read += r.records.length;
      yield r.records;
      cursor = r.cursor;
    }
  };
  return { ok: true, ts: first.ts, total: first.total ?? read, first: first.records, rest: rest() };
}
