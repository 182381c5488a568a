/**
 * @module paging
 * Listings rendered where they are read. A listing's body is rendered inside
 * the user's Durable Object, right after the page is read, and crosses the
 * RPC as one string (whoisi: one byte array): far cheaper than cloning
 * thousands of record objects across and rendering them in the Worker (the
 * bench's GET 5000 full, D20).
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
 * `\u00XX`), all ASCII (1.1 escapes everything else), so even the worst page
 * stays below the 32 MiB cap of a Durable Object call.
 */
export const LIST_PAGE_11: PageLimits = { records: 5000, bytes: 4 * 1024 * 1024 };

/**
 * A rendered page longer than this (characters) is not sent as text: the
 * store sends the page's records instead and the Worker renders them (a
 * Storage 1.5 page of 8 MiB of control characters would render to 48 MiB,
 * beyond the 32 MiB cap of a call; UTF-16 text crosses at 2 bytes a unit).
 */
export const MAX_RENDERED_CHARS = 12 * 1024 * 1024;

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
  /** The page's text ({@link renderPage}); absent when it would be too long to send, then `records` holds the page. */
  text?: PageText;
  records?: StoredRecord[];
  /** `text` is the whole body (the listing's only page, or any 1.5 page): framed as a list. */
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
 * whole listing; 1.5 answers are always one page. A text longer than
 * `maxChars` is not sent: the page's records are (see {@link MAX_RENDERED_CHARS}).
 */
export function renderedPage(
  list: (p: ListParams) => Result<ListResult>,
  p: RenderedListParams,
  maxChars = MAX_RENDERED_CHARS,
): Result<RenderedPage> {
  const { render: how, ...params } = p;
  const r = list(params);
  if (!r.ok) return r;
  const { records, ...rest } = r;
  const whole = how.protocol === "1.5" || (params.after === undefined && r.cursor === undefined);
  const text = renderPage(records, how, whole);
  const count = records.length;
  if (text.length > maxChars) return { ...rest, count, records, whole };
  return { ...rest, count, text, whole };
}

/** A page's text, rendered by the store or (when it sent records) here. */
function textOf(page: RenderedPage, how: ListRender): PageText {
  return page.text ?? renderPage(page.records ?? [], how, page.whole);
}

export type Pages =
  | {
      ok: true;
      ts: number;
      /** Records the listing selects (for a single page: exactly the page's). */
      total: number;
      /** The whole body, when the first page was all. */
      body: PageText | null;
      /** Otherwise the body as it is read, page by page. */
      stream: ReadableStream<Uint8Array> | null;
    }
  | { ok: false; failure: Failure; ts: number };

/** A Storage 1.1 listing (client limit and offset included), rendered in the store, as one body or a stream of pages. */
export async function listPages(store: StoreApi, p: ListParams, page: PageLimits, how: ListRender & { protocol: "1.1" }): Promise<Pages> {
  const paged = { pageCap: page.records, pageBytes: page.bytes };
  const first = await callStore(() => store.listRendered({ ...p, ...paged, count: true, render: how }));
  if (!first.ok) return first;
  if (first.whole) return { ok: true, ts: first.ts, total: first.count, body: textOf(first, how), stream: null };
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
  return { ok: true, ts: first.ts, total: first.total ?? read, body: null, stream: streamPages(first, rest(), how) };
}

/** A 1.1 list body written page by page, in any of the 1.1 list encodings. */
function streamPages(first: RenderedPage, rest: AsyncIterator<RenderedPage>, how: ListRender): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const json = how.format === "json";
  let written = 0;
  const chunk = (page: RenderedPage): Uint8Array => {
    const text = textOf(page, how);
    if (typeof text !== "string") return text;
    const sep = json && written > 0 && page.count > 0 ? ", " : "";
    written += page.count;
    return encoder.encode(sep + text);
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (json) controller.enqueue(encoder.encode("["));
      controller.enqueue(chunk(first));
    },
    async pull(controller) {
      const next = await rest.next();
      if (next.done) {
        if (json) controller.enqueue(encoder.encode("]"));
        controller.close();
        return;
      }
      controller.enqueue(chunk(next.value));
    },
  });
}
