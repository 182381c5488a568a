/**
 * @module tokenserver/errors
 * The tokenserver's error bodies (tokenserver-1.0 §11), in one place. Every
 * error is JSON `{"status", "errors": [{location, name, description}]}`.
 */
import { ApiError, logCrash } from "../protocol/errors";

/**
 * A tokenserver answer: an {@link ApiError} whose body is the §11 JSON (the
 * `status` string, and one error's location, name and description).
 */
export class TokenserverError extends ApiError {
  constructor(
    httpStatus: number,
    readonly errStatus: string,
    readonly location: string,
    readonly errName: string,
    readonly description: string,
  ) {
    super(httpStatus, null, description);
  }

  body(): string {
    return JSON.stringify({ status: this.errStatus, errors: [{ location: this.location, name: this.errName, description: this.description }] });
  }
}

/**
 * The tokenserver renderer: its own errors as JSON, anything else (a bug or
 * a D1 failure) as the logged 500 `internal-error` (§11 row 17).
 */
export function renderTokenserver(err: unknown): Response {
  let e: TokenserverError;
  if (err instanceof TokenserverError) e = err;
  else {
    // Never log request headers or tokens; the error itself carries no secrets.
    logCrash(err, "tokenserver");
    e = TsErrors.internal();
  }
  return new Response(e.body(), { status: e.status, headers: { "Content-Type": "application/json", "X-Content-Type-Options": "nosniff" } });
}

const e = (h: number, s: string, l: string, n: string, d: string) => () => new TokenserverError(h, s, l, n, d);

/** §11 rows, by number. */
export const TsErrors = {
  noAuthorization: e(401, "error", "body", "", "Unauthorized"), // 1
  authNoSpace: e(401, "error", "body", "", "Unauthorized"), // 2
  unsupportedScheme: e(401, "error", "body", "", "Unsupported"), // 3
  invalidCredentials: e(401, "invalid-credentials", "body", "", "Unauthorized"), // 4, 6
  missingKeyId: e(401, "invalid-key-id", "header", "", "Missing X-KeyID header"), // 5
  badClientStateHeader: e(400, "error", "header", "X-Client-State", "Invalid client state value"), // 7
  clientStateMismatch: e(401, "invalid-client-state", "body", "", "Unauthorized"), // 8
  unknownApplication: e(404, "error", "url", "application", "Unsupported application"), // 9
  unknownVersion: (version: string) => new TokenserverError(404, "error", "url", version, "Unsupported application version"), // 10
  newUsersDisabled: e(403, "new-users-disabled", "body", "", "New users are not allowed"), // 11
  badQuery: e(400, "error", "url", "", "invalid query params"), // 12
  invalidKeysChangedAt: e(401, "invalid-keysChangedAt", "body", "", "Unauthorized"), // 13
  invalidClientState: (reason: string) =>
    new TokenserverError(401, "invalid-client-state", "header", "X-Client-State", `Unacceptable client-state value ${reason}`), // 14
  invalidGeneration: e(401, "invalid-generation", "body", "", "Unauthorized"), // 15
  // 16 (no storage node available) cannot happen: this Worker registers itself as the node.
  internal: e(500, "internal-error", "internal", "", "Server error"), // 17
  /** Not in the reference (D22): the operator disabled this account (admin API `disable uid:<uid>`). */
  accountDisabled: e(403, "account-disabled", "body", "", "This account is disabled on this server. Ask the server operator."),
  /** Not in the reference: the operator's allow-list (SYNC_ALLOWED_ACCOUNTS) refuses this account. */
  notAllowed: (fxaUid: string) =>
    new TokenserverError(
      403,
      "not-allowed",
      "body",
      "",
      `This Firefox account (${fxaUid}) is not allowed to sync with this server. Ask the server operator to add it to SYNC_ALLOWED_ACCOUNTS.`,
    ),
} as const;
