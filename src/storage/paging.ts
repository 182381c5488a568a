/**
 * @module paging
 * Listings rendered where they are read. A listing's body is rendered inside
 * the user's Durable Object, right after the page is read, and leaves it as
 * a byte stream beside the RPC answer: far cheaper than cloning thousands of
 * record objects across and rendering them in the Worker, or than sending
 * the text as a string inside the answer (the bench's GET 5000 full, D20).
 *
 * Storage 1.1 has no paging on the wire, so a 1.1 listing is read out of
 * the store page by page: no single Durable Object call answers more than
 * one page, so any collection a user could write can be read back, with
 * memory bounded by the page rather than the collection. A listing that
 * fits one page (the usual case) is one call whose answer is the whole body.
 *
 * The first page carries the response's timestamp and, when more pages
 * follow, the number of records the listing selects at that moment. Later
 * pages continue after the last row read (keyset, not offset), so rows
 * deleted or added meanwhile never shift a page: every record that stays
 * unchanged during the listing is read exactly once; one changed meanwhile
 * may be missed or read twice, and then carries a `modified` above the
 * response's timestamp, so a client's next `newer=` read gets it.
 */
import { pyString } from "../protocol/pyjson";
import { renderList as renderList11, renderRecord as renderRecord11, type ListFormat } from "../protocol/v1_1";
import { renderBso, renderList as renderList15 } from "../protocol/v1_5";
import type { StoreApi } from "./stub";
import { callStore } from "./stub";
import type { Failure, ListCursor, ListParams, ListResult, Result, StoredRecord } from "./types";

/** Most records and record units (`recordSize`) one page carries. */
export interface PageLimits {
  records: number;
  bytes: number;
}

/**
 * Records and units per page for Storage 1.1 listings. A page's rendered
 * text is at most 6 characters a unit (a control character escaped as
 * `\u00XX`), all ASCII (1.1 escapes everything else): at most 24 MiB held by
 * the store at once, however long the listing.
 */
export const LIST_PAGE_11: PageLimits = { records: 5000, bytes: 4 * 1024 * 1024 };

/**
 * A page text up to this long (characters or bytes) travels inside the RPC
 * answer; a longer one as a byte stream beside it. A stream has a set-up cost
 * of its own that a short answer (an empty `newer` poll) should not pay.
 */
export const INLINE_MAX = 64 * 1024;

/** How a listing's records become its body: the protocol, its list encoding, whole records or ids. */
export type ListRender = { protocol: "1.1"; format: ListFormat; full: boolean } | { protocol: "1.5"; format: "json" | "newlines"; full: boolean };

/** A listing to be answered as text ({@link renderedPage}). */
export type RenderedListParams = ListParams & { render: ListRender };

/** A page's text: the body itself, or (1.1 pages of a longer listing) the items joined, without the list's framing. */
export type PageText = string | Uint8Array;

/** What the store answers for a rendered listing page. */
export type RenderedPage = Omit<ListResult, "records"> & {
  /** Records on the page. */
  count: number;
  /** The page's text ({@link renderPage}): as it is when short, else as a stream of its UTF-8 bytes. */
  body: PageText | ReadableStream<Uint8Array>;
  /** `body` is the whole response body (the listing's only page, or any 1.5 page): framed as a list. */
  whole: boolean;
};

/**
 * A page's records as text. `framed`: the whole body of the list encoding
 * (JSON brackets); otherwise a piece of a longer 1.1 body: the items joined
 * as inside the list (JSON: ", "), for {@link streamPages} to put together.
 */
export function renderPage(records: readonly StoredRecord[], how: ListRender, framed: boolean): PageText {
  if (how.protocol === "1.5") {
    const items = how.full ? records.map(renderBso) : records.map((r) => JSON.stringify(r.id));
    return renderList15(items, how.format);
  }
  const items = how.full ? records.map(renderRecord11) : records.map((r) => pyString(r.id));
  if (!framed && how.format === "json") return items.join(", ");
  return renderList11(items, how.format);
}

/**
 * The store side of a rendered listing: one engine page (`list`), rendered
 * in place. Storage 1.1 (`how.protocol`) frames only a page that is the
 * whole listing; 1.5 answers are always one page. A long text leaves as a
 * byte stream, outside the call's message: measured, a 2.5 MB body costs far
 * less CPU that way than as a string inside the RPC answer (bench/ab.mjs),
 * and the 32 MiB cap of a call does not apply to it.
 */
export function renderedPage(list: (p: ListParams) => Result<ListResult>, p: RenderedListParams): Result<RenderedPage> {
  const { render: how, ...params } = p;
  const r = list(params);
  if (!r.ok) return r;
  const { records, ...rest } = r;
  const whole = how.protocol === "1.5" || (params.after === undefined && r.cursor === undefined);
  const text = renderPage(records, how, whole);
  const body = text.length <= INLINE_MAX ? text : (new Response(text).body as ReadableStream<Uint8Array>);
  return { ...rest, count: records.length, body, whole };
}

export type Pages =
  | {
      ok: true;
      ts: number;
      /** Records the listing selects (for a single page: exactly the page's). */
      total: number;
      /** The body: the store's own when the first page was all, otherwise written as the pages are read. */
      body: PageText | ReadableStream<Uint8Array>;
    }
  | { ok: false; failure: Failure; ts: number };

/** A Storage 1.1 listing (client limit and offset included), rendered in the store, as one body or a stream of pages. */
export async function listPages(store: StoreApi, p: ListParams, page: PageLimits, how: ListRender & { protocol: "1.1" }): Promise<Pages> {
  const paged = { pageCap: page.records, pageBytes: page.bytes };
  const first = await callStore(() => store.listRendered({ ...p, ...paged, count: true, render: how }));
  if (!first.ok) return first;
  if (first.whole) return { ok: true, ts: first.ts, total: first.count, body: first.body };
  const startCursor = first.cursor;
  let read = first.count;
  const rest = async function* (): AsyncGenerator<RenderedPage> {
    let cursor: ListCursor | undefined = startCursor;
    while (cursor !== undefined) {
      const { offset: _offset, ...selection } = p;
      const limit = p.limit === undefined ? undefined : p.limit - read;
      if (limit !== undefined && limit <= 0) return;
      const after: ListCursor = cursor;
      const r = await callStore(() => store.listRendered({ ...selection, ...paged, ...(limit === undefined ? {} : { limit }), after, render: how }));
      if (!r.ok) throw new Error(`listing page refused: ${r.failure.kind}`);
      read += r.count;
      yield r;
      cursor = r.cursor;
    }
  };
  return { ok: true, ts: first.ts, total: first.total ?? read, body: streamPages(first, rest(), how) };
}

/** A 1.1 list body written page by page, in any of the 1.1 list encodings: the pages' own bytes, JSON framing added here. */
function streamPages(first: RenderedPage, rest: AsyncIterator<RenderedPage>, how: ListRender): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const json = how.format === "json";
  async function* chunks(): AsyncGenerator<Uint8Array> {
    if (json) yield encoder.encode("[");
    let written = 0;
    for (let page: RenderedPage | undefined = first; page !== undefined; ) {
      if (json && written > 0 && page.count > 0) yield encoder.encode(", ");
      written += page.count;
      if (typeof page.body === "string") yield encoder.encode(page.body);
      else if (page.body instanceof Uint8Array) yield page.body;
      else for await (const chunk of page.body) yield chunk;
      const next = await rest.next();
      page = next.done ? undefined : next.value;
    }
    if (json) yield encoder.encode("]");
  }
  const it = chunks();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await it.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await it.return(undefined);
    },
  });
}
