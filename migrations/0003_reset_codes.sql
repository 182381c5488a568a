-- Migration number: 0003 	 Account recovery (user-1.0 §8, §9, §12)
--
-- reset_codes: pending password-reset codes. Unlike the reference (which kept
-- the code itself, keyed by (username, product)), only a keyed hash is stored,
-- so a leak of this table does not let anyone reset a password.
--   userid      the account ("user".userid); a code is only ever checked
--               against the rows of the account it is presented for.
--   code_hash   lowercase hex HMAC-SHA256(server secret "reset-codes",
--               "<userid>:<code>") of the code `XXXX-XXXX-XXXX-XXXX`
--               (src/recovery/reset-codes.ts). Binding the userid into the
--               MAC means a code can never match another account's row.
--   created_at  ms since the epoch.
--   expires_at  ms since the epoch; rows at or past it are treated as absent
--               and deleted when the account's codes are next read.
-- At most RESET_CODES_PER_ACCOUNT (3) rows per account: the newest are kept.
CREATE TABLE IF NOT EXISTS reset_codes (
  userid     INTEGER NOT NULL,
  code_hash  TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (userid, code_hash)
);
CREATE INDEX IF NOT EXISTS reset_codes_expiry ON reset_codes (expires_at);

-- server_secrets: random keys this server generates for itself on first use
-- (src/recovery/secrets.ts), so that a deployment needs no extra secret:
--   name    what the key is for: "reset-codes" (code MACs), "csrf" (form tokens).
--   secret  32 random bytes, base64. Never sent anywhere, never logged.
-- INSERT OR IGNORE + re-read makes concurrent first uses agree on one key.
CREATE TABLE IF NOT EXISTS server_secrets (
  name   TEXT PRIMARY KEY,
  secret TEXT NOT NULL
);

-- dev_outbox: messages "sent" by the development mail transport
-- (MAIL_TRANSPORT = outbox, DEV_MODE = true only). Empty on a deployment.
--   id, created_at (ms), recipient, subject, body (plain text).
CREATE TABLE IF NOT EXISTS dev_outbox (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at INTEGER NOT NULL,
  recipient  TEXT    NOT NULL,
  subject    TEXT    NOT NULL,
  body       TEXT    NOT NULL
);
