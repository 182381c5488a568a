// End-to-end runner: starts one `wrangler dev` (fresh local D1 and Durable
// Objects), runs every test/e2e/*.e2e.mjs suite against it over real HTTP,
// and prints `e2e: N passed, N failed` (read by .ci/run).
//
// A suite's default export receives { baseUrl, test, log, skip, after }: it
// registers tests with test(name, fn). A suite that registers nothing is run
// as one test (suites that start their own servers do that). skip(reason)
// marks the whole suite skipped: it is printed and counted on its own line,
// never as passed; a single test may return { skipped: reason } likewise.
// after(fn) runs once the suite's tests are done (cleanup).
// A suite module exporting `ownServer = true` does not use the shared
// `wrangler dev`; it is only started when a selected suite needs it.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { startWranglerDev } from "./harness.mjs";
import { startMockFxa } from "./mock-fxa.mjs";

const only = process.argv.slice(2);
const dir = join(process.cwd(), "test", "e2e");
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".e2e.mjs"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const log = (...a) => console.log("  ", ...a);
let passed = 0;
let failed = 0;
/** "<suite>: <reason>" for every skipped suite. */
const skipped = [];

// The mock Mozilla-account server the tokenserver verifies tokens against.
const fxa = await startMockFxa();

// Small quota so that the quota rules can be exercised over HTTP.
export const E2E_VARS = {
  QUOTA_SIZE_KB: "64",
  SHARED_SECRET: "e2e-shared-secret",
  SYNC_MASTER_SECRET: "e2e-master-secret-0123456789abcdef",
  FXA_OAUTH_SERVER_URL: fxa.url,
};

async function runAfters(file, afters) {
  for (const fn of afters) {
    try {
      await fn();
    } catch (err) {
      failed++;
      console.log(`  ✗ ${file} cleanup\n      ${String(err?.stack ?? err).split("\n").join("\n      ")}`);
    }
  }
}

let server = null;
const sharedServer = async () => (server ??= await startWranglerDev({ vars: E2E_VARS, log }));
const cleanup = () => {
  server?.stop();
  void fxa.close();
};
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});

try {
  for (const file of files) {
    console.log(`suite ${file}`);
    const tests = [];
    const afters = [];
    let skipReason = null;
    const test = (name, fn) => tests.push({ name, fn });
    const skip = (reason) => (skipReason = String(reason));
    const after = (fn) => afters.push(fn);
    try {
      const mod = await import(pathToFileURL(join(dir, file)).href);
      const baseUrl = mod.ownServer === true ? null : (await sharedServer()).baseUrl;
      const ret = mod.default({ baseUrl, test, log, vars: E2E_VARS, fxa, skip, after });
      if (tests.length === 0 && skipReason === null) tests.push({ name: file, fn: () => ret });
      else await ret;
    } catch (err) {
      failed++;
      console.log(`  ✗ ${file} could not be loaded\n      ${String(err?.stack ?? err).split("\n").join("\n      ")}`);
      await runAfters(file, afters);
      continue;
    }
    if (skipReason !== null) {
      await runAfters(file, afters);
      skipped.push(`${file}: ${skipReason}`);
      console.log(`  - SKIPPED ${file}: ${skipReason}`);
      continue;
    }
    for (const t of tests) {
      const started = Date.now();
      try {
        const r = await t.fn();
        // A test may return { skipped: "why" } (e.g. a database server is not installed): never counted as passed.
        if (r && typeof r === "object" && typeof r.skipped === "string") {
          skipped.push(`${file} / ${t.name}: ${r.skipped}`);
          console.log(`  - SKIPPED ${t.name}: ${r.skipped}`);
          continue;
        }
        passed++;
        console.log(`  ✓ ${t.name} (${Date.now() - started} ms)`);
      } catch (err) {
        failed++;
        console.log(`  ✗ ${t.name}\n      ${String(err?.stack ?? err).split("\n").join("\n      ")}`);
      }
    }
    await runAfters(file, afters);
  }
} finally {
  cleanup();
}
if (skipped.length > 0) console.log(`e2e skipped (${skipped.length}, not counted as passed): ${skipped.join("; ")}`);
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
