// Helpers of the account-recovery end-to-end scripts (reset-flow, account
// pages in the browser). They start their own `wrangler dev` through the
// shared harness, with the development mail outbox switched on.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Development vars for the reset flow: the outbox transport and the route that reads it. */
export const DEV_VARS = { MAIL_TRANSPORT: "outbox", MAIL_FROM: "sync@example.test", DEV_MODE: "true" };

export function basic(user, password) {
  return `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`;
}

/** Runs `fn` when this file is the script node was started with (`npx node test/e2e/<file>`); exits 0/1. */
export function runIfMain(importMetaUrl, fn) {
  if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(importMetaUrl)) {
    fn({ log: (m) => console.log(m) }).then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  }
}
