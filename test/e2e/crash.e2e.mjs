// Crash consistency (issue 9 item 6): `npm run serve` on a data folder is
// killed with SIGKILL (the whole process group, workerd included) while a
// large Storage 1.5 batch commit or a large Storage 1.1 POST is being
// written, then restarted on the same folder. Each write must be all or
// nothing, an acknowledged one must be all there, and what was stored before
// must be untouched. Several kill delays per kind, so some kills land
// mid-write. Starts its own servers.
import { rmSync } from "node:fs";
import { Client11 } from "./client11.mjs";
import { Client15 } from "./client15.mjs";
import { assert, assertEqual, freePort } from "./harness.mjs";
import { portClosed, startServe, tempDir } from "./selfhost-server.mjs";

/**
 * Kill delays after the write was sent (ms), per round: [1.5 commit, 1.1 POST]. They spread from before
 * the write to after it on a loaded 2-core machine (the 15 MB 1.1 upload alone takes about a second).
 */
const DELAYS = [
  [20, 300],
  [60, 700],
  [120, 1200],
  [400, 4000],
];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function killAndRestart(srv, port, data) {
  srv.signalGroup("SIGKILL");
  await srv.exited;
  await portClosed(port);
  return startServe({ port, data });
}

export default function suite({ test, fxa, log }) {
  test("crash: kill -9 during a large 1.5 batch commit and during a large 1.1 POST, all or nothing after restart", async () => {
    const data = tempDir("weave-crash-");
    const port = await freePort();
    // Large 1.1 POSTs (100 records of 150 KB) need a per-POST byte limit above the default 1 MiB, and no quota.
    let srv = await startServe({ port, data, config: { FXA_OAUTH_SERVER_URL: fxa.url, BATCH_MAX_BYTES: "16777216", USE_QUOTA: "false" } });
    try {
      const c11 = new Client11(srv.url);
      await c11.register();
      c11.node = `${srv.url}/`;
      const c15 = new Client15(srv.url, fxa);
      assertEqual((await c15.fetchToken()).status, 200, "1.5 token");
      assertEqual((await c11.storage("PUT", "/storage/keep/k", { body: { payload: "kept-1.1" } })).status, 200, "1.1 seed");
      assertEqual((await c15.storage("PUT", "/storage/keep/k", { body: { payload: "kept-1.5" } })).status, 200, "1.5 seed");

      const outcomes = [];
      for (const [round, [delay, delay11]] of DELAYS.entries()) {
        // ---- Storage 1.5: a batch of 20 appends × 100 records (2000 records, ~2 MB), then the commit, killed after `delay`
        const coll15 = `batch${round}`;
        const open = await c15.storage("POST", `/storage/${coll15}?batch=true`, { body: Array.from({ length: 100 }, (_, i) => ({ id: `a0-${i}`, payload: "p".repeat(1000) })) });
        assertEqual(open.status, 202, "1.5 batch open");
        const batch = encodeURIComponent(open.json.batch);
        for (let a = 1; a < 20; a++) {
          const r = await c15.storage("POST", `/storage/${coll15}?batch=${batch}`, { body: Array.from({ length: 100 }, (_, i) => ({ id: `a${a}-${i}`, payload: "p".repeat(1000) })) });
          assertEqual(r.status, 202, `1.5 batch append ${a}`);
        }
        const commit = c15.storage("POST", `/storage/${coll15}?batch=${batch}&commit=true`, { body: [] }).then(
          (r) => r.status,
          (e) => `error ${e.cause?.code ?? e.message}`,
        );
        await sleep(delay);
        srv = await killAndRestart(srv, port, data);
        const status15 = await commit;
        const got15 = await c15.storage("GET", `/storage/${coll15}`);
        const n15 = got15.status === 200 ? got15.json.length : 0;
        assert(got15.status === 200 || got15.status === 404, `1.5 read-back ${got15.status}`);
        assert(n15 === 0 || n15 === 2000, `1.5 batch commit killed after ${delay} ms: ${n15} of 2000 records stored`);
        if (status15 === 200) assertEqual(n15, 2000, "an acknowledged 1.5 commit is all there");

        // ---- Storage 1.1: one POST of 100 records of 150 KB (~15 MB), killed after `delay`
        const coll11 = `post${round}`;
        const post = c11.storage("POST", `/storage/${coll11}`, { body: Array.from({ length: 100 }, (_, i) => ({ id: `r${i}`, payload: "q".repeat(150_000) })) }).then(
          (r) => (r.status === 200 ? `200 (${r.json.success.length} ok)` : r.status),
          (e) => `error ${e.cause?.code ?? e.message}`,
        );
        await sleep(delay11);
        srv = await killAndRestart(srv, port, data);
        const status11 = await post;
        const got11 = await c11.storage("GET", `/storage/${coll11}`);
        assertEqual(got11.status, 200, "1.1 read-back");
        const n11 = got11.json.length;
        assert(n11 === 0 || n11 === 100, `1.1 POST killed after ${delay11} ms: ${n11} of 100 records stored`);
        if (String(status11).startsWith("200")) assertEqual([status11, n11], ["200 (100 ok)", 100], "an acknowledged 1.1 POST is all there");
        outcomes.push(`1.5 commit killed after ${delay} ms: ${status15} → ${n15}/2000; 1.1 POST killed after ${delay11} ms: ${status11} → ${n11}/100`);
      }
      log(`kill -9 outcomes:\n      ${outcomes.join("\n      ")}`);
      // What was stored before every crash is untouched.
      assertEqual((await c11.storage("GET", "/storage/keep/k")).json?.payload, "kept-1.1", "1.1 record stored before the crashes");
      assertEqual((await c15.storage("GET", "/storage/keep/k")).json?.payload, "kept-1.5", "1.5 record stored before the crashes");
      srv.signalGroup("SIGTERM");
      await srv.exited;
    } finally {
      srv?.kill();
      rmSync(data, { recursive: true, force: true });
    }
  });
}
