/**
 * @module url
 * The parts of a request's URL without a URL parser. `request.url` is
 * always a serialized absolute http(s) URL, so its path starts at the first
 * `/` after `://` and its query at the first `?` after that; these give what
 * `new URL(url).pathname` / `.search` would, without building a URL object
 * per request (hot paths: routing, Hawk, query strings).
 */

/** Where the path starts, the query's `?` (or -1) and where the query ends (a fragment, or the end). */
function bounds(url: string): { start: number; q: number; end: number } {
  const scheme = url.indexOf("://");
  let start = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (start < 0) start = url.length;
  const h = url.indexOf("#", start);
  const end = h < 0 ? url.length : h;
  const q = url.indexOf("?", start);
  return { start, q: q < 0 || q >= end ? -1 : q, end };
}

/** `new URL(url).pathname` of a serialized URL: the raw (still percent-encoded) path. */
export function urlPath(url: string): string {
  const { start, q, end } = bounds(url);
  const path = url.slice(start, q < 0 ? end : q);
  return path === "" ? "/" : path;
}

/** `new URL(url).search` of a serialized URL: `?` and the query, or "" when the query is absent or empty. */
export function urlSearch(url: string): string {
  const { q, end } = bounds(url);
  return q < 0 || q + 1 === end ? "" : url.slice(q, end);
}

/** The text before the path (`scheme://host:port`): a key for whatever depends only on the origin. */
export function urlOriginText(url: string): string {
  return url.slice(0, bounds(url).start);
}
