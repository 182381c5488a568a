// A local stand-in for the Mozilla account servers (auth, OAuth, profile) that
// a real Firefox talks to once it is signed in, for the real-Firefox suite.
// One account; every Firefox profile signed in to it is one more device.
//
//   const acct = await startMockAccounts();
//   // the server pins acct.jwks (FXA_OAUTH_JWKS) and never fetches keys
//   const user = acct.signedInUser("A");  // what the accounts module's setSignedInUser() takes
//   acct.calls                            // [{ method, path }] seen, for diagnostics
//   await acct.close();
//
// What Firefox asks (each answered in the shape its client expects; the Hawk
// signature on the session-token calls is not checked):
//   POST /v1/oauth/token           {client_id, scope, grant_type: "fxa-credentials", ttl} → an
//                                  RS256 `at+jwt` access token (sub, scope, client_id, iat, exp,
//                                  jti, fxa-generation) signed with this mock's key
//   POST /v1/oauth/destroy         {}
//   POST /v1/account/device        register/update this device → echoes it with an id
//   GET  /v1/account/devices       the devices registered so far
//   GET  /v1/account/attached_clients, POST /v1/account/devices/notify, GET /v1/session/status,
//   GET  /v1/recovery_email/status, GET /v1/profile
import { createHash, generateKeyPairSync, hkdfSync, randomBytes, randomUUID, sign } from "node:crypto";
import { createServer } from "node:http";

export const OLDSYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync";

const b64url = (buf) => Buffer.from(buf).toString("base64url");

/**
 * The oldsync scoped key Firefox derives from kB: k = HKDF-SHA256(kB, empty salt,
 * "identity.mozilla.com/picl/v1/oldsync", 64 bytes); kid = `<keysChangedAt ms>-<b64url(SHA-256(kB)[0..16])>`
 * (the second part is the client state sent to the tokenserver in X-KeyID).
 */
export function oldsyncScopedKey(kB, keysChangedAt) {
  const k = Buffer.from(hkdfSync("sha256", kB, Buffer.alloc(0), "identity.mozilla.com/picl/v1/oldsync", 64));
  const clientState = createHash("sha256").update(kB).digest().subarray(0, 16);
  return { kid: `${keysChangedAt}-${b64url(clientState)}`, k: b64url(k), kty: "oct", scope: OLDSYNC_SCOPE };
}

/** @param {{ log?: (m: string) => void }} [opts] */
export async function startMockAccounts(opts = {}) {
  const log = opts.log ?? (() => {});
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = `firefox-e2e-${randomBytes(4).toString("hex")}`;
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" };

  const uid = randomBytes(16).toString("hex");
  const email = `firefox-e2e-${uid.slice(0, 8)}@example.test`;
  const kB = randomBytes(32);
  // Whole seconds in ms, like the account server's verifierSetAt/keysChangedAt.
  const keysChangedAt = Math.floor(Date.now() / 1000) * 1000 - 60_000;
  const generation = keysChangedAt;
  const scopedKey = oldsyncScopedKey(kB, keysChangedAt);

  const calls = [];
  const devices = new Map();
  let url = "";

  function accessToken(scope, clientId, ttl) {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: "RS256", typ: "at+jwt", kid };
    const claims = {
      sub: uid,
      scope,
      client_id: clientId,
      iss: url,
      aud: clientId,
      iat: now,
      exp: now + (Number.isInteger(ttl) && ttl > 0 ? ttl : 3600),
      jti: randomBytes(16).toString("hex"),
      "fxa-generation": generation,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${b64url(sign("sha256", Buffer.from(input), privateKey))}`;
  }

  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const path = new URL(req.url, "http://x").pathname;
      calls.push({ method: req.method, path });
      let body = {};
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {};
      } catch {
        /* not JSON */
      }
      const send = (status, obj) => {
        const text = JSON.stringify(obj);
        res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), Timestamp: String(Math.floor(Date.now() / 1000)) });
        res.end(text);
      };
      const route = `${req.method} ${path}`;
      switch (route) {
        case "GET /v1/jwks":
          return send(200, { keys: [jwk] });
        case "POST /v1/oauth/token": {
          const scope = typeof body.scope === "string" ? body.scope : OLDSYNC_SCOPE;
          const clientId = typeof body.client_id === "string" ? body.client_id : "5882386c6d801776";
          const ttl = Number(body.ttl) || 3600;
          return send(200, { access_token: accessToken(scope, clientId, ttl), token_type: "bearer", scope, expires_in: ttl, auth_at: Math.floor(Date.now() / 1000) });
        }
        case "POST /v1/oauth/destroy":
          return send(200, {});
        case "POST /v1/account/device": {
          const id = typeof body.id === "string" ? body.id : randomUUID().replace(/-/g, "");
          const device = { ...(devices.get(id) ?? {}), ...body, id };
          devices.set(id, device);
          return send(200, device);
        }
        case "GET /v1/account/devices":
          return send(200, [...devices.values()].map((d) => ({ isCurrentDevice: false, lastAccessTime: Date.now(), pushEndpointExpired: false, ...d })));
        case "GET /v1/account/attached_clients":
          return send(200, []);
        case "POST /v1/account/devices/notify":
          return send(200, {});
        case "GET /v1/session/status":
          return send(200, { state: "verified", uid });
        case "GET /v1/recovery_email/status":
          return send(200, { email, verified: true, sessionVerified: true, emailVerified: true });
        case "GET /v1/profile":
          return send(200, { uid, email, locale: "en-US", displayName: null, avatar: null, avatarDefault: true });
        default:
          log(`mock accounts: unexpected ${route}`);
          return send(404, { code: 404, errno: 999, error: "Not Found", message: `no mock for ${route}` });
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${server.address().port}`;

  return {
    url,
    uid,
    email,
    generation,
    keysChangedAt,
    /** The public key the server pins (FXA_OAUTH_JWKS). */
    jwks: { keys: [jwk] },
    /** Client state (hex) the tokenserver sees in X-KeyID for this account. */
    clientState: createHash("sha256").update(kB).digest().subarray(0, 16).toString("hex"),
    calls,
    devices,
    /** The signed-in user record for one device (its own session token, the shared keys). */
    signedInUser: () => ({
      uid,
      email,
      sessionToken: randomBytes(32).toString("hex"),
      verified: true,
      scopedKeys: { [OLDSYNC_SCOPE]: { ...scopedKey } },
    }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
