// Chrome-context helpers for the real-Firefox suite: the profile prefs, signing
// a profile in without web pages, one explicit sync, and writing/reading the
// data Sync carries (bookmarks, history, logins, prefs, tabs) through the
// browser's own modules (PlacesUtils, Services.logins, Services.prefs).
// Every function takes a Firefox from launchFirefox() (support/firefox-marionette.mjs).

/**
 * user.js prefs for one profile: the account servers on the local mock, the
 * tokenserver on this server, no automatic syncs, nothing off the machine.
 * The tokenserver URL is read at each token fetch, so it can be set after
 * launch (setTokenserver) while the server is still starting.
 * @param {{ accountsUrl: string, serverUrl?: string, debugLog?: boolean }} o
 */
export function profilePrefs({ accountsUrl, serverUrl = "http://127.0.0.1:9", debugLog = false }) {
  const long = 7 * 24 * 3600; // seconds; the scheduler's intervals never fire during a test
  return {
    // Mozilla accounts → the mock
    "identity.fxaccounts.auth.uri": `${accountsUrl}/v1`,
    "identity.fxaccounts.remote.oauth.uri": `${accountsUrl}/v1`,
    "identity.fxaccounts.remote.profile.uri": `${accountsUrl}/v1`,
    "identity.fxaccounts.remote.root": `${accountsUrl}/`,
    "identity.fxaccounts.allowHttp": true,
    "identity.fxaccounts.autoconfig.uri": "",
    "identity.fxaccounts.commands.enabled": false,
    // Sync → this server; the test decides when each profile syncs
    "identity.sync.tokenserver.uri": `${serverUrl}/1.0/sync/1.5`,
    "services.sync.testing.tps": true,
    "services.sync.scheduler.idleInterval": long,
    "services.sync.scheduler.activeInterval": long,
    "services.sync.scheduler.immediateInterval": long,
    "services.sync.scheduler.fxa.singleDeviceInterval": long,
    "services.sync.syncedTabs.syncDelayAfterTabChange": 0,
    "services.sync.maxResyncs": 0,
    "services.sync.engine.bookmarks.validation.percentageChance": 0,
    "services.sync.engine.passwords.validation.percentageChance": 0,
    "services.sync.engine.addons": false,
    "services.sync.engine.addresses": false,
    "services.sync.engine.creditcards": false,
    "services.sync.log.appender.dump": debugLog ? "Debug" : "Warn",
    "browser.dom.window.dump.enabled": true,
    // quiet: no push, telemetry, updates, remote settings, DNS over HTTPS, captive portal, first-run pages
    "dom.push.enabled": false,
    "dom.push.connection.enabled": false,
    "toolkit.telemetry.enabled": false,
    "toolkit.telemetry.unified": false,
    "toolkit.telemetry.server": "",
    "toolkit.telemetry.archive.enabled": false,
    "datareporting.healthreport.uploadEnabled": false,
    "datareporting.policy.dataSubmissionEnabled": false,
    "app.update.disabledForTesting": true,
    "app.normandy.enabled": false,
    "services.settings.server": "http://127.0.0.1:9/v1",
    "network.trr.mode": 5,
    "network.captive-portal-service.enabled": false,
    "network.connectivity-service.enabled": false,
    "network.dns.disablePrefetch": true,
    "network.prefetch-next": false,
    "browser.safebrowsing.update.enabled": false,
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "extensions.getAddons.cache.enabled": false,
    "extensions.systemAddon.update.enabled": false,
    "media.gmp-manager.updateEnabled": false,
    "browser.region.network.url": "",
    "browser.region.update.enabled": false,
    "browser.search.geoSpecificDefaults": false,
    "browser.shell.checkDefaultBrowser": false,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": false,
    "browser.topsites.contile.enabled": false,
    "browser.newtabpage.activity-stream.feeds.system.topstories": false,
    "browser.newtabpage.activity-stream.telemetry": false,
    "browser.ping-centre.telemetry": false,
    "browser.newtab.preload": false,
    "signon.management.page.breach-alerts.enabled": false,
  };
}

