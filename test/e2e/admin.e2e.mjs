// The admin CLI (scripts/admin.mjs) end to end against two fresh `wrangler dev`
// servers with ADMIN_TOKEN set: clear errors (wrong token, unreachable
// server, unknown user, API off), every command, a 1.1 export → import round
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

  test("health, users, show, disable/enable, unlock, purge, delete", async () => {
    const h = await cli(["health", "--json"], on(a));
    assertEqual(h.code, 0, h.stderr);
    const health = JSON.parse(h.stdout);
    assertEqual(health.secrets.ADMIN_TOKEN, "set", "ADMIN_TOKEN set");
    assert(!h.stdout.includes(TOKEN) && !h.stdout.includes(vars.SYNC_MASTER_SECRET), "no secret values in health");
    assert((await cli(["health"], on(a))).stdout.includes("secrets"), "human health");

    const c = new Client11(a.baseUrl);
    await c.register();
    await c.lookupNode();
    const post = await c.storage("POST", "/storage/bookmarks", { body: [{ id: "x", payload: "1" }, { id: "y", payload: "2" }] });
    assertEqual(post.status, 200, post.text);
    await c.storage("PUT", "/storage/tabs/t", { body: { payload: "t", ttl: 1 } });

    const list = await cli(["users", "1.1"], on(a));
    assert(list.stdout.includes(`acct:${c.username}`) && list.stdout.includes("records"), list.stdout);
    const listed = JSON.parse((await cli(["users", "1.1", "--json"], on(a))).stdout).find((u) => u.username === c.username);
    assertEqual([listed.records, listed.collections, listed.disabled], [3, 2, false], "listed usage");
    const show = await cli(["show", `acct:${c.username}`], on(a));
    assert(show.stdout.includes("bookmarks") && show.stdout.includes("tabs"), show.stdout);

    assertEqual((await cli(["disable", `acct:${c.username}`], on(a))).code, 0, "disable");
    assertEqual((await c.storage("GET", "/info/collections")).status, 401, "disabled login refused");
    assertEqual((await cli(["enable", `acct:${c.username}`], on(a))).code, 0, "enable");
    assertEqual((await c.storage("GET", "/info/collections")).status, 200, "enabled login works");

    const bad = new Client11(a.baseUrl, c.email, "wrong-password");
    bad.node = c.node;
    let last = 0;
    for (let i = 0; i < 8; i++) last = (await bad.storage("GET", "/info/collections")).status;
    assertEqual(last, 503, "throttled");
    assert(JSON.parse((await cli(["show", `acct:${c.username}`, "--json"], on(a))).stdout).locked, "shown as locked");
    assertEqual((await cli(["unlock", `acct:${c.username}`], on(a))).code, 0, "unlock");
    assertEqual((await c.storage("GET", "/info/collections")).status, 200, "unlocked");

    await new Promise((r) => setTimeout(r, 2100));
    const purge = JSON.parse((await cli(["purge", `acct:${c.username}`, "--json"], on(a))).stdout);
    assertEqual(purge.purged, 1, "purged the expired tab");

    const refuse = await cli(["delete", `acct:${c.username}`], on(a));
    assert(refuse.code === 2 && refuse.stderr.includes("--yes"), "delete asks for --yes");
    assertEqual((await cli(["delete", `acct:${c.username}`, "--yes"], on(a))).code, 0, "delete");
    assertEqual((await c.storage("GET", "/info/collections")).status, 401, "deleted account cannot log in");
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

  test("stop the servers", async () => {
    a?.stop();
    b?.stop();
  });
}
