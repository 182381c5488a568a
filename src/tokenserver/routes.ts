/**
 * @module tokenserver/routes
 * Tokenserver 1.0 HTTP surface (tokenserver-1.0 §2–§3, §10–§11) as a Hono
 * sub-app. Mount at the root: `app.route("/", tokenserverApp)`. Serves
 *
 *   GET /1.0/{application}/{version}         (Firefox: identity.sync.tokenserver.uri = <base>/1.0/sync/1.5)
 *   GET /token/1.0/{application}/{version}   (old Python bundle path)
 *
 * Settings and their defaults: src/tokenserver/config.ts (table at the top).
 * Only `sync` / `1.5` is supported. Errors never leave this sub-app as
 * exceptions: every failure is a JSON body from errors.ts (Firefox treats a
 * non-JSON error as malformed).
 */
import { Hono, type Context } from "hono";
import type { AppEnv } from "../env";
import { getTokenserverConfig, type TokenserverConfig } from "./config";
import { CLIENT_STATE_RE, hashedDeviceId, hashedFxaUid, parseKeyId } from "./derive";
import { renderTokenserver, TsErrors } from "./errors";
import { defaultJwksCache, verifyAccessToken, type FetchLike, type JwksCache } from "./fxa";
import { issueToken } from "./service";

export interface TokenserverDeps {
  /** Outgoing fetch for the FxA JWKS and verify endpoints (tests pass a fake). */
  fetch: FetchLike;
  nowMs: () => number;
  jwksCache: JwksCache;
}

/** Longest bearer token verified. */
export const MAX_ACCESS_TOKEN_CHARS = 16 * 1024;

const defaultDeps: TokenserverDeps = {
  fetch: (input, init) => fetch(input, init),
  nowMs: () => Date.now(),
  jwksCache: defaultJwksCache,
};

/** §2: `duration` if an unsigned integer in 1..max, else the default (0 ignored, as recommended). */
export function parseDuration(raw: string | undefined, max: number): number {
  if (raw === undefined || !/^\d{1,10}$/.test(raw)) return max;
  const n = Number(raw);
  return n > 0 && n <= max ? n : max;
}

/** §11 row 12: the query string must percent-decode. */
function queryIsWellFormed(url: string): boolean {
  const q = new URL(url).search.slice(1);
  if (q === "") return true;
  try {
    for (const part of q.split("&")) decodeURIComponent(part.replace(/\+/g, " "));
    return true;
  } catch {
    return false;
  }
}

function publicBase(cfg: TokenserverConfig, url: string): string {
  return cfg.publicUrl ?? new URL(url).origin;
}

/** The allow-list matches the FxA uid or the synthesized `<uid>@<domain>` e-mail. */
function isAllowed(cfg: TokenserverConfig, fxaUid: string): boolean {
  if (cfg.allowedAccounts === null) return true;
  const uid = fxaUid.toLowerCase();
  return cfg.allowedAccounts.has(uid) || cfg.allowedAccounts.has(`${uid}@${cfg.emailDomain.toLowerCase()}`);
}

async function handleToken(c: Context<AppEnv>, deps: TokenserverDeps, application: string, version: string): Promise<Response> {
  const cfg = getTokenserverConfig(c.env);
  const nowMs = deps.nowMs();

  // 1. Authorization (§3.1)
  const auth = c.req.header("authorization");
  if (auth === undefined) throw TsErrors.noAuthorization();
  const sp = auth.indexOf(" ");
  if (sp < 0) throw TsErrors.authNoSpace();
  if (auth.slice(0, sp).toLowerCase() !== "bearer") throw TsErrors.unsupportedScheme();
  const accessToken = auth.slice(sp + 1).trim();
  // An access token is a JWT of a few KB at most; longer ones are not parsed.
  if (accessToken.length > MAX_ACCESS_TOKEN_CHARS) throw TsErrors.invalidCredentials();

  // 2. OAuth token (§4)
  const verified = await verifyAccessToken(accessToken, cfg, { fetch: deps.fetch, nowMs, jwksCache: deps.jwksCache });
  if (!verified.ok) throw TsErrors.invalidCredentials();

  // 3. X-KeyID / X-Client-State (§3.2–3.3)
  const keyId = parseKeyId(c.req.header("x-keyid"));
  if (keyId.kind === "missing") throw TsErrors.missingKeyId();
  if (keyId.kind === "malformed") throw TsErrors.invalidCredentials();
  const xcs = c.req.header("x-client-state");
  if (xcs !== undefined) {
    if (!CLIENT_STATE_RE.test(xcs)) throw TsErrors.badClientStateHeader();
    if (xcs !== keyId.clientState) throw TsErrors.clientStateMismatch();
  }

  // 4. Derived values (§5)
  const hFxaUid = await hashedFxaUid(cfg.metricsHashSecret, verified.fxaUid);
  const hDevice = await hashedDeviceId(cfg.metricsHashSecret, hFxaUid);

  // 5. Application / version (§2)
  if (application !== "sync") throw TsErrors.unknownApplication();
  if (version !== "1.5") throw TsErrors.unknownVersion(version);

  // Operator allow-list (ours, not the reference's).
  if (!isAllowed(cfg, verified.fxaUid)) throw TsErrors.notAllowed(verified.fxaUid);

  // 7. duration (§2); malformed query → §11 row 12
  if (!queryIsWellFormed(c.req.url)) throw TsErrors.badQuery();
  const duration = parseDuration(c.req.query("duration"), cfg.tokenDuration);

  // 6, 8–10.
  const body = await issueToken(c.env.DB, cfg, {
    fxaUid: verified.fxaUid,
    generation: verified.generation,
    keysChangedAt: keyId.keysChangedAt,
    clientState: keyId.clientState,
    hashedFxaUid: hFxaUid,
    hashedDeviceId: hDevice,
    duration,
    nodeUrl: publicBase(cfg, c.req.url),
    nowMs,
  });
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: {
      "Content-Type": "application/json",
      "X-Timestamp": String(Math.floor(nowMs / 1000)),
      "X-Content-Type-Options": "nosniff",
    },
  });
}

/** Builds the sub-app; tests inject deps (fake FxA fetch, clock). */
export function createTokenserverApp(overrides: Partial<TokenserverDeps> = {}): Hono<AppEnv> {
  const deps: TokenserverDeps = { ...defaultDeps, ...overrides };
  const app = new Hono<AppEnv>();
  const run = async (c: Context<AppEnv>, application: string, version: string): Promise<Response> => {
    try {
      return await handleToken(c, deps, application, version);
    } catch (err) {
      return renderTokenserver(err);
    }
  };
  // `/1.0/<user>/storage` and `/1.0/<user>/info` are Storage 1.1 paths
  // (storage-1.1 §3.2: GET answers 405 / 404 there); no tokenserver
  // application has a version called "storage" or "info", so leave them to 1.1.
  app.get("/1.0/:application/:version", (c, next) => {
    const version = c.req.param("version");
    if (version === "storage" || version === "info") return next();
    return run(c, c.req.param("application"), version);
  });
  app.get("/token/1.0/:application/:version", (c) => run(c, c.req.param("application"), c.req.param("version")));
  return app;
}

export const tokenserverApp = createTokenserverApp();
