// The admin CLI against the self-hosted server (`npm run serve`, ADMIN_TOKEN
// in the data folder's config.env): every command, a user's Basic
// credentials and Hawk token refused by the admin API, `admin import --data`
// into the data folder while its server is stopped (and refused while it
// runs), and wrong tokens refused and throttled. The same commands against
// `wrangler dev` are in admin.e2e.mjs. Starts its own server.
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { cli } from "../../scripts/admin-roundtrip.mjs";
import { Client11 } from "./client11.mjs";
import { assert, assertEqual, freePort } from "./harness.mjs";
import { startServe, tempDir } from "./selfhost-server.mjs";
import { everyCommand11, everyCommand15, userCredentialsRefused, wrongTokenThrottled } from "./support/admin-commands.mjs";

/** Needs no shared wrangler dev (see run.mjs). */
export const ownServer = true;

const TOKEN = `selfhost-admin-${randomBytes(12).toString("hex")}`;

export default function suite({ test, fxa, log, after }) {
  const data = tempDir("weave-admin-serve-");
  const dir = tempDir("weave-admin-serve-files-");
  let port;
  let srv;
  let c11;
  let c15;
  let file11;
  const on = () => ({ url: srv.url, token: TOKEN });
  const start = async () => (srv = await startServe({ port, data }));
  const stop = async () => {
    srv.signalGroup("SIGTERM");
    await srv.exited;
  };
  after(() => srv?.kill());

  test("npm run serve with ADMIN_TOKEN in config.env", async () => {
    port = await freePort();
    srv = await startServe({ port, data, config: { FXA_OAUTH_SERVER_URL: fxa.url, ADMIN_TOKEN: TOKEN } });
    assert(!srv.output().includes(TOKEN), "the token is never printed");
  });

  test("Sync 1.1: health, users, show, disable/enable, unlock, purge, export, import --as, delete", async () => {
    const secret = /^SYNC_MASTER_SECRET=(.*)$/m.exec(readFileSync(`${data}/config.env`, "utf8"))[1];
    const r = await everyCommand11({ ...on(), dir, secrets: [secret] });
    c11 = r.client;
    file11 = r.file;
  });

  test("Sync 1.5: users, show, unlock, purge, export, delete, import: Firefox gets its uid and data back", async () => {
    c15 = (await everyCommand15({ ...on(), fxa, dir })).client;
  });

  test("a user's Basic credentials and Hawk token are refused by the admin API", async () => {
    await userCredentialsRefused({ url: srv.url, c11, c15 });
  });

  test("admin import --data: into the data folder while its server is stopped, refused while it runs", async () => {
    const moved = `moved${randomBytes(6).toString("hex")}`;
    const help = await cli(["help"]);
    assert(help.code === 0 && help.stdout.includes("import FILE --data DIR"), help.stdout);
    const notImport = await cli(["users", "--data", data]);
    assert(notImport.code === 2 && notImport.stderr.includes("--data is for import only"), notImport.stderr);
    const notData = await cli(["import", file11, "--data", dir]);
    assert(notData.code === 2 && notData.stderr.includes("is not a data folder"), notData.stderr);
    const busy = await cli(["import", file11, "--as", `acct:${moved}`, "--data", data]);
    assert(busy.code === 1 && busy.stderr.includes("in use by another serve"), `refused while serve runs: ${busy.stderr}`);
    const before = await c11.storage("GET", "/info/collections");
    await stop();
    const im = await cli(["import", file11, "--as", `acct:${moved}`, "--data", data, "--json"]);
    assertEqual(im.code, 0, im.stderr);
    assertEqual(JSON.parse(im.stdout).target, `acct:${moved}`, "imported under the new name");
    await start();
    log(`import --data, then serve restarted on ${srv.url}`);
    const c = new Client11(srv.url, c11.email, c11.password);
    c.username = moved;
    c.node = `${srv.url}/`;
    const after = await c.storage("GET", "/info/collections");
    assertEqual([after.status, after.text], [200, before.text], "the moved account logs in with its password and sees the same collections and timestamps");
    const conf = readFileSync(`${data}/config.env`, "utf8");
    assertEqual(conf.match(/^ADMIN_TOKEN=/gm)?.length, 1, "config.env unchanged (the one-run token is never written)");
  });

  test("wrong admin tokens are refused and throttled; the right one works after the lock", async () => {
    await wrongTokenThrottled({ url: srv.url, token: TOKEN, log });
  });

  test("stop the server", async () => {
    await stop();
    srv = null;
  });
}
