// Mock Firefox Accounts OAuth server for the end-to-end suite (Node, no
// dependencies). Publishes a JWKS and a verify endpoint and mints RS256 JWT
// access tokens for test accounts (TS10-4).
//
//   import { startMockFxa } from "./mock-fxa.mjs";
//   const fxa = await startMockFxa();            // { url, mintToken, mintOpaqueToken, keyId, close }
//   // point the Worker at it: FXA_OAUTH_SERVER_URL=fxa.url (JWKS at fxa.url + "/v1/jwks")
//   const token = fxa.mintToken({ uid: "0123…" , generation: 1700000000000 });
//   const xKeyId = fxa.keyId(1700000000000, "d47a3c1bb2f6e0a95c81f3e2a7b6c5d4");
//   fetch(`${worker}/1.0/sync/1.5`, { headers: { Authorization: `Bearer ${token}`, "X-KeyID": xKeyId } });
//   await fxa.close();
//
// Endpoints:
//   GET  /v1/jwks    {"keys": [RSA public JWK with kid]}
//   POST /v1/verify  {"token"} → 200 {"user", "scope": [...], "generation", "client_id"} for
//                    tokens minted here (JWT or opaque), else 400 like FxA.
//   GET  /__calls    JSON list of requests seen (for assertions).
import { createServer } from "node:http";
import { createHash, generateKeyPairSync, randomBytes, sign, verify } from "node:crypto";

export const SYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync";

const b64url = (buf) => Buffer.from(buf).toString("base64url");

/**
 * @param {{ port?: number, host?: string, kid?: string }} [opts]
 * @returns {Promise<{ url: string, mintToken: (o?: object) => string, mintOpaqueToken: (o?: object) => string,
 *   keyId: (keysChangedAt: number, clientStateHex: string) => string, randomUid: () => string,
 *   calls: object[], close: () => Promise<void> }>}
 */
export async function startMockFxa(opts = {}) {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = opts.kid ?? `mock-${randomBytes(4).toString("hex")}`;
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" };
  /** opaque token → verify response */
  const opaque = new Map();
  const calls = [];

  function verifyJwt(token) {
    const parts = token.split(".");
    if (parts.length !== 3) return null;
    const ok = verify("sha256", Buffer.from(`${parts[0]}.${parts[1]}`), publicKey, Buffer.from(parts[2], "base64url"));
    if (!ok) return null;
    const claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    if (typeof claims.exp === "number" && claims.exp < Date.now() / 1000) return null;
    return claims;
  }

  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      calls.push({ method: req.method, url: req.url, body });
      const send = (status, obj) => {
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(JSON.stringify(obj));
      };
      if (req.method === "GET" && req.url === "/v1/jwks") return send(200, { keys: [jwk] });
      if (req.method === "GET" && req.url === "/__calls") return send(200, calls);
      if (req.method === "POST" && req.url === "/v1/verify") {
        let token;
        try {
          token = JSON.parse(body).token;
        } catch {
          return send(400, { code: 400, errno: 107, message: "Invalid parameter in request body" });
        }
        const o = opaque.get(token);
        if (o) return send(200, o);
        const claims = typeof token === "string" ? verifyJwt(token) : null;
        if (!claims) return send(400, { code: 400, errno: 108, message: "Invalid token" });
        return send(200, {
          user: claims.sub,
          client_id: claims.client_id,
          scope: String(claims.scope).split(/\s+/),
          generation: claims["fxa-generation"] ?? null,
        });
      }
      send(404, { code: 404, errno: 999, message: "Not found" });
    });
  });
  await new Promise((resolve) => server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", resolve));
  const { port } = server.address();
  const url = `http://${opts.host ?? "127.0.0.1"}:${port}`;

  const randomUid = () => randomBytes(16).toString("hex");

  /**
   * A signed RS256 access token (typ at+jwt).
   * @param {{ uid?: string, generation?: number, scope?: string, expiresIn?: number, typ?: string, claims?: object }} [o]
   */
  function mintToken(o = {}) {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: "RS256", typ: o.typ ?? "at+jwt", kid };
    const claims = {
      sub: o.uid ?? randomUid(),
      scope: o.scope ?? `profile ${SYNC_SCOPE}`,
      client_id: "5882386c6d801776",
      iss: url,
      aud: "mock-tokenserver",
      iat: now,
      exp: now + (o.expiresIn ?? 3600),
      jti: randomBytes(16).toString("hex"),
      ...(o.generation !== undefined ? { "fxa-generation": o.generation } : {}),
      ...(o.claims ?? {}),
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${b64url(sign("sha256", Buffer.from(input), privateKey))}`;
  }

  /** A non-JWT token only /v1/verify knows (exercises the fallback path). */
  function mintOpaqueToken(o = {}) {
    const token = randomBytes(32).toString("hex");
    opaque.set(token, {
      user: o.uid ?? randomUid(),
      client_id: "5882386c6d801776",
      scope: o.scope ? String(o.scope).split(/\s+/) : [SYNC_SCOPE],
      generation: o.generation ?? null,
    });
    return token;
  }

  /** X-KeyID header: `<keys_changed_at>-<base64url_nopad(client state bytes)>`. */
  function keyId(keysChangedAt, clientStateHex) {
    return `${keysChangedAt}-${Buffer.from(clientStateHex, "hex").toString("base64url")}`;
  }

  return {
    url,
    mintToken,
    mintOpaqueToken,
    keyId,
    randomUid,
    calls,
    /** client state as Firefox computes it: first 16 bytes of SHA-256(kB), hex. */
    clientStateFor: (kB) => createHash("sha256").update(kB).digest().subarray(0, 16).toString("hex"),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

// `node test/e2e/mock-fxa.mjs` runs it standalone and prints a token.
if (import.meta.url === `file://${process.argv[1]}`) {
  const fxa = await startMockFxa({ port: Number(process.env.PORT ?? 0) });
  console.log(`mock FxA at ${fxa.url}`);
  console.log(`token: ${fxa.mintToken({ uid: "6a1d4c0f2e8b47a39c5d7e1f0a2b3c4d" })}`);
}
