/**
 * @module setup-page
 * `GET /`: a plain server-rendered page for the person who deployed this
 * Worker: what it is, whether new users may join, and the exact values to
 * enter in each Firefox for this deployment's URL. It never shows secrets;
 * it says only whether each required one is set.
 */
import { Hono } from "hono";
import { getConfig } from "../config";
import type { AppEnv } from "../env";
import { escapeHtml } from "../protocol/errors";
import { getTokenserverConfig } from "../tokenserver/config";

export const setupPageApp = new Hono<AppEnv>();

/** This deployment's public base URL, with a trailing slash. */
export function publicBase(env: Env, requestUrl: string): string {
  const configured = getConfig(env).publicUrl;
  return configured ?? `${new URL(requestUrl).origin}/`;
}

setupPageApp.get("/", (c) => {
  const cfg = getConfig(c.env);
  const base = publicBase(c.env, c.req.url);
  const tokenserverUri = `${base}1.0/sync/1.5`;
  let sync15: { ready: boolean; newUsers: string };
  try {
    const ts = getTokenserverConfig(c.env);
    sync15 = {
      ready: ts.masterSecrets.length > 0,
      newUsers: ts.allowedAccounts
        ? `only the ${ts.allowedAccounts.size} account(s) on the allow-list (SYNC_ALLOWED_ACCOUNTS)`
        : ts.allowNewUsers
          ? "yes: any Mozilla account may start syncing here"
          : "no: only accounts that have synced here before (ALLOW_NEW_SYNC_USERS = false)",
    };
  } catch {
    sync15 = { ready: false, newUsers: "unknown: the Sync 1.5 settings are invalid (see the Worker's logs)" };
  }
  const registration = {
    open: "open: anyone may create an account",
    secret: "only with the shared secret (X-Weave-Secret header)",
    closed: "closed: no new accounts",
  }[cfg.registration];
  const e = escapeHtml;
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Firefox Sync server</title>
<style>
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#15141a}
code{background:#f0f0f4;padding:.1rem .3rem;border-radius:.2rem;word-break:break-all}
h2{margin-top:2rem;border-bottom:1px solid #ccc}
.warn{background:#fff4de;border-left:4px solid #ffa436;padding:.5rem 1rem}
dt{font-weight:600}
</style>
</head>
<body>
<main>
<h1>Firefox Sync server</h1>
<p>This is a self-hosted Firefox Sync server: it stores the encrypted bookmarks, history, passwords, tabs and settings that Firefox syncs between your devices. Your data is encrypted by Firefox before it reaches this server.</p>
${!sync15.ready ? `<p class="warn">Sync 1.5 is not ready: set the secret <code>SYNC_MASTER_SECRET</code> (<code>wrangler secret put SYNC_MASTER_SECRET</code>).</p>` : ""}
${cfg.publicUrl === null ? `<p class="warn">PUBLIC_URL is not set, so the URLs below are taken from this request (<code>${e(base)}</code>). Set PUBLIC_URL to the address your devices use.</p>` : ""}
<dl>
<dt>Server URL</dt><dd><code>${e(base)}</code></dd>
<dt>New Firefox (Sync 1.5) users</dt><dd>${e(sync15.newUsers)}</dd>
<dt>New Sync 1.1 accounts</dt><dd>${e(registration)}</dd>
</dl>

<h2>Firefox for desktop</h2>
<ol>
<li>Before signing in to Sync, open <code>about:config</code> and accept the warning.</li>
<li>Set <code>identity.sync.tokenserver.uri</code> to <code>${e(tokenserverUri)}</code></li>
<li>Sign in with your Mozilla account (Settings → Sync). If you were signed in already, sign out first, then sign in again.</li>
</ol>

<h2>Firefox for Android</h2>
<ol>
<li>Settings → About Firefox: tap the Firefox logo five times to enable the debug menu.</li>
<li>Back in Settings, open <em>Sync Debug</em> → <em>Custom Sync server</em> and enter <code>${e(tokenserverUri)}</code></li>
<li>Let Firefox restart, then sign in with your Mozilla account.</li>
</ol>

<h2>Firefox for iOS</h2>
<ol>
<li>Settings: tap the version number at the bottom five times to show the debug options.</li>
<li>Under <em>Advanced Sync Settings</em>, turn on <em>Use Custom Sync Server</em> and enter <code>${e(tokenserverUri)}</code></li>
<li>Sign in with your Mozilla account.</li>
</ol>

<h2>Legacy Sync 1.1 clients</h2>
<p>Firefox 28 and older and other Sync 1.1 clients: choose a custom server and enter <code>${e(base)}</code>. Accounts are created on this server (User API 1.0 at <code>${e(base)}user/1.0/</code>); storage is at <code>${e(base)}1.1/&lt;username&gt;/</code>.</p>
</main>
</body>
</html>`;
  return c.html(html);
});
