// The admin CLI (scripts/admin.mjs) end to end against two fresh `wrangler dev`
// servers with ADMIN_TOKEN set: clear errors (wrong token, unreachable
// server, unknown user, API off), every command (support/admin-commands.mjs,
// also run against `npm run serve` by admin-selfhost.e2e.mjs), a user's
// credentials refused, wrong tokens throttled, a 1.1 export → import round
// trip of generated records compared byte for byte, and a Sync 1.5 user moved
// from A to B who gets the same uid and sees the same collections and
// timestamps on the first request after fetching a token from B.
// ADMIN_E2E_RECORDS sets the round trip's size (default 20000).
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client11 } from "./client11.mjs";
import { Client15 } from "./client15.mjs";
import { assert, assertEqual, freePort, startWranglerDev } from "./harness.mjs";
import { cli, roundTrip } from "../../scripts/admin-roundtrip.mjs";
import { firstRequestSeesOldData, goSyncstorage, serverFullDb, syncstorageDb } from "./support/import-fixtures.mjs";
import { everyCommand11, everyCommand15, userCredentialsRefused, wrongTokenThrottled } from "./support/admin-commands.mjs";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";

/** Runs a migration importer under this Node (22: node:sqlite). */
function importer(name, args) {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--no-warnings", join(process.cwd(), "tools", "import", `${name}.mjs`), ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const ndjsonIn = (d) => readdirSync(d).filter((f) => f.endsWith(".ndjson")).map((f) => join(d, f));
const ts2 = (ms) => (ms / 1000).toFixed(2);

const TOKEN = "e2e-admin-token-0123456789abcdef";

export default function suite({ test, log, vars, fxa, baseUrl }) {
  let a;
  let b;
  const dir = mkdtempSync(join(tmpdir(), "weave-admin-e2e-"));
  const on = (srv) => ({ url: srv.baseUrl, token: TOKEN });

  test("start two servers with ADMIN_TOKEN", async () => {
    [a, b] = await Promise.all([startWranglerDev({ vars: { ...vars, ADMIN_TOKEN: TOKEN }, log }), startWranglerDev({ vars: { ...vars, ADMIN_TOKEN: TOKEN }, log })]);
  });

  test("clear errors: wrong token, unreachable server, unknown user, admin API off", async () => {
    const wrong = await cli(["health"], { url: a.baseUrl, token: "not-the-token-at-all" });
    assertEqual(wrong.code, 1, "exit code");
    assert(wrong.stderr.includes("wrong admin token"), wrong.stderr);
    const port = await freePort();
    const down = await cli(["health"], { url: `http://127.0.0.1:${port}`, token: TOKEN });
    assert(down.code === 1 && down.stderr.includes("cannot reach"), down.stderr);
    const unknown = await cli(["show", "acct:nobody"], on(a));
    assert(unknown.code === 1 && unknown.stderr.includes("unknown user acct:nobody"), unknown.stderr);
    // The shared e2e server has no ADMIN_TOKEN: the API does not exist there.
    const off = await cli(["health"], { url: baseUrl, token: TOKEN });
    assert(off.code === 1 && off.stderr.includes("admin API is off"), off.stderr);
    const noToken = await cli(["health"], { url: a.baseUrl, env: { ADMIN_TOKEN: "" } });
    assert(noToken.code === 2 && noToken.stderr.includes("no admin token"), noToken.stderr);
  });

  let c11;
  let c15;
  test("Sync 1.1: health, users, show, disable/enable, unlock, purge, export, import --as, delete", async () => {
    c11 = (await everyCommand11({ ...on(a), dir, secrets: [vars.SYNC_MASTER_SECRET] })).client;
  });

  test("Sync 1.5: users, show, unlock, purge, export, delete, import: Firefox gets its uid and data back", async () => {
    c15 = (await everyCommand15({ ...on(a), fxa, dir })).client;
  });

  test("a user's Basic credentials and Hawk token are refused by the admin API", async () => {
    await userCredentialsRefused({ url: a.baseUrl, c11, c15 });
  });

  test("1.1 export → import round trip between the two servers, byte for byte", async () => {
    const n = Number(process.env.ADMIN_E2E_RECORDS ?? 20000);
    const c = new Client11(a.baseUrl);
    await c.register();
    const r = await roundTrip({ a, b, token: TOKEN, username: c.username, n, dir });
    log(`round trip of ${n} records: ${JSON.stringify(r)}`);
    // The account moved with its password: the same client reads the same answers on B.
    const cb = new Client11(b.baseUrl, c.email, c.password);
    await c.lookupNode();
    await cb.lookupNode();
    for (const path of ["/info/collections", "/info/collection_counts", "/storage/bookmarks?full=1&limit=50&sort=index", "/storage/history?newer=1700000500000&full=1"]) {
      const [x, y] = await Promise.all([c.storage("GET", path), cb.storage("GET", path)]);
      assertEqual(y.status, 200, `${path} on B`);
      assertEqual(y.text, x.text, `${path} identical on A and B`);
    }
  });

  test("1.5 user moved to another server keeps uid, generation and client state; Firefox sees its data at once", async () => {
    const ff = new Client15(a.baseUrl, fxa);
    assertEqual((await ff.fetchToken()).status, 200, "token from A");
    const uid = ff.token.uid;
    await ff.storage("PUT", "/storage/meta/global", { body: { payload: "meta" } });
    await ff.storage("POST", "/storage/bookmarks", { body: [{ id: "a", payload: "A", sortindex: 2 }, { id: "b", payload: "B" }] });
    const before = await ff.storage("GET", "/info/collections");
    const listBefore = await ff.storage("GET", "/storage/bookmarks?full=1");

    const file = join(dir, "ff.ndjson");
    const ex = await cli(["export", `uid:${uid}`, "--out", file], on(a));
    assertEqual(ex.code, 0, ex.stderr);
    assert(readFileSync(file, "utf8").includes('"type":"token_user"'), "token row exported");
    const im = await cli(["import", file, "--json"], on(b));
    assertEqual(im.code, 0, im.stderr);
    assertEqual(JSON.parse(im.stdout).target, `uid:${uid}`, "same uid on B");

    const moved = new Client15(b.baseUrl, fxa, { fxaUid: ff.fxaUid, generation: ff.generation, keysChangedAt: ff.keysChangedAt, clientState: ff.clientState });
    const t = await moved.fetchToken();
    assertEqual(t.status, 200, `token from B: ${JSON.stringify(t.body)}`);
    assertEqual(t.body.uid, uid, "B's tokenserver hands out the same uid");
    const after = await moved.storage("GET", "/info/collections");
    assertEqual(after.json, before.json, "same collections and timestamps");
    const listAfter = await moved.storage("GET", "/storage/bookmarks?full=1");
    assertEqual(listAfter.text, listBefore.text, "same records");
  });

  const importN = Number(process.env.ADMIN_E2E_IMPORT_RECORDS ?? 3000);

  test("server-full importer: accounts keep names, e-mail and {SSHA-256} passwords; records, parent ids, times; bad rows skipped", async () => {
    const users = [
      { username: `sf${randomBytes(4).toString("hex")}`, password: "old password 1", email: "one@example.com" },
      { username: `sf${randomBytes(4).toString("hex")}`, password: "old password 2", email: "two@example.com" },
    ];
    const fx = await serverFullDb(dir, { n: importN, users });
    const outDir = join(dir, "out-server-full");
    const r = await importer("server-full", [fx.path, "--out", outDir]);
    assertEqual(r.code, 0, r.stderr);
    assert(r.stderr.includes("3 rows skipped") && r.stderr.includes("sortindex is not an integer") && r.stderr.includes("collection id 9"), r.stderr);
    const im = await cli(["import", ...ndjsonIn(outDir), "--json"], on(b));
    assertEqual(im.code, 0, im.stderr);
    const c = new Client11(b.baseUrl, users[0].email, users[0].password);
    c.username = users[0].username;
    await c.lookupNode();
    const counts = await c.storage("GET", "/info/collection_counts");
    assertEqual(counts.status, 200, `old password logs in: ${counts.text}`);
    assertEqual(counts.json, { bookmarks: Math.ceil(importN / 2), history: Math.floor(importN / 2) }, "record counts");
    const one = await c.storage("GET", "/storage/bookmarks?ids=w0,w6&full=1");
    const w0 = one.json.find((x) => x.id === "w0");
    assertEqual([w0.parentid, w0.modified], ["folder", 1700000000], "w0 kept parentid and modified (hundredths → ms)");
    const second = new Client11(b.baseUrl, users[1].email, users[1].password);
    second.username = users[1].username;
    await second.lookupNode();
    assertEqual((await second.storage("GET", "/storage/history/second")).json.payload, "other user", "second account moved");
  });

  for (const flavor of ["python", "rs", "go"]) {
    test(`${flavor === "go" ? "go-syncstorage" : flavor === "rs" ? "syncstorage-rs (SQLite)" : "Python syncserver"} importer: Firefox keeps its uid and sees its old data on its first request`, async () => {
      const uid = { python: 5001, rs: 6001, go: 7001 }[flavor];
      const account = { uid, fxaUid: fxa.randomUid(), generation: 1_700_000_000_000, keysChangedAt: 1_700_000_000_000, clientState: randomBytes(16).toString("hex") };
      const n = flavor === "go" ? 1 : importN;
      const outDir = join(dir, `out-${flavor}`);
      let r;
      if (flavor === "go") {
        const fx = await goSyncstorage(dir, { n, account });
        r = await importer("go-syncstorage", [fx.dir, "--tokenserver", fx.tokenserver, "--out", outDir]);
      } else {
        const other = { uid: uid + 1, fxaUid: fxa.randomUid(), generation: 1, keysChangedAt: 1, clientState: "00".repeat(16), replacedAt: 1 };
        const fx = await syncstorageDb(dir, { n, accounts: [account, other], flavor });
        r = await importer("syncstorage", [fx.path, "--out", outDir]);
        assert(r.stderr.includes("no tokenserver row") && r.stderr.includes("was replaced"), r.stderr);
      }
      assertEqual(r.code, 0, r.stderr);
      assert(r.stderr.includes("sortindex is not an integer") && r.stderr.includes("collection id has no name"), r.stderr);
      const im = await cli(["import", ...ndjsonIn(outDir), "--json"], on(b));
      assertEqual(im.code, 0, im.stderr);

      if (flavor !== "go") {
        await firstRequestSeesOldData({ Client15, url: b.baseUrl, fxa, account, n, assertEqual });
        return;
      }
      const ff = new Client15(b.baseUrl, fxa, account);
      const t = await ff.fetchToken();
      assertEqual(t.status, 200, JSON.stringify(t.body));
      assertEqual(t.body.uid, uid, "same uid");
      const info = await ff.storage("GET", "/info/collections");
      const T0 = 1_700_000_000_000;
      assertEqual(info.json, { bookmarks: Number(ts2(T0 + 10)), history: Number(ts2(T0 + 10)), meta: Number(ts2(T0)) }, "collections and timestamps");
    });
  }

  // Last on A: it locks A's admin API for a while.
  test("wrong admin tokens are refused and throttled; the right one works after the lock", async () => {
    await wrongTokenThrottled({ url: a.baseUrl, token: TOKEN, log });
  });

  test("stop the servers", async () => {
    a?.stop();
    b?.stop();
  });
}
