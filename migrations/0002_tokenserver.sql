-- Migration number: 0002 	 Tokenserver 1.0 (tokenserver-1.0 §6)
--
-- Tokenserver tables (tokenserver-1.0.md §6), same table and column names and
-- column order as the reference (syncstorage-rs tokenserver schema).
-- users: one row per (account, key generation); the current row per email is
-- chosen by §7.1. created_at / replaced_at / keys_changed_at are milliseconds.
-- generation 9223372036854775807 marks a retired account.
-- nodes: storage nodes. This Worker registers itself as the only node on first
-- use (src/tokenserver/db.ts, ensureSelfNode); nobody inserts node rows by hand.

CREATE TABLE IF NOT EXISTS services (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  service VARCHAR(30) UNIQUE,
  pattern VARCHAR(128)
);

CREATE TABLE IF NOT EXISTS nodes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  service INTEGER NOT NULL,
  node VARCHAR(64) NOT NULL,
  available INTEGER NOT NULL,
  current_load INTEGER NOT NULL,
  capacity INTEGER NOT NULL,
  downed INTEGER NOT NULL,
  backoff INTEGER NOT NULL,
  UNIQUE (service, node)
);

CREATE TABLE IF NOT EXISTS users (
  uid INTEGER PRIMARY KEY AUTOINCREMENT,
  service INTEGER NOT NULL,
  email VARCHAR(255) NOT NULL,
  generation INTEGER NOT NULL,
  client_state VARCHAR(32) NOT NULL,
  created_at INTEGER NOT NULL,
  replaced_at INTEGER,
  nodeid INTEGER NOT NULL,
  keys_changed_at INTEGER
);

CREATE INDEX IF NOT EXISTS lookup_idx ON users (email, service, created_at);
CREATE INDEX IF NOT EXISTS replaced_at_idx ON users (service, replaced_at);
CREATE INDEX IF NOT EXISTS node_idx ON users (nodeid);

INSERT OR IGNORE INTO services (service, pattern) VALUES ('sync-1.5', '{node}/1.5/{uid}');