const IMPORTS = `
  const { Weave } = ChromeUtils.importESModule("resource://services-sync/main.sys.mjs");
  const { PlacesUtils } = ChromeUtils.importESModule("resource://gre/modules/PlacesUtils.sys.mjs");
`;

/**
 * Signs the profile in to the mock account (the accounts module's
 * setSignedInUser with the oldsync scoped key, as the web flow ends), turns
 * Sync on, and takes the scheduler's timers away so that only syncOnce() syncs.
 * Also starts recording every request Sync's storage client makes.
 */
export async function signIn(ff, user, deviceName) {
  return ff.chrome(
    `${IMPORTS}
    const service = Cc["@mozilla.org/weave/service;1"].getService().wrappedJSObject;
    await service.whenLoaded();
    const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
    const fxAccounts = getFxAccountsSingleton();
    await fxAccounts._internal.setSignedInUser(args.user);
    // The device name (setSignedInUser clears the account's prefs, so it is set afterwards), registered before Sync starts.
    fxAccounts.device.setLocalName(args.deviceName);
    await fxAccounts.device.updateDeviceRegistration();
    await Weave.Service.configure();
    // The test decides when to sync (like Mozilla's own TPS harness): no scheduled or follow-up syncs.
    Weave.Service.scheduler.clearSyncTriggers();
    Weave.Service.scheduler.scheduleNextSync = () => {};
    // Record what Sync asks of the storage server (method, URL, status).
    const { Resource } = ChromeUtils.importESModule("resource://services-sync/resource.sys.mjs");
    if (!Resource.prototype.__e2eRecorded) {
      const original = Resource.prototype._doRequest;
      globalThis.__e2eRequests = [];
      const requests = globalThis.__e2eRequests;
      Resource.prototype._doRequest = async function (method, data) {
        const entry = { method, url: this.uri.spec, status: 0, records: null };
        if (method === "POST" && typeof data === "string" && data.startsWith("[")) {
          try { entry.records = JSON.parse(data).length; } catch {}
        }
        requests.push(entry);
        const response = await original.call(this, method, data);
        entry.status = response.status;
        return response;
      };
      Resource.prototype.__e2eRecorded = true;
    }
    const signedIn = await fxAccounts.getSignedInUser();
    return { email: signedIn.email, verified: signedIn.verified, username: Services.prefs.getStringPref("services.sync.username", ""),
             localName: Weave.Service.clientsEngine.localName, localID: Weave.Service.clientsEngine.localID };`,
    { user, deviceName },
  );
}

/**
 * Fetches the account's device list anew (Firefox caches it; a profile signed in
 * alongside another may have cached it before the other registered) and returns the names.
 */
export async function refreshDevices(ff) {
  return ff.chrome(
    `const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
    const fxAccounts = getFxAccountsSingleton();
    await fxAccounts.device.refreshDeviceList({ ignoreCached: true });
    return fxAccounts.device.recentDeviceList.map((d) => d.name).sort();`,
  );
}

/** Points Sync's tokenserver pref at the server (before signIn). */
export async function setTokenserver(ff, serverUrl) {
  return ff.chrome(`Services.prefs.setStringPref("identity.sync.tokenserver.uri", args.url); return true;`, { url: `${serverUrl}/1.0/sync/1.5` });
}

/** What the server holds for the account: info/collection_counts, fetched with this profile's Hawk credentials. */
export async function serverCounts(ff) {
  return ff.chrome(
    `${IMPORTS}
    const url = Weave.Service.infoURL.replace(/collections$/, "collection_counts");
    const response = await Weave.Service.resource(url).get();
    if (response.status !== 200) throw new Error("info/collection_counts: HTTP " + response.status);
    return JSON.parse(response.data);`,
  );
}

/** The storage requests recorded since the last call (and clears the list). */
export async function takeRequests(ff) {
  return ff.chrome(`const r = globalThis.__e2eRequests ?? []; const out = r.splice(0, r.length); return out;`);
}

