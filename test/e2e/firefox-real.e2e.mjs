// A real Firefox against this server: Debian's firefox-esr, headless, two
// profiles driven over Marionette (support/firefox-marionette.mjs), signed in
// to a local mock of the Mozilla account servers (support/firefox-accounts.mjs)
// whose RS256 access tokens the server verifies with a pinned key
// (FXA_OAUTH_JWKS). The two profiles sync bookmarks, history, logins, prefs and
// tabs through the server both ways, then a 2,000-bookmark / 5,000-visit import
// makes Firefox batch its uploads and page its downloads. Every check reads the
// data back from each Firefox (Places, the login manager, prefs, synced tabs).
//
// Runs in `npm test` / `node test/e2e/run.mjs` and alone with `npm run test:firefox`.
// Without firefox-esr the suite is reported as SKIPPED with the install command
// (a failure instead when E2E_REQUIRE_FIREFOX=1, as .ci/run sets).
// FIREFOX_PATH points at another binary; FIREFOX_SYNC_LOG=1 shows Sync's debug log
// of a failing profile.
import { startWranglerDev } from "./harness.mjs";
import { startMockAccounts } from "./support/firefox-accounts.mjs";
import { FIREFOX_INSTALL_HINT, firefoxBinary, launchFirefox } from "./support/firefox-marionette.mjs";
import {
  addLogins,
  changeLoginPassword,
  editBookmarks,
  insertBookmarks,
  insertHistory,
  openTabs,
  profilePrefs,
  readBookmarks,
  readHistory,
  readLogins,
  readRemoteTabs,
  readSyncedPrefs,
  refreshDevices,
  serverCounts,
  setPrefs,
  setTokenserver,
  signIn,
  syncOnce,
  takeRequests,
} from "./support/firefox-sync.mjs";

/** This suite starts its own server (with the mock's key pinned), not the runner's shared one. */
export const ownServer = true;

const IMPORT_FOLDERS = 20;
const IMPORT_BOOKMARKS_PER_FOLDER = 100; // 2,000 bookmarks
const IMPORT_PAGES = 2_500;
const IMPORT_VISITS_PER_PAGE = 2; // 5,000 visits
const STEP_TIMEOUT_MS = 180_000;

/** The first place two JSON values differ, for a readable failure. */
function firstDifference(a, b, path = "$") {
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return a.length === b.length ? d : `${d} (lengths ${a.length} vs ${b.length})`;
    }
  }
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference(a[k], b[k], `${path}.${k}`);
      if (d) return d;
    }
  }
  const show = (v) => (v === undefined ? "(missing)" : JSON.stringify(v).slice(0, 300));
  return `${path}: ${show(a)} vs ${show(b)}`;
}

function assertSame(what, a, b, nameA, nameB) {
  const d = firstDifference(a, b);
  if (d) throw new Error(`${what} differ between ${nameA} and ${nameB}: first difference at ${d}`);
}

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

const countBookmarks = (nodes) => nodes.reduce((n, node) => n + (node.url ? 1 : 0) + countBookmarks(node.children ?? []), 0);
const findByUrl = (nodes, url) => {
  for (const node of nodes) {
    if (node.url === url) return node;
    const inner = findByUrl(node.children ?? [], url);
    if (inner) return inner;
  }
  return null;
};

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
    }),
  ]);
}

