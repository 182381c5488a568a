/**
 * @module setup-page
 * `GET /`: a plain server-rendered page for the person who deployed this
 * Worker: what it is, whether new users may join, and the exact values to
 * enter in each Firefox for this deployment's URL. It never shows secrets;
 * it says only whether each required one is set. Same layout and footer as
 * the account pages (src/recovery/pages.ts).
 */
import { Hono } from "hono";
import { html } from "hono/html";
import { getConfig, publicBaseUrl } from "../config";
import type { AppEnv } from "../env";
import { EXPORT_PATH, layout, pageHeaders, pageNonce } from "../recovery/pages";

export const setupPageApp = new Hono<AppEnv>();

setupPageApp.get("/", async (c) => {
  const cfg = getConfig(c.env);
  const ts = cfg.tokenserver;
  const base = publicBaseUrl(cfg, c.req.url);
  const tokenserverUri = `${base}1.0/sync/1.5`;
  const sync15Ready = ts.masterSecrets.length > 0;
  const newUsers = ts.allowedAccounts
    ? `only the ${ts.allowedAccounts.size} account(s) on the allow-list (SYNC_ALLOWED_ACCOUNTS)`
    : ts.allowNewUsers
      ? "yes: any Mozilla account may start syncing here"
      : "no: only accounts that have synced here before (ALLOW_NEW_SYNC_USERS = false)";
  const registration = {
    open: "open: anyone may create an account",
    secret: "only with the shared secret (X-Weave-Secret header)",
    closed: "closed: no new accounts",
  }[cfg.registration];
  const uri = html`<code>${tokenserverUri}</code>`;
  const content = html`<p>This is a self-hosted Firefox Sync server: it stores the encrypted bookmarks, history, passwords, tabs and settings that Firefox syncs between your devices. Your data is encrypted by Firefox before it reaches this server.</p>
${sync15Ready ? null : html`<p class="warn">Sync 1.5 is not ready: set the secret <code>SYNC_MASTER_SECRET</code> (<code>wrangler secret put SYNC_MASTER_SECRET</code>).</p>\n`}${
    cfg.publicUrl === null
      ? html`<p class="warn">PUBLIC_URL is not set, so the URLs below are taken from this request (<code>${base}</code>). Set PUBLIC_URL to the address your devices use.</p>\n`
      : null
  }<dl>
<dt>Server URL</dt><dd><code>${base}</code></dd>
<dt>New Firefox (Sync 1.5) users</dt><dd>${newUsers}</dd>
<dt>New Sync 1.1 accounts</dt><dd>${registration}</dd>
</dl>

<h2>Firefox for desktop</h2>
<ol>
<li>Before signing in to Sync, open <code>about:config</code> and accept the warning.</li>
<li>Set <code>identity.sync.tokenserver.uri</code> to ${uri}</li>
<li>Sign in with your Mozilla account (Settings → Sync). If you were signed in already, sign out first, then sign in again.</li>
</ol>

<h2>Firefox for Android</h2>
<ol>
<li>Settings → About Firefox: tap the Firefox logo five times to enable the debug menu.</li>
<li>Back in Settings, open <em>Sync Debug</em> → <em>Custom Sync server</em> and enter ${uri}</li>
<li>Let Firefox restart, then sign in with your Mozilla account.</li>
</ol>

<h2>Firefox for iOS</h2>
<ol>
<li>Settings: tap the version number at the bottom five times to show the debug options.</li>
<li>Under <em>Advanced Sync Settings</em>, turn on <em>Use Custom Sync Server</em> and enter ${uri}</li>
<li>Sign in with your Mozilla account.</li>
</ol>

<h2>Legacy Sync 1.1 clients</h2>
<p>Firefox 28 and older and other Sync 1.1 clients: choose a custom server and enter <code>${base}</code>. Accounts are created on this server (User API 1.0 at <code>${base}user/1.0/</code>); storage is at <code>${base}1.1/&lt;username&gt;/</code>. Account holders can <a href="${EXPORT_PATH}">download their own data</a>, <a href="/weave-password-reset">reset a forgotten password</a> or <a href="/weave-delete-account">delete their account</a>.</p>`;
  const nonce = pageNonce();
  const page = await layout({ title: "Firefox Sync server", heading: "Firefox Sync server", nonce, operator: cfg.operator }, content);
  return new Response(page, { headers: pageHeaders({ nonce, siteKey: null }) });
});
