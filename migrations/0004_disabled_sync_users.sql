-- Migration number: 0004 	 Operator-disabled Sync 1.5 users (admin API, README "Administer")
--
-- disabled_sync_users: Mozilla accounts the operator disabled on this server
-- (`npm run admin -- disable uid:<uid>`). Keyed by the tokenserver `users.email`
-- (`<fxa uid>@<domain>`), so the refusal outlives a key change (which gives
-- the account a new uid). The tokenserver reads it in the same batch as the
-- user's rows and refuses new tokens (403 `account-disabled`); tokens already
-- issued are refused by the uid's store (its access record, DO migration 5).
--   email        users.email of the account
--   disabled_at  ms since the epoch
CREATE TABLE IF NOT EXISTS disabled_sync_users (
  email       VARCHAR(255) PRIMARY KEY,
  disabled_at INTEGER NOT NULL
);
