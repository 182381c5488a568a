// What current Firefox does, over real HTTP against `wrangler dev`: a mock
// Mozilla-account server issues signed JWTs; the client gets a token from the
// tokenserver, signs Storage 1.5 calls with Hawk, uploads meta/global and
// crypto/keys, uploads bookmarks as one batch over several POSTs, syncs
// incrementally with `newer`, pages through a large collection, is refused
// with a stale generation, and gets a new uid (empty storage) when its client
// state changes.
import { Client15 } from "./client15.mjs";
import { assert, assertEqual } from "./harness.mjs";

const TS = /^\d+\.\d\d$/;

export default function suite({ baseUrl, test, fxa }) {
  if (!fxa) throw new Error("the runner must start the mock account server");
  const c = new Client15(baseUrl, fxa);
  let firstUid;

  test("TS10-7/TS10-10: a Mozilla-account token buys a Hawk token for this server", async () => {
    const r = await c.fetchToken();
    assertEqual(r.status, 200, `token: ${JSON.stringify(r.body)}`);
    assert(Number.isInteger(r.body.uid), "uid is an integer");
    assertEqual(r.body.api_endpoint, `${baseUrl}/1.5/${r.body.uid}`, "api_endpoint");
    assertEqual(r.body.hashalg, "sha256", "hashalg");
    firstUid = r.body.uid;
  });

  test("S15-8.1: meta/global and crypto/keys are uploaded and read back", async () => {
    const meta = await c.storage("PUT", "/storage/meta/global", { body: { id: "global", payload: JSON.stringify({ syncID: "s1", storageVersion: 5 }) } });
    assertEqual(meta.status, 200, `meta PUT ${meta.text}`);
    assert(TS.test(meta.headers.get("x-last-modified") ?? ""), "X-Last-Modified");
    assertEqual(meta.headers.get("x-weave-timestamp"), meta.headers.get("x-last-modified"), "write timestamp");
    const keys = await c.storage("PUT", "/storage/crypto/keys", { body: { payload: "encrypted-keys" } });
    assertEqual(keys.status, 200, "keys PUT");
    const got = await c.storage("GET", "/storage/meta/global");
    assertEqual(got.json.id, "global", "meta id");
    assert(/"modified": ?\d+\.\d\d\b/.test(got.text), "modified has two decimals");
    const info = await c.storage("GET", "/info/collections");
    assertEqual(Object.keys(info.json).sort(), ["crypto", "meta"], "info/collections");
  });

  test("S15-9: bookmarks as one batch in several POSTs, visible only at commit", async () => {
    const before = await c.storage("GET", "/info/collections");
    const all = Array.from({ length: 250 }, (_, i) => ({ id: `bm${String(i).padStart(4, "0")}`, payload: `bookmark ${i}`, sortindex: i }));
    const first = await c.storage("POST", "/storage/bookmarks?batch=true", { body: all.slice(0, 100) });
    assertEqual(first.status, 202, `batch create ${first.text}`);
    const batch = first.json.batch;
    assert(typeof batch === "string" && batch.length > 0, "batch id");
    const lm = first.headers.get("x-last-modified");
    const second = await c.storage("POST", `/storage/bookmarks?batch=${encodeURIComponent(batch)}`, {
      body: all.slice(100, 200),
      headers: { "X-If-Unmodified-Since": lm },
    });
    assertEqual([second.status, second.json.batch], [202, batch], "append");
    const mid = await c.storage("GET", "/info/collections");
    assertEqual(mid.json, before.json, "staging changes nothing visible");
    const commit = await c.storage("POST", `/storage/bookmarks?batch=${encodeURIComponent(batch)}&commit=true`, {
      body: all.slice(200),
      headers: { "X-If-Unmodified-Since": lm },
    });
    assertEqual(commit.status, 200, `commit ${commit.text}`);
    assert(TS.test(String(commit.json.modified.toFixed(2))), "modified");
    const ids = await c.storage("GET", "/storage/bookmarks");
    assertEqual(ids.json.length, 250, "all 250 bookmarks visible");
    const full = await c.storage("GET", "/storage/bookmarks?full=1&limit=1&sort=index");
    assertEqual(full.json[0].id, "bm0249", "sort=index");
  });

  test("S15-7.1: incremental sync with newer= sees only later writes", async () => {
    const info = await c.storage("GET", "/info/collections");
    const since = info.json.bookmarks.toFixed(2);
    const none = await c.storage("GET", `/storage/bookmarks?newer=${since}`);
    assertEqual(none.json, [], "nothing newer");
    await c.storage("POST", "/storage/bookmarks", { body: [{ id: "bm0007", payload: "edited" }, { id: "new1", payload: "new" }] });
    const changed = await c.storage("GET", `/storage/bookmarks?newer=${since}&full=1`);
    assertEqual(changed.json.map((r) => r.id).sort(), ["bm0007", "new1"], "the two changed records");
    const notModified = await c.storage("GET", "/info/collections", { headers: { "X-If-Modified-Since": changed.headers.get("x-last-modified") } });
    assertEqual(notModified.status, 304, "304 when nothing changed since");
  });

  test("S15-7.3: paging through a large collection with X-Weave-Next-Offset", async () => {
    for (let b = 0; b < 10; b++) {
      const records = Array.from({ length: 100 }, (_, i) => ({ id: `h${b}-${i}`, payload: `visit ${b}-${i}` }));
      const r = await c.storage("POST", "/storage/history", { body: records });
      assertEqual(r.json.success.length, 100, "history upload");
    }
    const seen = new Set();
    let offset = null;
    let pages = 0;
    do {
      const r = await c.storage("GET", `/storage/history?full=1&limit=300${offset ? `&offset=${offset}` : ""}`);
      assertEqual(r.status, 200, "page");
      for (const rec of r.json) seen.add(rec.id);
      offset = r.headers.get("x-weave-next-offset");
      pages++;
    } while (offset && pages < 20);
    assertEqual([seen.size, pages], [1000, 4], "1000 records in 4 pages");
  });

  test("HAWK-7: a tampered or replayed request is refused", async () => {
    const url = `${c.token.api_endpoint}/info/collections`;
    const header = c.hawkHeader("GET", url);
    const tampered = await fetch(`${url}?x=1`, { headers: { Authorization: header } });
    assertEqual(tampered.status, 401, "signature over another target");
    const first = await fetch(url, { headers: { Authorization: header } });
    assertEqual(first.status, 200, "first use");
    const replay = await fetch(url, { headers: { Authorization: header } });
    assertEqual(replay.status, 401, "replayed nonce");
  });

  test("hawk: a token for one uid never reaches another uid's data", async () => {
    const other = new Client15(baseUrl, fxa);
    await other.fetchToken();
    const url = `${baseUrl}/1.5/${firstUid}/storage/bookmarks`;
    const r = await fetch(url, { headers: { Authorization: other.hawkHeader("GET", url) } });
    assertEqual(r.status, 400, "uid mismatch");
    assertEqual(await r.text(), "0", "body");
  });

  test("TS10-7.2: a stale generation is refused", async () => {
    const stale = new Client15(baseUrl, fxa, { fxaUid: c.fxaUid, generation: c.generation - 1000, keysChangedAt: c.keysChangedAt, clientState: c.clientState });
    const r = await stale.fetchToken();
    assertEqual(r.status, 401, `stale generation: ${JSON.stringify(r.body)}`);
    assertEqual(r.body.status, "invalid-generation", "status");
  });

  test("TS10-7.3: a new client state gets a new uid and empty storage", async () => {
    const rotated = new Client15(baseUrl, fxa, {
      fxaUid: c.fxaUid,
      generation: c.generation + 1000,
      keysChangedAt: c.keysChangedAt + 1000,
      clientState: "aa".repeat(16),
    });
    const r = await rotated.fetchToken();
    assertEqual(r.status, 200, `rotated token: ${JSON.stringify(r.body)}`);
    assert(r.body.uid !== firstUid, "new uid");
    const info = await rotated.storage("GET", "/info/collections");
    assertEqual(info.json, {}, "new storage is empty");
    const old = await c.fetchToken();
    assertEqual(old.status, 401, "the old client state is now refused");
  });
}