/**
 * One full sync; resolves with per-engine counts, rejects with Firefox's own
 * error (service status, engine errors, records that failed to apply/upload).
 */
export async function syncOnce(ff, { timeoutMs = 150_000 } = {}) {
  const result = await ff.chrome(
    `${IMPORTS}
    const started = Date.now();
    while (Weave.Service.locked) {
      if (Date.now() - started > 60_000) throw new Error("another sync held the sync lock for 60 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    const engines = {};
    const errors = [];
    let finished = false;
    const eng = (name) => (engines[name] ??= { applied: 0, applyFailed: 0, reconciled: 0, sent: 0, uploadFailed: 0 });
    const observer = {
      observe(subject, topic, data) {
        // Sync's observers module wraps JS subjects as { observersModuleSubjectWrapper, object }.
        let s = subject && subject.wrappedJSObject ? subject.wrappedJSObject : subject;
        if (s && s.observersModuleSubjectWrapper) s = s.object;
        if (topic === "weave:engine:sync:applied" && s) {
          const e = eng(data); e.applied += s.applied || 0; e.applyFailed += s.failed || 0; e.reconciled += s.reconciled || 0;
        } else if (topic === "weave:engine:sync:uploaded" && s) {
          const e = eng(data); e.sent += s.sent || 0; e.uploadFailed += s.failed || 0;
        } else if (topic === "weave:engine:sync:error") {
          errors.push(data + ": " + String(s && (s.message || s)));
        } else if (topic === "weave:service:sync:error" || topic === "weave:service:login:error") {
          errors.push(topic + ": " + String(s && (s.message || s) || data || ""));
        } else if (topic === "weave:service:sync:finish") {
          finished = true;
        }
      },
    };
    const topics = ["weave:engine:sync:applied", "weave:engine:sync:uploaded", "weave:engine:sync:error",
                    "weave:service:sync:error", "weave:service:login:error", "weave:service:sync:finish"];
    for (const t of topics) Services.obs.addObserver(observer, t);
    try {
      await Weave.Service.sync({ why: "user" });
    } finally {
      for (const t of topics) Services.obs.removeObserver(observer, t);
    }
    const status = { service: Weave.Status.service, sync: Weave.Status.sync, login: Weave.Status.login, engines: { ...Weave.Status.engines } };
    return { finished, errors, status, engines, ms: Date.now() - started };`,
    {},
    timeoutMs,
  );
  const failedApply = Object.entries(result.engines).filter(([, e]) => e.applyFailed > 0 || e.uploadFailed > 0);
  if (!result.finished || result.errors.length > 0 || result.status.service !== "success.status_ok" || failedApply.length > 0) {
    throw new Error(
      `Firefox ${ff.name}: sync did not succeed: ${JSON.stringify({ finished: result.finished, errors: result.errors, status: result.status, failedRecords: Object.fromEntries(failedApply) })}`,
    );
  }
  return result;
}

// ---- bookmarks -------------------------------------------------------------

/** Inserts a tree (PlacesUtils.bookmarks.insertTree shape) under a root: "menu", "toolbar", "unfiled", "mobile". */
export async function insertBookmarks(ff, root, children) {
  return ff.chrome(
    `${IMPORTS}
    const parent = PlacesUtils.bookmarks[args.root + "Guid"];
    const inserted = await PlacesUtils.bookmarks.insertTree({ guid: parent, children: args.children });
    return inserted.length;`,
    { root, children },
  );
}

/** Renames / moves / deletes bookmarks by URL. */
export async function editBookmarks(ff, { rename = {}, remove = [] }) {
  return ff.chrome(
    `${IMPORTS}
    let changed = 0;
    for (const [url, title] of Object.entries(args.rename)) {
      const bm = await PlacesUtils.bookmarks.fetch({ url });
      if (!bm) throw new Error("no bookmark for " + url);
      await PlacesUtils.bookmarks.update({ guid: bm.guid, title });
      changed++;
    }
    for (const url of args.remove) {
      const bm = await PlacesUtils.bookmarks.fetch({ url });
      if (!bm) throw new Error("no bookmark for " + url);
      await PlacesUtils.bookmarks.remove(bm.guid);
      changed++;
    }
    return changed;`,
    { rename, remove },
  );
}

