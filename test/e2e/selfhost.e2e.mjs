// Production on your own machine (`npm run serve`, scripts/serve.mjs, README
// "Running on your own machine"): the settings file, D1 migrations on start,
// nothing acknowledged lost across kill -9 and restart (Sync 1.1 and 1.5), and
// SIGTERM finishing the requests in flight. Starts its own servers.
import { readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { Client11 } from "./client11.mjs";
import { Client15 } from "./client15.mjs";
import { assert, assertEqual, freePort } from "./harness.mjs";
import { portClosed, startServe, tempDir } from "./selfhost-server.mjs";

const MIGRATIONS = readdirSync(join(process.cwd(), "migrations")).filter((f) => f.endsWith(".sql")).sort();

/** The node process under `npm run serve` (npm → node, the script runs `exec node`). */
function nodePidUnder(npmPid) {
  for (const t of readdirSync(`/proc/${npmPid}/task`)) {
    for (const pid of readFileSync(`/proc/${npmPid}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean)) {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("serve.mjs")) return Number(pid);
    }
  }
  throw new Error("no serve.mjs process under npm");
}

/**
 * Writes one record after the other until stopped, remembering the ids the
 * server acknowledged (200). Returns { acked, stop() }.
 */
function writeLoop(put) {
  const acked = [];
  let running = true;
  const done = (async () => {
    for (let i = 0; running; i++) {
      try {
        if ((await put(`w${i}`)).status === 200) acked.push(`w${i}`);
      } catch {
        /* the server went away: not acknowledged */
      }
    }
  })();
  return {
    acked,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

const until = async (cond, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
};

export default function suite({ test, fxa, log }) {
  test("serve: settings file, migrations on start, nothing acknowledged lost across kill -9 (1.1 and 1.5)", async () => {
    const data = tempDir("weave-selfhost-");
    const port = await freePort();
    const publicUrl = `http://localhost:${port}/`;
    let srv;
    try {
      // A hand-written config without a master secret: serve adds one; PUBLIC_URL overrides wrangler.toml's "".
      srv = await startServe({ port, data, config: { FXA_OAUTH_SERVER_URL: fxa.url, PUBLIC_URL: publicUrl } });
      assertEqual(srv.ready.migrations, MIGRATIONS, "D1 migrations applied on first start");
      const conf = readFileSync(join(data, "config.env"), "utf8");
      assert(/^SYNC_MASTER_SECRET=[0-9a-f]{64}$/m.test(conf), "config.env got a random master secret");
      assertEqual(statSync(join(data, "config.env")).mode & 0o777, 0o600, "config.env mode");
      assert(!srv.output().includes(conf.match(/^SYNC_MASTER_SECRET=(.*)$/m)[1]), "the secret is never printed");

      // Sync 1.1
      const c11 = new Client11(srv.url);
      await c11.register();
      await c11.lookupNode();
      assertEqual(c11.node, publicUrl, "node/weave answers PUBLIC_URL from config.env");
      c11.node = `${srv.url}/`;
      for (let b = 0; b < 3; b++) {
        const r = await c11.storage("POST", "/storage/bookmarks", { body: Array.from({ length: 50 }, (_, i) => ({ id: `b${b}-${i}`, payload: `bm ${b}/${i}` })) });
        assertEqual([r.status, r.json.success.length], [200, 50], "1.1 POST");
      }
      assertEqual((await c11.storage("PUT", "/storage/meta/global", { body: { payload: "meta-1.1" } })).status, 200, "1.1 PUT");

      // Sync 1.5
      const c15 = new Client15(srv.url, fxa);
      assertEqual((await c15.fetchToken()).status, 200, "1.5 token");
      assert(c15.token.api_endpoint.startsWith(publicUrl), "api_endpoint uses PUBLIC_URL");
      const r15 = await c15.storage("POST", "/storage/history", { body: Array.from({ length: 50 }, (_, i) => ({ id: `h${i}`, payload: `hist ${i}` })) });
      assertEqual([r15.status, r15.json.success.length], [200, 50], "1.5 POST");
      const open = await c15.storage("POST", "/storage/forms?batch=true", { body: [{ id: "f1", payload: "one" }, { id: "f2", payload: "two" }] });
      assertEqual(open.status, 202, "1.5 batch open");
      const commit = await c15.storage("POST", `/storage/forms?batch=${encodeURIComponent(open.json.batch)}&commit=true`, { body: [{ id: "f3", payload: "three" }] });
      assertEqual(commit.status, 200, "1.5 batch commit");

      // kill -9 of serve's own process while 1.1 writes are in flight: workerd goes with it
      const loop11 = writeLoop((id) => c11.storage("PUT", `/storage/tabs/${id}`, { body: { payload: `tab ${id}` } }));
      await until(() => loop11.acked.length >= 10);
      process.kill(nodePidUnder(srv.pid), "SIGKILL");
      await portClosed(port);
      await loop11.stop();
      await srv.exited;
      log(`kill -9 (serve process): ${loop11.acked.length} acknowledged 1.1 writes before it`);

      srv = await startServe({ port, data });
      assertEqual(srv.ready.migrations, [], "no migration applied twice");
      // kill -9 of everything (what the OOM killer, `docker kill` or `systemctl kill -s KILL` do) while 1.5 writes are in flight
      const loop15 = writeLoop((id) => c15.storage("PUT", `/storage/tabs/${id}`, { body: { payload: `tab15 ${id}` } }));
      await until(() => loop15.acked.length >= 10);
      srv.signalGroup("SIGKILL");
      await loop15.stop();
      await srv.exited;
      await portClosed(port);
      log(`kill -9 (process group): ${loop15.acked.length} acknowledged 1.5 writes before it`);

      srv = await startServe({ port, data });
      const bm = await c11.storage("GET", "/storage/bookmarks?full=1");
      assertEqual(bm.json.length, 150, "1.1 bookmarks after restarts");
      assertEqual((await c11.storage("GET", "/storage/meta/global")).json.payload, "meta-1.1", "1.1 meta/global");
      const tabs11 = new Set((await c11.storage("GET", "/storage/tabs")).json);
      const lost11 = loop11.acked.filter((id) => !tabs11.has(id));
      assertEqual(lost11, [], "acknowledged 1.1 writes lost");
      // the token from before the restarts still works: the master secret persisted in config.env
      const hist = await c15.storage("GET", "/storage/history");
      assertEqual([hist.status, hist.json.length], [200, 50], "1.5 history after restarts");
      assertEqual((await c15.storage("GET", "/storage/forms?full=1&sort=index")).json.map((r) => r.id).sort(), ["f1", "f2", "f3"], "1.5 committed batch");
      const tabs15 = new Set((await c15.storage("GET", "/storage/tabs")).json);
      assertEqual(loop15.acked.filter((id) => !tabs15.has(id)), [], "acknowledged 1.5 writes lost");
      srv.signalMain("SIGTERM");
      assertEqual((await srv.exited).code, 0, "exit code after SIGTERM");
    } finally {
      srv?.kill();
      rmSync(data, { recursive: true, force: true });
    }
  });

  test("serve: first start creates config.env (0600); SIGTERM finishes requests in flight, then exits", async () => {
    const data = tempDir("weave-selfhost-");
    const port = await freePort();
    let srv;
    try {
      srv = await startServe({ port, data });
      const conf = readFileSync(join(data, "config.env"), "utf8");
      assert(/^SYNC_MASTER_SECRET=[0-9a-f]{64}$/m.test(conf), "config.env has a random master secret");
      assertEqual(statSync(join(data, "config.env")).mode & 0o777, 0o600, "config.env mode");

      const c = new Client11(srv.url);
      await c.register();
      await c.lookupNode();
      const N = 24;
      let signalledAt = null;
      const results = await Promise.all(
        Array.from({ length: N }, async (_, k) => {
          try {
            const body = Array.from({ length: 100 }, (_, i) => ({ id: `p${k}-${i}`, payload: "x".repeat(400) }));
            const r = await c.storage("POST", "/storage/history", { body });
            if (signalledAt === null) {
              // the first answer: the others are still being worked on
              signalledAt = Date.now();
              srv.signalMain("SIGTERM"); // as `docker stop` or systemd: to the npm process
            }
            return { k, status: r.status, ok: r.json?.success?.length === 100, afterSignal: Date.now() > signalledAt };
          } catch (e) {
            return { k, error: e.cause?.code ?? e.message };
          }
        }),
      );
      const { code } = await srv.exited;
      assertEqual(code, 0, "exit code after SIGTERM");
      assert(/SIGTERM: finishing requests in flight/.test(srv.output()), "serve drained on SIGTERM");
      const answered = results.filter((r) => r.status !== undefined);
      if (answered.some((r) => r.status !== 200)) console.log("server warnings and errors (for the failure below):\n" + srv.output().split("\n").filter((l) => /error|warn|503|SIGTERM/i.test(l)).slice(0, 15).join("\n"));
      assertEqual(answered.filter((r) => r.status !== 200 || !r.ok), [], "answers other than a full success");
      const drained = answered.filter((r) => r.afterSignal).length;
      log(`SIGTERM: ${answered.length}/${N} POSTs answered 200 (${drained} of them after the signal), ${N - answered.length} refused`);
      assert(drained > 0, "requests in flight at SIGTERM were answered");

      srv = await startServe({ port, data });
      c.node = `${srv.url}/`;
      const ids = (await c.storage("GET", "/storage/history")).json;
      for (let k = 0; k < N; k++) {
        const n = ids.filter((id) => id.startsWith(`p${k}-`)).length;
        const acked = answered.some((r) => r.k === k);
        assert(acked ? n === 100 : n === 0 || n === 100, `POST ${k}: ${n} of 100 records stored (acknowledged: ${acked})`);
      }
      srv.signalGroup("SIGTERM");
      await srv.exited;
    } finally {
      srv?.kill();
      rmSync(data, { recursive: true, force: true });
    }
  });
}
