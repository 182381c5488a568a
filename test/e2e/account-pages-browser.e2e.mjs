// Browser test of the account pages (U10-9.2, U10-9.3, U10-12) in headless
// Chromium from npm (@sparticuz/chromium, see support/chromium.mjs; driven by
// playwright-core; no browser download, no system package): ask for a reset,
// follow the e-mailed link, trip the
// "do not match" error, set a new password, then delete the account with a
// wrong and then the right password. A screenshot of each page goes to
// test-output/ and its path is printed.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { usernameFor } from "./client11.mjs";
import { assert, startWranglerDev } from "./harness.mjs";
import { npmChromium } from "./support/chromium.mjs";
import { basic, DEV_VARS, runIfMain } from "./support/recovery.mjs";

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const OUT = join(ROOT, "test-output", "account-pages");

export default async function run({ log = console.log } = {}) {
  const chromiumFromNpm = await npmChromium();
  await mkdir(OUT, { recursive: true });
  const profile = await mkdtemp(join(tmpdir(), "weave-chromium-"));
  const server = await startWranglerDev({ vars: DEV_VARS, log });
  let browser;
  try {
    const base = server.baseUrl;
    const email = `browser.${Date.now()}@example.com`;
    const username = usernameFor(email);
    const put = await fetch(`${base}/user/1.0/${username}`, {
      method: "PUT",
      body: JSON.stringify({ email, password: "first password" }),
    });
    assert(put.status === 200, `register: ${put.status}`);

    // A fresh profile directory (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumFromNpm.executablePath,
      env: chromiumFromNpm.env,
      viewport: { width: 900, height: 700 },
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    const problems = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    // Console errors, except the browser's own /favicon.ico probe (this server has no icon).
    page.on("console", (m) => {
      if (m.type() === "error" && !(m.location().url ?? "").endsWith("/favicon.ico")) problems.push(`console: ${m.text()} (${m.location().url})`);
    });
    let n = 0;
    const shot = async (name) => {
      n += 1;
      const path = join(OUT, `${String(n).padStart(2, "0")}-${name}.png`);
      await page.screenshot({ path, fullPage: true });
      log(`screenshot: ${path}`);
    };
    const bodyText = () => page.locator("body").innerText();

    // U10-9.2 ask page → U10-9.3 request step
    await page.goto(`${base}/weave-password-reset`);
    assert((await page.title()) === "Mozilla Labs / Weave / Forgot Password", "page title");
    await shot("reset-ask");
    await page.getByLabel("E-mail address or user name").fill(email);
    await Promise.all([page.waitForURL(`${base}/weave-password-reset`), page.getByRole("button", { name: "Request Reset Link" }).click()]);
    assert((await bodyText()).includes("next 6 hours"), `key-sent page: ${await bodyText()}`);
    await shot("reset-key-sent");

    // the e-mail, read from the dev outbox
    const [mail] = await (await fetch(`${base}/__dev__/outbox?to=${encodeURIComponent(email)}`)).json();
    assert(mail, "reset e-mail in the outbox");
    const link = mail.body.split("\n")[2].trim();

    // U10-9.2 reset page; U10-9.3 error re-render, then success
    await page.goto(link);
    await shot("reset-form");
    await page.getByLabel("New password", { exact: true }).fill("new password one");
    await page.getByLabel("Confirm new password").fill("new password two");
    await page.getByRole("button", { name: "Change Password" }).click();
    await page.waitForLoadState();
    const alert = page.getByRole("alert");
    assert((await alert.innerText()).includes("do not match"), "mismatch error shown as an alert");
    await shot("reset-mismatch");
    await page.getByLabel("New password", { exact: true }).fill("my chosen password");
    await page.getByLabel("Confirm new password").fill("my chosen password");
    await page.getByRole("button", { name: "Change Password" }).click();
    await page.waitForLoadState();
    assert((await bodyText()).includes("Password successfully changed."), "changed page");
    await shot("reset-changed");

    const login = (pw) => fetch(`${base}/1.1/${username}/info/collections`, { headers: { Authorization: basic(username, pw) } });
    assert((await login("my chosen password")).status === 200, "new password works (REF-BUG: not the literal 'password')");
    assert((await login("first password")).status === 401, "old password refused");
    assert((await login("password")).status === 401, "literal 'password' refused");

    // U10-12 delete account: wrong password, then the right one
    await page.goto(`${base}/weave-delete-account`);
    await shot("delete-form");
    await page.getByLabel("E-mail address or user name").fill(email);
    await page.getByLabel("Password", { exact: true }).fill("not my password");
    await page.getByRole("button", { name: "Permanently Delete My Account" }).click();
    await page.waitForLoadState();
    assert((await bodyText()).trim() === "Bad credentials", "bad credentials answer");
    await shot("delete-bad-credentials");
    await page.goto(`${base}/weave-delete-account`);
    await page.getByLabel("E-mail address or user name").fill(email);
    await page.getByLabel("Password", { exact: true }).fill("my chosen password");
    await page.getByRole("button", { name: "Permanently Delete My Account" }).click();
    await page.waitForLoadState();
    assert((await bodyText()).trim() === "Account removed.", "account removed answer");
    await shot("delete-done");
    const exists = await (await fetch(`${base}/user/1.0/${username}`)).text();
    assert(exists === "0", "the account is gone");

    assert(problems.length === 0, `no page errors:\n${problems.join("\n")}`);
    log("account pages in the browser: ok");
  } finally {
    if (browser) await browser.close().catch(() => {});
    server.stop();
    await rm(profile, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, run);
