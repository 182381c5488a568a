import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { randomBytes } from "node:crypto";
import { defineConfig } from "vitest/config";

// Runs every test under test/ (except the end-to-end suites, which start
// `wrangler dev` themselves) inside workerd, with the bindings of wrangler.toml.
export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          // A master secret per run, so Sync 1.5 works through SELF (test/helpers/sync15.ts).
          bindings: { TEST_MIGRATIONS: migrations, SYNC_MASTER_SECRET: randomBytes(32).toString("hex") },
          // An extra, initially empty D1 database for the schema self-migration tests (test/deploy/).
          d1Databases: ["D1_MIGRATION_SCRATCH"],
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      exclude: ["test/e2e/**", "node_modules/**"],
      setupFiles: ["./test/setup/apply-migrations.ts"],
      // The Worker's one JSON line per request (src/log.ts) is written but not echoed: hundreds per file.
      onConsoleLog: (log: string) => !log.includes('"msg":"request"'),
    },
  };
});
