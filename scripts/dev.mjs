// `npm run dev`: first-run setup for a local server, then `wrangler dev`.
// - creates .dev.vars with a random SYNC_MASTER_SECRET if there is none
//   (Sync 1.5 needs it; the file is git-ignored and never committed),
// - applies the D1 migrations to the local database,
// - starts wrangler dev on http://127.0.0.1:8787 (extra arguments are passed on).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";

const wrangler = process.platform === "win32" ? "wrangler.cmd" : "wrangler";

if (!existsSync(".dev.vars")) {
  writeFileSync(
    ".dev.vars",
    [
      "# Created by `npm run dev` for local development. Never commit this file.",
      `SYNC_MASTER_SECRET="${randomBytes(32).toString("hex")}"`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  console.log("created .dev.vars with a random SYNC_MASTER_SECRET");
}

const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local"], {
  stdio: "inherit",
  env: { ...process.env, CI: process.env.CI ?? "1" },
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

// No Request.cf data offline: do not let Miniflare try to download it.
const dev = spawnSync(wrangler, ["dev", "--ip", "127.0.0.1", "--port", "8787", ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { CLOUDFLARE_CF_FETCH_ENABLED: "false", ...process.env },
});
process.exit(dev.status ?? 0);
