// Every command of the admin CLI (scripts/admin.mjs), run as a real process
// against a running server: `wrangler dev` (admin.e2e.mjs) or the self-hosted
// `npm run serve` (admin-selfhost.e2e.mjs). One 1.1 account and one 1.5 user
// are created through the Sync protocols, and each command's effect is
// checked through those protocols again, not only through the CLI's answer.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cli } from "../../../scripts/admin-roundtrip.mjs";
import { Client11 } from "../client11.mjs";
import { Client15 } from "../client15.mjs";
import { assert, assertEqual } from "../harness.mjs";

const ok = (r, what) => {
  assertEqual(r.code, 0, `${what}: ${r.stderr}`);
  return r;
};
const json = (r, what) => JSON.parse(ok(r, what).stdout);

/** health, users, show, disable/enable, unlock, purge, export, import (--as), delete of a Sync 1.1 account. */
export async function everyCommand11({ url, token, dir, secrets = [] }) {
  const on = { url, token };
  const h = json(await cli(["health", "--json"], on), "health --json");
  assertEqual(h.secrets.ADMIN_TOKEN, "set", "ADMIN_TOKEN shown as set");
  const human = ok(await cli(["health"], on), "health");
  assert(human.stdout.includes("secrets") && human.stdout.includes("nodes"), human.stdout);
  for (const s of [token, ...secrets]) assert(!human.stdout.includes(s) && !JSON.stringify(h).includes(s), "no secret values in health");

  const c = new Client11(url);
  await c.register();
  await c.lookupNode();
  c.node = `${url}/`;
  const post = await c.storage("POST", "/storage/bookmarks", { body: [{ id: "x", payload: "1", sortindex: 3 }, { id: "y", payload: "2" }] });
  assertEqual(post.status, 200, post.text);
  await c.storage("PUT", "/storage/tabs/t", { body: { payload: "t", ttl: 1 } });
  const name = `acct:${c.username}`;

  const table = ok(await cli(["users", "1.1"], on), "users 1.1");
  assert(table.stdout.includes(name) && table.stdout.includes("records"), table.stdout);
  const all = json(await cli(["users", "--json"], on), "users --json");
  const listed = all["1.1"].find((u) => u.username === c.username);
  assertEqual([listed.records, listed.collections, listed.disabled], [3, 2, false], "listed usage");
  const show = ok(await cli(["show", name], on), "show");
  assert(show.stdout.includes("bookmarks") && show.stdout.includes("tabs") && show.stdout.includes("quota"), show.stdout);

  ok(await cli(["disable", name], on), "disable");
  assertEqual((await c.storage("GET", "/info/collections")).status, 401, "disabled login refused");
  assertEqual(json(await cli(["show", name, "--json"], on), "show").disabled, true, "shown disabled");
  ok(await cli(["enable", name], on), "enable");
  assertEqual((await c.storage("GET", "/info/collections")).status, 200, "enabled login works");

  const bad = new Client11(url, c.email, "wrong-password");
  bad.node = c.node;
  const statuses = [];
  for (let i = 0; i < 7; i++) statuses.push((await bad.storage("GET", "/info/collections")).status);
  assert(statuses.includes(503), `the login throttle locked: ${statuses}`);
  const locked = json(await cli(["show", name, "--json"], on), "show").throttle;
  assert(locked.counters.some((k) => k.events >= 5), `throttle state shown: ${JSON.stringify(locked)}`);
  const un = json(await cli(["unlock", name, "--json"], on), "unlock");
  assert(un.cleared >= 1, `counters cleared: ${JSON.stringify(un)}`);
  assertEqual(json(await cli(["show", name, "--json"], on), "show").throttle.counters, [], "no counters after unlock");
  assertEqual((await c.storage("GET", "/info/collections")).status, 200, "unlocked");

  await new Promise((r) => setTimeout(r, 2100)); // the tab's ttl of 1 s runs out
  assertEqual(json(await cli(["purge", name, "--json"], on), "purge").purged, 1, "purged the expired tab");

  // export → import under another name on the same server: same password, same answers.
  const file = join(dir, `${c.username}.ndjson`);
  ok(await cli(["export", name, "--out", file], on), "export");
  assert(readFileSync(file, "utf8").includes('"type":"account"'), "account row exported");
  const copyName = `copy${randomBytes(6).toString("hex")}`;
  const im = json(await cli(["import", file, "--as", `acct:${copyName}`, "--json"], on), "import --as");
  assertEqual([im.target, im.records], [`acct:${copyName}`, 2], "imported under the new name");
  const copy = new Client11(url, c.email, c.password);
  copy.username = copyName;
  copy.node = c.node;
  for (const path of ["/info/collections", "/storage/bookmarks?full=1&sort=index"]) {
    const [x, y] = await Promise.all([c.storage("GET", path), copy.storage("GET", path)]);
    assertEqual([y.status, y.text], [200, x.text], `${path} of the copy`);
  }
  const again = await cli(["import", file, "--as", `acct:${copyName}`], on);
  assert(again.code === 1 && again.stderr.includes("already holds 2 records") && again.stderr.includes("--replace"), `a second import without --replace is refused: ${again.stderr}`);

  const refuse = await cli(["delete", name], on);
  assert(refuse.code === 2 && refuse.stderr.includes("--yes"), "delete asks for --yes");
  ok(await cli(["delete", `acct:${copyName}`, "--yes"], on), "delete the copy");
  assertEqual((await copy.storage("GET", "/info/collections")).status, 401, "deleted copy cannot log in");
  assertEqual((await c.storage("GET", "/info/collections")).status, 200, "the original is untouched");
  return { client: c, file };
}

