// What a Sync 1.1 client does, over real HTTP against `wrangler dev`:
// register, find the node, write, read with every filter and encoding,
// conditional writes, quota, deletes, password change, account deletion.
import { Client11 } from "./client11.mjs";
import { assert, assertEqual } from "./harness.mjs";

const TS = /^\d+\.\d\d$/;

export default function suite({ baseUrl, test, vars }) {
  const c = new Client11(baseUrl);
  let t1;

  test("U10-7.1/U10-7.2: a new name is free, registration answers the name", async () => {
    assertEqual((await c.user("GET", "", { auth: false })).text, "0", "availability before");
    await c.register();
    assertEqual((await c.user("GET", "", { auth: false })).text, "1", "availability after");
    const again = await c.user("PUT", "", { body: { password: c.password, email: c.email }, auth: false });
    assertEqual([again.status, again.text], [400, "4"], "duplicate registration");
  });

  test("U10-7.4: node/weave returns this server's base URL", async () => {
    const r = await c.lookupNode();
    assertEqual(r.text, `${baseUrl}/`, "node");
  });

  test("S11-8.7: PUT answers the new timestamp, equal to X-Weave-Timestamp", async () => {
    const r = await c.storage("PUT", "/storage/meta/global", { body: { payload: '{"syncID":"abc","storageVersion":5}' } });
    assertEqual(r.status, 200, "status");
    assert(TS.test(r.text), `timestamp body ${r.text}`);
    assertEqual(r.text, r.headers.get("x-weave-timestamp"), "body equals header");
    t1 = r.text;
    const g = await c.storage("GET", "/storage/meta/global");
    assertEqual(g.text, `{"payload": "{\\"syncID\\":\\"abc\\",\\"storageVersion\\":5}", "id": "global", "modified": ${t1}}`, "record bytes");
  });

  test("S11-8.8: POST a batch, ids and full records come back", async () => {
    const records = Array.from({ length: 10 }, (_, i) => ({ id: `h${i}`, payload: `p${i}`, sortindex: i, parentid: i % 2 ? "odd" : "even" }));
    const r = await c.storage("POST", "/storage/history", { body: records });
    assertEqual(r.status, 200, "status");
    assertEqual(r.json.success, records.map((x) => x.id), "success");
    assertEqual(r.json.failed, {}, "failed");
    const ids = await c.storage("GET", "/storage/history");
    assertEqual(ids.json, records.map((x) => x.id), "ids in insertion order");
    assertEqual(ids.headers.get("x-weave-records"), "10", "X-Weave-Records");
  });

  test("S11-9: every filter", async () => {
    const get = async (q) => (await c.storage("GET", `/storage/history?${q}`)).json;
    assertEqual(await get("ids=h1,h3,nope"), ["h1", "h3"], "ids");
    assertEqual(await get("parentid=odd&sort=index&limit=2"), ["h9", "h7"], "parentid+sort=index+limit");
    assertEqual(await get("index_above=6"), ["h7", "h8", "h9"], "index_above");
    assertEqual(await get("index_below=2"), ["h0", "h1"], "index_below");
    assertEqual(await get("limit=3&offset=2"), ["h2", "h3", "h4"], "limit+offset");
    const full = await get("full=1&ids=h2");
    assertEqual(Object.keys(full[0]).sort(), ["id", "modified", "parentid", "payload", "sortindex"], "full keys");
    const newer = await get(`newer=${full[0].modified.toFixed(2)}`);
    assertEqual(newer, [], "newer is strict");
    const older = await get(`older=${(full[0].modified + 0.01).toFixed(2)}&sort=oldest`);
    assertEqual(older.length, 10, "older");
    const bad = await c.storage("GET", "/storage/history?newer=abc");
    assertEqual(bad.status, 400, "bad newer");
    assert(bad.text.includes('Invalid value for &quot;newer&quot;'), `bad newer detail: ${bad.text}`);
  });

  test("S11-7.3: newlines and whoisi encodings", async () => {
    const nl = await c.storage("GET", "/storage/history?ids=h1,h2", { headers: { Accept: "application/newlines" } });
    assertEqual(nl.headers.get("content-type"), "application/newlines", "newlines type");
    assertEqual(nl.text, '"h1"\n"h2"\n', "newlines body");
    const wh = await c.storage("GET", "/storage/history?ids=h1", { headers: { Accept: "application/whoisi" } });
    assertEqual(wh.headers.get("content-type"), "application/whoisi", "whoisi type");
    assertEqual([...wh.buf], [0, 0, 0, 4, 34, 104, 49, 34], "whoisi bytes");
  });

  test("S11-10: X-If-Unmodified-Since guards writes", async () => {
    const info = (await c.storage("GET", "/info/collections")).json;
    const before = (info.history - 0.01).toFixed(2);
    const refused = await c.storage("PUT", "/storage/history/h1", { body: { payload: "x" }, headers: { "X-If-Unmodified-Since": before } });
    assertEqual(refused.status, 412, "412");
    assert(refused.text.includes("412 Precondition Failed") && refused.text.includes("history"), "412 body names the collection");
    const ok = await c.storage("PUT", "/storage/history/h1", { body: { payload: "x" }, headers: { "X-If-Unmodified-Since": info.history.toFixed(2) } });
    assertEqual(ok.status, 200, "equal passes");
  });

  test("S11-11: quota refuses the write after the limit", async () => {
    const big = "x".repeat(20 * 1024);
    let refused = null;
    for (let i = 0; i < 10 && !refused; i++) {
      const r = await c.storage("PUT", `/storage/quota/item${i}`, { body: { payload: big } });
      if (r.status === 400) refused = r;
      else assert(r.headers.get("x-weave-quota-remaining") !== null, "quota header when under 1 MB left");
    }
    assert(refused, `quota of ${vars.QUOTA_SIZE_KB} KB never refused`);
    assertEqual(refused.text, "14", "over quota code");
    const q = (await c.storage("GET", "/info/quota")).json;
    assertEqual(q[1], Number(vars.QUOTA_SIZE_KB), "limit");
    assert(q[0] >= Number(vars.QUOTA_SIZE_KB), "usage reached the limit");
    const del = await c.storage("DELETE", "/storage/quota");
    assertEqual(del.status, 200, "delete collection");
    const after = await c.storage("PUT", "/storage/quota/again", { body: { payload: "small" } });
    assertEqual(after.status, 200, "writes allowed again after deleting");
  });

  test("S11-8.9 to S11-8.11: delete records, a collection, everything", async () => {
    const one = await c.storage("DELETE", "/storage/history/h0");
    assert(TS.test(one.text), "delete item answers a timestamp");
    const some = await c.storage("DELETE", "/storage/history?ids=h1,h2");
    assertEqual(some.status, 200, "delete ids");
    assertEqual((await c.storage("GET", "/storage/history")).json.length, 7, "7 left");
    await c.storage("DELETE", "/storage/history");
    assertEqual((await c.storage("GET", "/info/collections")).json.history, undefined, "history gone");
    const noConfirm = await c.storage("DELETE", "/storage");
    assertEqual([noConfirm.status, noConfirm.text], [400, "4"], "needs X-Confirm-Delete");
    const all = await c.storage("DELETE", "/storage", { headers: { "X-Confirm-Delete": "1" } });
    assertEqual(all.status, 200, "delete all");
    assertEqual((await c.storage("GET", "/info/collections")).json, {}, "nothing left");
  });

  test("U10-7.5: a password change takes effect at once", async () => {
    await c.storage("PUT", "/storage/tabs/t1", { body: { payload: "tab" } });
    const oldAuth = c.auth;
    const newPassword = `new-${c.password}`;
    const r = await c.user("POST", "/password", { raw: newPassword });
    assertEqual([r.status, r.text], [200, "success"], "change");
    const refused = await c.storage("GET", "/info/collections", { headers: { Authorization: oldAuth } });
    assertEqual(refused.status, 401, "old password refused");
    c.password = newPassword;
    assertEqual((await c.storage("GET", "/storage/tabs/t1")).json.payload, "tab", "new password works, data kept");
  });

  test("U10-7.3: deleting the account erases its data", async () => {
    const r = await c.user("DELETE");
    assertEqual([r.status, r.text], [200, "1"], "delete");
    assertEqual((await c.storage("GET", "/info/collections")).status, 401, "credentials gone");
    const again = new Client11(baseUrl, c.email, c.password);
    await again.register();
    await again.lookupNode();
    assertEqual((await again.storage("GET", "/info/collections")).json, {}, "a new account with the same name starts empty");
  });

  test("S11-4: another user's data is out of reach", async () => {
    const a = new Client11(baseUrl);
    const b = new Client11(baseUrl);
    await a.register();
    await b.register();
    await a.lookupNode();
    b.node = a.node;
    await a.storage("PUT", "/storage/passwords/p1", { body: { payload: "secret" } });
    const cross = await b.request("GET", `${a.node}1.1/${a.username}/storage/passwords/p1`);
    assertEqual(cross.status, 401, "b's credentials on a's path");
  });
}
