-- Migration number: 0001 	 User API 1.0 accounts (user-1.0 §6)
--
-- The `user` table of the server-full SQL user backend, with the reference's
-- column names so that rows exported from an old server-full database can be
-- imported as they are.
--
-- userid        storage key of the account (its data lives in the Durable
--               Object named `acct:<userid>`). AUTOINCREMENT: SQLite never
--               hands out an id again once used, so a new account can never
--               inherit a deleted account's records (fixes the REF-BUG of §7.3).
-- username      URL user name, exact and case-sensitive (BINARY collation).
--               The reference column is VARCHAR(32); the 32-character limit
--               is enforced by the application (src/routes/user.ts).
-- password      self-describing hash string, see src/auth/password.ts:
--               {PBKDF2-SHA256}<iterations>$<salt b64>$<hash b64> (written),
--               {SSHA-256} / {SSHA} (imported, verified, re-hashed on login).
-- accountStatus authentication requires exactly 1.
-- mail          e-mail as given (not lowercased).
-- mailVerified  unused, kept for import compatibility.
-- syncNode      unused on a single box, kept for import compatibility.
CREATE TABLE IF NOT EXISTS "user" (
  userid        INTEGER PRIMARY KEY AUTOINCREMENT,
  username      VARCHAR(32) NOT NULL UNIQUE,
  password      VARCHAR(128),
  accountStatus INTEGER NOT NULL DEFAULT 1,
  mail          VARCHAR(64),
  mailVerified  INTEGER NOT NULL DEFAULT 0,
  syncNode      VARCHAR(64)
);