export default function suite({ test, skip, after, log }) {
  if (!firefoxBinary()) {
    const why = `firefox-esr is not installed (${FIREFOX_INSTALL_HINT})`;
    // .ci/run installs it and sets E2E_REQUIRE_FIREFOX=1: there, a missing Firefox is a failure.
    if (process.env.E2E_REQUIRE_FIREFOX === "1") throw new Error(`${why}; E2E_REQUIRE_FIREFOX=1 requires it`);
    skip(why);
    return;
  }
  const debugLog = process.env.FIREFOX_SYNC_LOG === "1";
  /** @type {{ server?: any, accounts?: any, A?: any, B?: any, names?: Record<string,string> }} */
  const ctx = {};
  let setupFailed = null;
  const timings = {};

  const step = (name, fn) =>
    test(name, async () => {
      if (setupFailed) throw new Error(`not run: setup failed (${setupFailed})`);
      try {
        await withTimeout(fn(), STEP_TIMEOUT_MS, `"${name}"`);
      } catch (err) {
        const tails = [ctx.A, ctx.B]
          .filter(Boolean)
          .map((ff) => `--- Firefox ${ff.name} output (tail) ---\n${ff.output().slice(debugLog ? -8000 : -1500)}`)
          .join("\n");
        err.message += `\n${tails}`;
        throw err;
      }
    });

  // Firefox processes and profiles also go on an abrupt exit (launchFirefox sees to that); so does this server.
  const stopServer = () => ctx.server?.stop();
  process.once("exit", stopServer);
  after(async () => {
    await Promise.all([ctx.A?.quit(), ctx.B?.quit()]);
    process.removeListener("exit", stopServer);
    stopServer();
    await ctx.accounts?.close();
  });

  test("setup: the server pins the mock account server's key; two headless Firefox profiles sign in over Marionette", async () => {
    try {
      const t0 = Date.now();
      ctx.accounts = await startMockAccounts({ log });
      // The server and both browsers start side by side; each start records itself in ctx
      // as soon as it is up, so the cleanup stops whatever did start.
      const launch = async (name) => {
        const ff = await launchFirefox({ name, log, prefs: profilePrefs({ accountsUrl: ctx.accounts.url, debugLog }) });
        ctx[name] = ff;
        timings[`firefox${name}`] = Date.now() - t0;
        return ff;
      };
      const serve = async () => {
        // The large import needs more than the default 5 MB quota.
        ctx.server = await startWranglerDev({
          vars: {
            SYNC_MASTER_SECRET: "firefox-e2e-master-secret-0123456789",
            FXA_OAUTH_SERVER_URL: ctx.accounts.url,
            FXA_OAUTH_JWKS: JSON.stringify(ctx.accounts.jwks),
            QUOTA_SIZE_KB: "65536",
          },
          log,
        });
        timings.server = Date.now() - t0;
      };
      const started = await Promise.allSettled([serve(), launch("A"), launch("B")]);
      const failure = started.find((s) => s.status === "rejected");
      if (failure) throw failure.reason;
      await Promise.all([setTokenserver(ctx.A, ctx.server.baseUrl), setTokenserver(ctx.B, ctx.server.baseUrl)]);
      const [a, b] = await Promise.all([
        signIn(ctx.A, ctx.accounts.signedInUser(), "weave-edge e2e A"),
        signIn(ctx.B, ctx.accounts.signedInUser(), "weave-edge e2e B"),
      ]);
      for (const s of [a, b]) {
        assert(s.email === ctx.accounts.email && s.verified === true, `signed in as the mock account: ${JSON.stringify(s)}`);
        assert(s.username === ctx.accounts.email, "Sync configured for the account");
      }
      assert(a.localID !== b.localID, "two distinct Sync clients");
      ctx.names = { A: a.localName, B: b.localName };
      assert(a.localName === "weave-edge e2e A" && b.localName === "weave-edge e2e B", `device names: ${a.localName}, ${b.localName}`);
      for (const ff of [ctx.A, ctx.B]) {
        const names = await refreshDevices(ff);
        assert(JSON.stringify(names) === JSON.stringify(["weave-edge e2e A", "weave-edge e2e B"]), `${ff.name} sees both devices: ${JSON.stringify(names)}`);
      }
      log(`signed in: ${a.localName} (${a.localID}), ${b.localName} (${b.localID}); up after: server ${timings.server} ms, Firefox A ${timings.firefoxA} ms, B ${timings.firefoxB} ms`);
    } catch (err) {
      setupFailed = String(err?.message ?? err).split("\n")[0];
      throw err;
    }
  });

  step("A → B: bookmarks, history, logins, prefs and tabs added in A reach B", async () => {
    const { A, B } = ctx;
    await insertBookmarks(A, "menu", [
      {
        title: "weave-edge e2e",
        type: 2,
        children: [
          { title: "Sync server", url: "https://sync.example.test/" },
          { title: "Docs with tags", url: "https://docs.example.test/protocol", tags: ["sync", "docs"] },
          { title: "Keyword search", url: "https://search.example.test/?q=%s", keyword: "wse" },
          { type: 3 },
          { title: "Nested", type: 2, children: [{ title: "Deep link", url: "https://deep.example.test/a/b" }] },
        ],
      },
    ]);
    await insertBookmarks(A, "toolbar", [{ title: "Toolbar item", url: "https://toolbar.example.test/" }]);
    const now = Date.now();
    await insertHistory(A, [
      { url: "https://history.example.test/one", title: "One", visits: [{ date: now - 3_600_000 }] },
      { url: "https://history.example.test/two", title: "Two", visits: [{ date: now - 7_200_000 }, { date: now - 3_000_000, transition: 2 }] },
      { url: "https://history.example.test/three", title: "Three", visits: [{ date: now - 86_400_000, transition: 2 }] },
    ]);
    await addLogins(A, [
      { origin: "https://login.example.test", username: "alice", password: "correct horse", usernameField: "user", passwordField: "pass" },
      { origin: "https://realm.example.test", httpRealm: "Private area", username: "bob", password: "battery staple" },
    ]);
    await setPrefs(A, { "browser.urlbar.maxRichResults": 7, "layout.spellcheckDefault": 2, "accessibility.typeaheadfind": true, "browser.startup.homepage": "https://home.example.test/" });
    await openTabs(A, [
      { url: "https://tab-a.example.test/first", title: "A's first tab" },
      { url: "https://tab-a.example.test/second", title: "A's second tab" },
    ]);

    const syncA = await syncOnce(A);
    const syncB = await syncOnce(B);
    log(`first syncs: A ${syncA.ms} ms, B ${syncB.ms} ms`);
    // The server verified the mock's access tokens with the pinned key: it never fetched keys or asked /v1/verify.
    const asked = ctx.accounts.calls.map((c) => `${c.method} ${c.path}`);
    assert(asked.filter((c) => c === "POST /v1/oauth/token").length >= 2, `both profiles got access tokens: ${asked.join(", ")}`);
    assert(!asked.some((c) => c.endsWith("/v1/jwks") || c.endsWith("/v1/verify")), `no key fetch or verify call: ${asked.join(", ")}`);
    await takeRequests(A);
    await takeRequests(B);

    const [bmA, bmB] = await Promise.all([readBookmarks(A), readBookmarks(B)]);
    assert(findByUrl(bmB, "https://docs.example.test/protocol")?.tags === "docs,sync", "tags arrive");
    assert(findByUrl(bmB, "https://search.example.test/?q=%s")?.keyword === "wse", "keyword arrives");
    assertSame("bookmarks", bmA, bmB, "A", "B");
    const [hA, hB] = await Promise.all([readHistory(A), readHistory(B)]);
    assert(hB.some((p) => p.url === "https://history.example.test/two" && p.visits.length === 2), "both visits of a page arrive");
    assertSame("history", hA, hB, "A", "B");
    const [lA, lB] = await Promise.all([readLogins(A), readLogins(B)]);
    assert(lB.length === 2, `two logins in B, got ${JSON.stringify(lB)}`);
    assertSame("logins", lA, lB, "A", "B");
    const [pA, pB] = await Promise.all([readSyncedPrefs(A), readSyncedPrefs(B)]);
    assert(pB["browser.urlbar.maxRichResults"] === 7 && pB["browser.startup.homepage"] === "https://home.example.test/", "prefs arrive");
    assertSame("synced prefs", pA, pB, "A", "B");
    const tabs = await readRemoteTabs(B);
    const fromA = tabs.find((c) => c.name === ctx.names.A);
    assert(fromA, `B sees A's tabs: ${JSON.stringify(tabs)}`);
    const urls = fromA.tabs.map((t) => t.url);
    assert(urls.includes("https://tab-a.example.test/first") && urls.includes("https://tab-a.example.test/second"), `A's open tabs in B: ${JSON.stringify(urls)}`);
  });

  step("B → A: changes made in B (new, renamed and deleted bookmarks, visits, a changed password, a pref, a tab) reach A", async () => {
    const { A, B } = ctx;
    await insertBookmarks(B, "unfiled", [{ title: "Added in B", url: "https://from-b.example.test/" }]);
    await editBookmarks(B, { rename: { "https://sync.example.test/": "Sync server (renamed in B)" }, remove: ["https://toolbar.example.test/"] });
    const now = Date.now();
    await insertHistory(B, [
      { url: "https://history.example.test/one", title: "One", visits: [{ date: now - 60_000 }] },
      { url: "https://history.example.test/from-b", title: "From B", visits: [{ date: now - 120_000, transition: 2 }] },
    ]);
    await changeLoginPassword(B, "https://login.example.test", "alice", "changed in B");
    await addLogins(B, [{ origin: "https://b-only.example.test", username: "carol", password: "from B" }]);
    await setPrefs(B, { "browser.urlbar.maxRichResults": 12 });
    await openTabs(B, [{ url: "https://tab-b.example.test/only", title: "B's tab" }]);

    await syncOnce(B);
    await syncOnce(A);
    await takeRequests(A);
    await takeRequests(B);

    const [bmA, bmB] = await Promise.all([readBookmarks(A), readBookmarks(B)]);
    assert(findByUrl(bmA, "https://from-b.example.test/"), "B's new bookmark in A");
    assert(findByUrl(bmA, "https://sync.example.test/")?.title === "Sync server (renamed in B)", "B's rename in A");
    assert(!findByUrl(bmA, "https://toolbar.example.test/"), "B's deletion in A");
    assertSame("bookmarks", bmB, bmA, "B", "A");
    const [hA, hB] = await Promise.all([readHistory(A), readHistory(B)]);
    assert(hA.find((p) => p.url === "https://history.example.test/one")?.visits.length === 2, "B's new visit to a known page in A");
    assertSame("history", hB, hA, "B", "A");
    const [lA, lB] = await Promise.all([readLogins(A), readLogins(B)]);
    assert(lA.find((l) => l.username === "alice")?.password === "changed in B", "B's password change in A");
    assert(lA.length === 3, `three logins in A, got ${JSON.stringify(lA)}`);
    assertSame("logins", lB, lA, "B", "A");
    const [pA, pB] = await Promise.all([readSyncedPrefs(A), readSyncedPrefs(B)]);
    assert(pA["browser.urlbar.maxRichResults"] === 12, "B's pref change in A");
    assertSame("synced prefs", pB, pA, "B", "A");
    const tabs = await readRemoteTabs(A);
    const fromB = tabs.find((c) => c.name === ctx.names.B);
    assert(fromB?.tabs.some((t) => t.url === "https://tab-b.example.test/only"), `A sees B's tab: ${JSON.stringify(tabs)}`);
  });

  step(
    `large import in A (${IMPORT_FOLDERS * IMPORT_BOOKMARKS_PER_FOLDER} bookmarks, ${IMPORT_PAGES * IMPORT_VISITS_PER_PAGE} visits): A uploads in batches, B downloads in pages, both end identical`,
    async () => {
      const { A, B } = ctx;
      const t0 = Date.now();
      const folders = Array.from({ length: IMPORT_FOLDERS }, (_, f) => ({
        title: `Imported folder ${f}`,
        type: 2,
        children: Array.from({ length: IMPORT_BOOKMARKS_PER_FOLDER }, (_, i) => ({
          title: `Imported bookmark ${f}-${i}`,
          url: `https://import.example.test/bookmarks/${f}/${i}`,
        })),
      }));
      await insertBookmarks(A, "toolbar", [{ title: "Imported", type: 2, children: folders }]);
      const now = Date.now();
      const pages = Array.from({ length: IMPORT_PAGES }, (_, i) => ({
        url: `https://import.example.test/history/${i}`,
        title: `Imported page ${i}`,
        visits: Array.from({ length: IMPORT_VISITS_PER_PAGE }, (_, v) => ({ date: now - 600_000 - (i * IMPORT_VISITS_PER_PAGE + v) * 300_000 })),
      }));
      await insertHistory(A, pages);
      timings.import = Date.now() - t0;

      const upload = await syncOnce(A);
      const upRequests = await takeRequests(A);
      const download = await syncOnce(B);
      const downRequests = await takeRequests(B);
      timings.upload = upload.ms;
      timings.download = download.ms;
      log(`import ${timings.import} ms; A's upload sync ${upload.ms} ms (${JSON.stringify(upload.engines.bookmarks)}, ${JSON.stringify(upload.engines.history)})`);
      log(`B's download sync ${download.ms} ms (${JSON.stringify(download.engines.bookmarks)}, ${JSON.stringify(download.engines.history)})`);

      // Batched uploads: several POSTs per collection, the first opening a batch, the last committing it.
      for (const [collection, least] of [
        ["bookmarks", IMPORT_FOLDERS * (IMPORT_BOOKMARKS_PER_FOLDER + 1)],
        ["history", IMPORT_PAGES],
      ]) {
        const posts = upRequests.filter((r) => r.method === "POST" && new URL(r.url).pathname.endsWith(`/storage/${collection}`));
        const sent = posts.reduce((n, r) => n + (r.records ?? 0), 0);
        assert(sent >= least, `A sent at least ${least} ${collection} records, sent ${sent}`);
        assert(posts.length > 1, `${collection} uploaded in several POSTs, got ${posts.length}`);
        assert(posts.every((r) => r.status === 200 || r.status === 202), `every ${collection} POST accepted: ${JSON.stringify(posts.map((r) => r.status))}`);
        const params = posts.map((r) => new URL(r.url).searchParams);
        assert(params[0].get("batch") === "true", `the first ${collection} POST opens a batch`);
        assert(params.slice(1).every((p) => p.get("batch") && p.get("batch") !== "true"), `later ${collection} POSTs append to the batch`);
        assert(params.at(-1).get("commit") === "true", `the last ${collection} POST commits`);
        log(`${collection}: ${sent} records in ${posts.length} POSTs of at most ${Math.max(...posts.map((r) => r.records ?? 0))}`);
      }
      // Paged downloads: B asks with a limit and follows the offset the server hands out.
      for (const collection of ["bookmarks", "history"]) {
        const gets = downRequests.filter((r) => r.method === "GET" && new URL(r.url).pathname.endsWith(`/storage/${collection}`));
        const paged = gets.filter((r) => new URL(r.url).searchParams.has("offset"));
        assert(paged.length >= 1, `B paged through ${collection} (GETs: ${gets.map((r) => new URL(r.url).search).join(" ")})`);
        log(`${collection}: ${gets.length} GETs, ${paged.length} with an offset`);
      }
      assert(download.engines.bookmarks?.applied >= IMPORT_FOLDERS * IMPORT_BOOKMARKS_PER_FOLDER, `B applied the imported bookmarks: ${JSON.stringify(download.engines)}`);
      assert(download.engines.history?.applied >= IMPORT_PAGES, `B applied the imported history: ${JSON.stringify(download.engines)}`);

      // What the server stored: at least every record A sent (plus the earlier ones and tombstones).
      const counts = await serverCounts(B);
      assert(counts.bookmarks >= IMPORT_FOLDERS * (IMPORT_BOOKMARKS_PER_FOLDER + 1) && counts.history >= IMPORT_PAGES, `server counts: ${JSON.stringify(counts)}`);
      for (const c of ["clients", "tabs", "passwords", "prefs", "crypto", "meta"]) assert(counts[c] >= 1, `server holds ${c}: ${JSON.stringify(counts)}`);
      log(`server holds: ${JSON.stringify(counts)}`);

      const [bmA, bmB] = await Promise.all([readBookmarks(A), readBookmarks(B)]);
      assert(countBookmarks(bmB) >= IMPORT_FOLDERS * IMPORT_BOOKMARKS_PER_FOLDER, `B has the ${IMPORT_FOLDERS * IMPORT_BOOKMARKS_PER_FOLDER} imported bookmarks (has ${countBookmarks(bmB)})`);
      assertSame("bookmarks", bmA, bmB, "A", "B");
      const [hA, hB] = await Promise.all([readHistory(A), readHistory(B)]);
      const visitsB = hB.reduce((n, p) => n + p.visits.length, 0);
      assert(visitsB >= IMPORT_PAGES * IMPORT_VISITS_PER_PAGE, `B has the ${IMPORT_PAGES * IMPORT_VISITS_PER_PAGE} imported visits (has ${visitsB})`);
      assertSame("history", hA, hB, "A", "B");
      assertSame("logins", await readLogins(A), await readLogins(B), "A", "B");
      assertSame("synced prefs", await readSyncedPrefs(A), await readSyncedPrefs(B), "A", "B");
      log(`identical after the import: ${countBookmarks(bmB)} bookmarks, ${hB.length} pages / ${visitsB} visits`);
    },
  );
}
