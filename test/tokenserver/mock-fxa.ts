/**
 * In-workerd mock of the FxA OAuth server for tokenserver tests: an RSA key
 * made with WebCrypto, a JWKS and /v1/verify served through an injected
 * fetch function (no network), and a JWT minter.
 */
import { toBase64UrlNoPad, utf8 } from "../../src/auth/encoding";
import type { FetchLike } from "../../src/tokenserver/fxa";

export const FXA_URL = "https://fxa.test";
export const SYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync";

export interface MintOptions {
  sub: string;
  scope?: string;
  generation?: number;
  /** seconds */
  exp?: number;
  typ?: string | null;
  alg?: string;
  kid?: string;
  /** sign with another key than the published one */
  wrongKey?: boolean;
  extraClaims?: Record<string, unknown>;
}

export interface MockFxa {
  fetch: FetchLike;
  calls: { method: string; url: string; body?: string }[];
  mint(o: MintOptions): Promise<string>;
  /** Opaque (non-JWT) tokens answered by /v1/verify. */
  opaque: Map<string, { status: number; body: unknown }>;
  jwksStatus: number;
  kid: string;
  rotate(): Promise<void>;
}

async function rsaKey(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
}

let sharedKeys: Promise<[CryptoKeyPair, CryptoKeyPair]> | null = null;

export async function createMockFxa(): Promise<MockFxa> {
  // RSA key generation is slow; share one published key and one foreign key per test file.
  sharedKeys ??= Promise.all([rsaKey(), rsaKey()]);
  const [first, other] = await sharedKeys;
  let pair = first;
  const m: MockFxa = {
    calls: [],
    opaque: new Map(),
    jwksStatus: 200,
    kid: "key-1",
    fetch: async (url, init) => {
      const method = init?.method ?? "GET";
      const body = typeof init?.body === "string" ? init.body : undefined;
      m.calls.push({ method, url, body });
      if (url === `${FXA_URL}/v1/jwks` && method === "GET") {
        if (m.jwksStatus !== 200) return new Response("nope", { status: m.jwksStatus });
        const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
        return Response.json({ keys: [{ ...jwk, kid: m.kid, use: "sig", alg: "RS256", "fxa-createdAt": 1 }] });
      }
      if (url === `${FXA_URL}/v1/verify` && method === "POST") {
        const token = (JSON.parse(body ?? "{}") as { token?: string }).token ?? "";
        const r = m.opaque.get(token);
        if (!r) return Response.json({ code: 400, errno: 108, message: "Invalid token" }, { status: 400 });
        return Response.json(r.body, { status: r.status });
      }
      return new Response("not found", { status: 404 });
    },
    async mint(o) {
      const header: Record<string, unknown> = { alg: o.alg ?? "RS256", kid: o.kid ?? m.kid };
      if (o.typ !== null) header.typ = o.typ ?? "at+JWT";
      const claims: Record<string, unknown> = {
        sub: o.sub,
        scope: o.scope ?? `profile ${SYNC_SCOPE}`,
        exp: o.exp ?? Math.floor(Date.now() / 1000) + 600,
        iat: Math.floor(Date.now() / 1000),
        iss: FXA_URL,
        client_id: "5882386c6d801776",
        ...o.extraClaims,
      };
      if (o.generation !== undefined) claims["fxa-generation"] = o.generation;
      const signingInput = `${toBase64UrlNoPad(utf8(JSON.stringify(header)))}.${toBase64UrlNoPad(utf8(JSON.stringify(claims)))}`;
      const key = o.wrongKey ? other.privateKey : pair.privateKey;
      const sig = new Uint8Array(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, utf8(signingInput)));
      return `${signingInput}.${toBase64UrlNoPad(sig)}`;
    },
    async rotate() {
      pair = await rsaKey();
      m.kid = `key-${Math.random().toString(36).slice(2, 8)}`;
    },
  };
  return m;
}