/**
 * users 1.5, show, purge, export, delete, import of a Sync 1.5 user: Firefox
 * gets its uid and data back. (unlock has nothing to clear for 1.5 and says
 * so; disable/enable of 1.5 users are not covered here.)
 */
export async function everyCommand15({ url, token, fxa, dir }) {
  const on = { url, token };
  const ff = new Client15(url, fxa);
  assertEqual((await ff.fetchToken()).status, 200, "token");
  const uid = ff.token.uid;
  await ff.storage("PUT", "/storage/meta/global", { body: { payload: "meta" } });
  await ff.storage("POST", "/storage/bookmarks", { body: [{ id: "a", payload: "A", sortindex: 2 }, { id: "b", payload: "B" }] });
  const before = await ff.storage("GET", "/info/collections");
  const listBefore = await ff.storage("GET", "/storage/bookmarks?full=1");
  const name = `uid:${uid}`;

  const listed = json(await cli(["users", "1.5", "--json"], on), "users 1.5").find((u) => u.uid === uid || u.name === name);
  assert(listed && listed.records === 3, `listed: ${JSON.stringify(listed)}`);
  const show = ok(await cli(["show", name], on), "show uid");
  assert(show.stdout.includes("client_state") && show.stdout.includes(ff.clientState), show.stdout);
  assertEqual(json(await cli(["purge", name, "--json"], on), "purge uid").purged, 0, "nothing expired");
  const un = await cli(["unlock", name], on);
  assert(un.code === 1 && un.stderr.includes("only Sync 1.1 accounts have a login throttle"), `unlock of a 1.5 user: ${un.stderr}`);

  const file = join(dir, `uid-${uid}.ndjson`);
  ok(await cli(["export", name, "--out", file], on), "export uid");
  assert(readFileSync(file, "utf8").includes('"type":"token_user"'), "token row exported");
  ok(await cli(["delete", name, "--yes"], on), "delete uid");
  const gone = await cli(["show", name], on);
  assert(gone.code === 1 && gone.stderr.includes(`unknown user ${name}`), gone.stderr);
  assertEqual(json(await cli(["import", file, "--json"], on), "import uid").target, name, "same uid back");

  const t = await ff.fetchToken();
  assertEqual([t.status, t.body.uid], [200, uid], "the tokenserver hands out the same uid");
  assertEqual((await ff.storage("GET", "/info/collections")).json, before.json, "same collections and timestamps");
  assertEqual((await ff.storage("GET", "/storage/bookmarks?full=1")).text, listBefore.text, "same records");
  return { client: ff };
}

/** A user's Basic credentials or Hawk token never open the admin API (refused before any token compare, not counted). */
export async function userCredentialsRefused({ url, c11, c15 }) {
  for (const path of ["/__admin__/health", "/__admin__/users/1.1", `/__admin__/users/acct:${c11.username}/export`]) {
    const basic = await fetch(`${url}${path}`, { headers: { Authorization: c11.auth } });
    const body = await basic.text();
    assertEqual(basic.status, 401, `${path} with Basic credentials`);
    assert(!body.includes(c11.username), "nothing about users in the refusal");
    const hawkUrl = `${url}${path}`;
    const hawk = await fetch(hawkUrl, { headers: { Authorization: c15.hawkHeader("GET", hawkUrl) } });
    assertEqual(hawk.status, 401, `${path} with a Hawk token`);
    await hawk.text();
    // The Hawk token's id as a bearer token is only a wrong admin token (counted: see wrongTokenThrottled).
  }
  // The user's own password as the CLI's token: a wrong token, nothing more.
  const r = await cli(["users"], { url, token: c11.password });
  assert(r.code === 1 && r.stderr.includes("wrong admin token"), r.stderr);
}

/**
 * Wrong admin tokens are refused and, after THROTTLE_FAILURES_PER_CLIENT of
 * them, throttled (429 with Retry-After; the CLI says when to retry). While
 * locked even the right token is refused unseen; after the lock it works
 * again. Locks the admin API of this address for a while: run it last.
 */
export async function wrongTokenThrottled({ url, token, log }) {
  const seen = [];
  let retry = 0;
  for (let i = 0; i < 20 && retry < 4; i++) {
    const r = await cli(["users"], { url, token: `wrong-${randomBytes(8).toString("hex")}` });
    assertEqual(r.code, 1, "a wrong token fails");
    const m = /retry in (\d+) s/.exec(r.stderr);
    seen.push(m ? `429:${m[1]}` : r.stderr.includes("wrong admin token") ? "401" : r.stderr.trim());
    if (m) {
      retry = Number(m[1]);
      if (retry < 4) await new Promise((res) => setTimeout(res, retry * 1000 + 100));
    }
  }
  log(`wrong tokens: ${seen.join(" ")}`);
  assertEqual(seen[0], "401", `a wrong token is refused (${seen})`);
  assert(retry >= 4, `the lock grows with repeated failures (${seen})`);
  const locked = await fetch(`${url}/__admin__/health`, { headers: { Authorization: `Bearer ${token}` } });
  assertEqual(locked.status, 429, "while locked the right token is refused too");
  assert(Number(locked.headers.get("Retry-After")) >= 1, "with Retry-After");
  await locked.text();
  await new Promise((res) => setTimeout(res, Number(locked.headers.get("Retry-After")) * 1000 + 200));
  assertEqual((await cli(["health"], { url, token })).code, 0, "the right token works once the lock is over");
}