/**
 * Every bookmark, folder and separator under the four syncable roots, in
 * order: { guid, type, title, url?, tags?, keyword?, children? } (dates left out:
 * lastModified is per device).
 */
export async function readBookmarks(ff) {
  return ff.chrome(
    `${IMPORTS}
    const roots = ["menu", "toolbar", "unfiled", "mobile"].map((r) => PlacesUtils.bookmarks[r + "Guid"]);
    const norm = (n) => {
      const o = { guid: n.guid, type: n.typeCode, title: n.title || "" };
      if (n.uri) o.url = n.uri;
      if (n.tags) o.tags = n.tags.split(",").sort().join(",");
      if (n.keyword) o.keyword = n.keyword;
      if (n.children) o.children = n.children.map(norm);
      return o;
    };
    const out = [];
    for (const guid of roots) {
      const tree = await PlacesUtils.promiseBookmarksTree(guid, { includeItemIds: false });
      out.push(norm(tree));
    }
    return out;`,
  );
}

// ---- history ---------------------------------------------------------------

/** Adds pages with visits: [{ url, title, visits: [{ date: ms, transition? }] }]. */
export async function insertHistory(ff, pages) {
  return ff.chrome(
    `${IMPORTS}
    const infos = args.pages.map((p) => ({
      url: p.url,
      title: p.title,
      visits: p.visits.map((v) => ({ date: new Date(v.date), transition: v.transition ?? PlacesUtils.history.TRANSITIONS.LINK })),
    }));
    for (let i = 0; i < infos.length; i += 500) await PlacesUtils.history.insertMany(infos.slice(i, i + 500));
    return infos.length;`,
    { pages },
    300_000,
  );
}

/** Every visited page with its visits: [{ guid, url, title, visits: [[µs date, type], …] }] sorted by URL. */
export async function readHistory(ff) {
  return ff.chrome(
    `${IMPORTS}
    const db = await PlacesUtils.promiseDBConnection();
    const rows = await db.execute(
      "SELECT h.guid, h.url, h.title, v.visit_date, v.visit_type FROM moz_places h JOIN moz_historyvisits v ON v.place_id = h.id ORDER BY h.url, v.visit_date, v.visit_type");
    const pages = [];
    let last = null;
    for (const row of rows) {
      const url = row.getResultByName("url");
      if (!last || last.url !== url) {
        last = { guid: row.getResultByName("guid"), url, title: row.getResultByName("title") || "", visits: [] };
        pages.push(last);
      }
      last.visits.push([row.getResultByName("visit_date"), row.getResultByName("visit_type")]);
    }
    return pages;`,
  );
}

// ---- logins ----------------------------------------------------------------

/** Adds logins: [{ origin, formActionOrigin?, httpRealm?, username, password, usernameField?, passwordField? }]. */
export async function addLogins(ff, logins) {
  return ff.chrome(
    `const LoginInfo = Components.Constructor("@mozilla.org/login-manager/loginInfo;1", Ci.nsILoginInfo, "init");
    const infos = args.logins.map((l) => new LoginInfo(l.origin, l.httpRealm ? null : (l.formActionOrigin ?? l.origin), l.httpRealm ?? null,
      l.username, l.password, l.usernameField ?? "", l.passwordField ?? ""));
    const added = await Services.logins.addLogins(infos);
    return added.length;`,
    { logins },
  );
}

