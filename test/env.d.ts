import type { D1Migration } from "@cloudflare/vitest-plugin";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      D1_MIGRATION_SCRATCH: D1Database;
    }
  }
}
export {};
