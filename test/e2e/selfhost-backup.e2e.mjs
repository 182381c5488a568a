// Backups of a self-hosted data folder (scripts/backup.mjs, README "Backups and
// restore"): `npm run backup` while the server runs and writes happen, then
// `npm run restore` into a fresh folder, served, and everything read back.
import { execFile } from "node:child_process";
import { readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client11 } from "./client11.mjs";
import { Client15 } from "./client15.mjs";
import { assert, assertEqual, freePort } from "./harness.mjs";
import { startServe, tempDir } from "./selfhost-server.mjs";

const run = promisify(execFile);
const npm = (script, ...args) => run("npm", ["run", "--silent", script, "--", ...args], { env: { ...process.env, NO_COLOR: "1" } });

export default function suite({ test, fxa, log }) {
  test("backup: an online snapshot under writes restores into a fresh folder that serves all of it", async () => {
    const data = tempDir("weave-backup-data-");
    const snap = join(tempDir("weave-backup-out-"), "snap");
    const fresh = tempDir("weave-backup-restored-");
    const servers = [];
    try {
      const port = await freePort();
      const srv = await startServe({ port, data, config: { FXA_OAUTH_SERVER_URL: fxa.url } });
      servers.push(srv);
      const c11 = new Client11(srv.url);
      await c11.register();
      await c11.lookupNode();
      const c15 = new Client15(srv.url, fxa);
      assertEqual((await c15.fetchToken()).status, 200, "1.5 token");
      // written before the snapshot
      for (let b = 0; b < 5; b++) {
        assertEqual((await c11.storage("POST", "/storage/history", { body: Array.from({ length: 100 }, (_, i) => ({ id: `pre${b}-${i}`, payload: "y".repeat(300) })) })).status, 200, "1.1 POST");
        assertEqual((await c15.storage("POST", "/storage/history", { body: Array.from({ length: 100 }, (_, i) => ({ id: `pre${b}-${i}`, payload: "z".repeat(300) })) })).status, 200, "1.5 POST");
      }

      // writes keep coming (100-record POSTs, each all-or-nothing) while the snapshot is taken
      let writing = true;
      const acked = { c11: [], c15: [] };
      const writer = (c, key) =>
        (async () => {
          for (let k = 0; writing; k++) {
            const r = await c.storage("POST", "/storage/bookmarks", { body: Array.from({ length: 100 }, (_, i) => ({ id: `live${k}-${i}`, payload: `p${k}` })) });
            if (r.status === 200) acked[key].push({ k, at: Date.now() });
          }
        })();
      const writers = [writer(c11, "c11"), writer(c15, "c15")];
      for (const deadline = Date.now() + 30_000; acked.c11.length < 3 || acked.c15.length < 3; ) {
        if (Date.now() > deadline) throw new Error("the writers made no progress");
        await new Promise((r) => setTimeout(r, 20));
      }
      const before = { c11: acked.c11.length, c15: acked.c15.length };
      const t0 = Date.now();
      const { stderr } = await npm("backup", "--data", data, "--out", snap);
      log(stderr.trim());
      writing = false;
      await Promise.all(writers);
      assert(acked.c11.length > before.c11 && acked.c15.length > before.c15, "writes went on during the backup");
      assertEqual(statSync(snap).mode & 0o777, 0o700, "backup folder mode");
      const manifest = JSON.parse(readFileSync(join(snap, "manifest.json"), "utf8"));
      assert(manifest.files.some((f) => f.path.includes("UserStore")), "the users' Durable Objects are in the snapshot");
      assert(manifest.files.at(-1).path.includes(join("v3", "d1")), "D1 is snapshotted last");

      // restore refuses while a server holds the folder
      const refused = await npm("restore", "--from", snap, "--data", data).then(() => null, (e) => e);
      assert(refused && /stop it first/.test(refused.stderr), "restore refuses a folder in use");
      srv.signalMain("SIGTERM");
      await srv.exited;

      await npm("restore", "--from", snap, "--data", fresh);
      assertEqual(readFileSync(join(fresh, "config.env"), "utf8"), readFileSync(join(data, "config.env"), "utf8"), "config.env restored");
      const port2 = await freePort();
      const srv2 = await startServe({ port: port2, data: fresh });
      servers.push(srv2);
      assertEqual(srv2.ready.migrations, [], "restored D1 has its migrations");
      c11.node = `${srv2.url}/`;
      c15.token.api_endpoint = c15.token.api_endpoint.replace(`:${port}/`, `:${port2}/`);
      for (const [key, c] of [["c11", c11], ["c15", c15]]) {
        const hist = await c.storage("GET", "/storage/history");
        assertEqual([hist.status, hist.json.length], [200, 500], `${key}: records written before the snapshot`);
        const ids = (await c.storage("GET", "/storage/bookmarks")).json ?? [];
        const per = new Map();
        for (const id of ids) per.set(id.split("-")[0], (per.get(id.split("-")[0]) ?? 0) + 1);
        for (const [k, n] of per) assertEqual(n, 100, `${key}: POST ${k} restored whole`);
        for (const a of acked[key].filter((a) => a.at < t0)) assert(per.get(`live${a.k}`) === 100, `${key}: POST ${a.k}, acknowledged before the backup began, is in it`);
        log(`${key}: ${per.size} live POSTs in the snapshot (${acked[key].filter((a) => a.at < t0).length} acknowledged before it began, ${acked[key].length} in all)`);
      }
      srv2.signalMain("SIGTERM");
      await srv2.exited;
    } finally {
      for (const s of servers) s.kill();
      for (const d of [data, fresh, join(snap, "..")]) rmSync(d, { recursive: true, force: true });
    }
  });
}