/** Changes the password of the login for (origin, username). */
export async function changeLoginPassword(ff, origin, username, password) {
  return ff.chrome(
    `const all = await Services.logins.getAllLogins();
    const login = all.find((l) => l.origin === args.origin && l.username === args.username);
    if (!login) throw new Error("no login for " + args.username + " at " + args.origin);
    const bag = Cc["@mozilla.org/hash-property-bag;1"].createInstance(Ci.nsIWritablePropertyBag);
    bag.setProperty("password", args.password);
    // Firefox 153 has only the async form; 140 has both.
    if (typeof Services.logins.modifyLoginAsync === "function") await Services.logins.modifyLoginAsync(login, bag);
    else Services.logins.modifyLogin(login, bag);
    return true;`,
    { origin, username, password },
  );
}

/**
 * Every saved login, sorted by guid (timestamps left out), except the entry the
 * accounts module keeps its own secrets in (origin chrome://FirefoxAccounts, never synced).
 */
export async function readLogins(ff) {
  return ff.chrome(
    `const all = await Services.logins.getAllLogins();
    return all.filter((l) => l.origin !== "chrome://FirefoxAccounts").map((l) => {
      l.QueryInterface(Ci.nsILoginMetaInfo);
      return { guid: l.guid, origin: l.origin, formActionOrigin: l.formActionOrigin, httpRealm: l.httpRealm,
               username: l.username, password: l.password, usernameField: l.usernameField, passwordField: l.passwordField };
    }).sort((a, b) => (a.guid < b.guid ? -1 : 1));`,
  );
}

// ---- prefs -----------------------------------------------------------------

/** Sets user prefs: { name: string|number|boolean }. */
export async function setPrefs(ff, prefs) {
  return ff.chrome(
    `for (const [name, value] of Object.entries(args.prefs)) {
      if (typeof value === "boolean") Services.prefs.setBoolPref(name, value);
      else if (typeof value === "number") Services.prefs.setIntPref(name, value);
      else Services.prefs.setStringPref(name, value);
    }
    return Object.keys(args.prefs).length;`,
    { prefs },
  );
}

/**
 * The values of every pref Sync carries on this profile (the ones with a
 * services.sync.prefs.sync.* control pref), as { name: value|null } (null = default).
 */
export async function readSyncedPrefs(ff) {
  return ff.chrome(
    `const out = {};
    for (const control of Services.prefs.getChildList("services.sync.prefs.sync.").sort()) {
      if (!Services.prefs.getBoolPref(control, false)) continue;
      const name = control.slice("services.sync.prefs.sync.".length);
      if (!Services.prefs.prefHasUserValue(name)) { out[name] = null; continue; }
      switch (Services.prefs.getPrefType(name)) {
        case Services.prefs.PREF_BOOL: out[name] = Services.prefs.getBoolPref(name); break;
        case Services.prefs.PREF_INT: out[name] = Services.prefs.getIntPref(name); break;
        case Services.prefs.PREF_STRING: out[name] = Services.prefs.getStringPref(name); break;
      }
    }
    return out;`,
  );
}

// ---- tabs ------------------------------------------------------------------

/** Opens tabs without loading them (lazy browsers, so no page loads and no history). */
export async function openTabs(ff, tabs) {
  return ff.chrome(
    `const win = Services.wm.getMostRecentWindow("navigator:browser");
    if (!win) throw new Error("no browser window");
    for (const t of args.tabs) {
      win.gBrowser.addTrustedTab(t.url, { createLazyBrowser: true, lazyTabTitle: t.title, inBackground: true });
    }
    return win.gBrowser.tabs.map((t) => t.linkedBrowser.currentURI.spec);`,
    { tabs },
  );
}

/** The other devices' open tabs as this profile's Sync sees them: [{ name, tabs: [{ url, title }] }]. */
export async function readRemoteTabs(ff) {
  return ff.chrome(
    `const { SyncedTabs } = ChromeUtils.importESModule("resource://services-sync/SyncedTabs.sys.mjs");
    const clients = await SyncedTabs.getTabClients();
    return clients.map((c) => ({ name: c.name, tabs: c.tabs.map((t) => ({ url: t.url, title: t.title })) }));`,
  );
}
