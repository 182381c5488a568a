/**
 * src/lib/url.ts: the path, query and origin text of serialized request URLs
 * agree with the URL parser's, including the edge cases a client can send
 * (empty query, fragment, encoded characters, dot segments already resolved
 * by serialization, ports, IPv6 hosts). Hawk signs exactly this path + query
 * (HAWK), so any difference would be a wire change.
 */
import { describe, expect, it } from "vitest";
import { urlOriginText, urlPath, urlSearch } from "../../src/lib/url";

const INPUTS = [
  "http://sync.test/1.5/17/info/collections",
  "http://sync.test/1.5/17/storage/bookmarks?full=1&newer=1700000000.00",
  "http://sync.test/1.5/17/storage/bookmarks?",
  "http://sync.test/1.5/17/storage/bookmarks?#frag",
  "http://sync.test/a?b=c#d?e",
  "http://sync.test/a#b?c",
  "http://sync.test",
  "http://sync.test/",
  "http://sync.test/x/../1.5/./17/info/collections",
  "http://sync.test/1.1/us%2Fer/info/collections?x=%20y",
  "https://user:pa%2Fss@Sync.Test:8443/p/q?r=/s",
  "http://[::1]:8787/1.5/1/info/collections?a=1",
  "http://127.0.0.1:0/1.5/1/storage/c/%7Bid%7D?ids=a,b",
];

describe("url parts without a parser", () => {
  for (const input of INPUTS) {
    it(input, () => {
      const serialized = new Request(input).url; // what a Worker sees
      const u = new URL(serialized);
      expect(urlPath(serialized)).toBe(u.pathname);
      expect(urlSearch(serialized)).toBe(u.search);
      const origin = urlOriginText(serialized);
      expect(serialized.startsWith(origin + u.pathname)).toBe(true);
      expect(new URL(origin).origin).toBe(u.origin);
      expect(new URL(origin).port).toBe(u.port);
    });
  }
});
