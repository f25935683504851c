// The schema history (kMigrations, append-only) and the engine that applies it.
#include "storage/migrations.hpp"

#include <sqlite3.h>

#include <array>
#include <string>

namespace fc::storage {

namespace {

// Append new versions at the end. Never edit a script that has been released: databases in the
// field are already at its version and will not run it again.
//
// Foreign keys are ON for every connection, and PRAGMA foreign_keys cannot change inside the
// migration's transaction: a script that rebuilds a referenced table must keep that in mind.
constexpr std::array<std::string_view, 5> kMigrations = {
    // 1 — MQTT broker: persistent sessions (clean session 0) and retained messages.
    R"sql(
CREATE TABLE broker_sessions (
  client_id TEXT NOT NULL PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE broker_subscriptions (
  client_id TEXT NOT NULL REFERENCES broker_sessions (client_id) ON DELETE CASCADE,
  filter    TEXT NOT NULL,
  qos       INTEGER NOT NULL CHECK (qos BETWEEN 0 AND 2),
  PRIMARY KEY (client_id, filter)
) WITHOUT ROWID;

-- A rowid table: payloads can be large, and WITHOUT ROWID suits small rows only.
-- seq is assigned by the broker and orders delivery within one session.
CREATE TABLE broker_messages (
  client_id TEXT NOT NULL REFERENCES broker_sessions (client_id) ON DELETE CASCADE,
  seq       INTEGER NOT NULL,
  topic     TEXT NOT NULL,
  payload   BLOB NOT NULL,
  qos       INTEGER NOT NULL CHECK (qos BETWEEN 0 AND 2),
  retain    INTEGER NOT NULL CHECK (retain IN (0, 1)),
  packet_id INTEGER NOT NULL CHECK (packet_id BETWEEN 0 AND 65535),
  state     INTEGER NOT NULL CHECK (state BETWEEN 0 AND 2),
  PRIMARY KEY (client_id, seq)
);

-- Packet ids of QoS 2 PUBLISHes received and PUBREC'd, awaiting PUBREL: remembered so a
-- redelivered PUBLISH is not forwarded twice.
CREATE TABLE broker_inbound_qos2 (
  client_id TEXT NOT NULL REFERENCES broker_sessions (client_id) ON DELETE CASCADE,
  packet_id INTEGER NOT NULL CHECK (packet_id BETWEEN 1 AND 65535),
  PRIMARY KEY (client_id, packet_id)
) WITHOUT ROWID;

CREATE TABLE broker_retained (
  topic   TEXT NOT NULL PRIMARY KEY,
  payload BLOB NOT NULL,
  qos     INTEGER NOT NULL CHECK (qos BETWEEN 0 AND 2)
);
)sql",

    // 2 — platform core: products, devices, commands, uplink history, journal, shadows.
    R"sql(
-- Times are INTEGER milliseconds since the Unix epoch; optional times are NULL when unset.
-- JSON columns hold JSON text and refuse anything else.
-- Every foreign key's child column leads an index, so a cascade (or the check behind an insert)
-- is a lookup, not a scan.

CREATE TABLE products (
  id         TEXT NOT NULL PRIMARY KEY,
  name       TEXT NOT NULL,
  dialect    TEXT NOT NULL,
  keys       TEXT NOT NULL CHECK (json_valid(keys)),
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE devices (
  id               TEXT NOT NULL PRIMARY KEY,
  product_id       TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  name             TEXT NOT NULL,
  identifiers      TEXT NOT NULL CHECK (json_valid(identifiers)),
  secrets          TEXT NOT NULL CHECK (json_valid(secrets)),
  firmware_version TEXT NOT NULL,
  last_seen        INTEGER,
  created_at       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX devices_product ON devices (product_id);

-- Rowid tables from here on: payloads, raw frames and shadow documents can be large.
-- seq is assigned by the core and orders commands across devices (load reads in seq order).
CREATE TABLE commands (
  id             TEXT NOT NULL PRIMARY KEY,
  seq            INTEGER NOT NULL,
  device_id      TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  name           TEXT NOT NULL,
  payload        BLOB NOT NULL,
  is_binary      INTEGER NOT NULL CHECK (is_binary IN (0, 1)),
  expire_seconds INTEGER NOT NULL,
  max_retransmit INTEGER NOT NULL CHECK (max_retransmit BETWEEN 0 AND 4294967295),
  ack_timeout_ms INTEGER NOT NULL CHECK (ack_timeout_ms BETWEEN 0 AND 4294967295),
  callback_url   TEXT NOT NULL,
  status         TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  expires_at     INTEGER,
  sent_at        INTEGER,
  ack_deadline   INTEGER,
  delivered_at   INTEGER,
  completed_at   INTEGER,
  sends          INTEGER NOT NULL CHECK (sends BETWEEN 0 AND 4294967295),
  result         TEXT NOT NULL,
  reason         TEXT NOT NULL
);
CREATE INDEX commands_device ON commands (device_id);
CREATE INDEX commands_seq ON commands (seq);

-- id is assigned by the core (increasing, unique across devices) and is the rowid. The index on
-- (device_id, id) serves the per-device trim after every append: find the newest N ids of one
-- device walking it backwards, delete the range below them.
CREATE TABLE messages (
  id           INTEGER PRIMARY KEY,
  device_id    TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  time         INTEGER NOT NULL,
  transport    TEXT NOT NULL,
  topic        TEXT NOT NULL,
  payload      BLOB NOT NULL,
  content_type TEXT NOT NULL
);
CREATE INDEX messages_device ON messages (device_id, id);

CREATE TABLE journal (
  id        INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  time      INTEGER NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  transport TEXT NOT NULL,
  topic     TEXT NOT NULL,
  raw       BLOB NOT NULL,
  summary   TEXT NOT NULL
);
CREATE INDEX journal_device ON journal (device_id, id);

CREATE TABLE shadows (
  device_id  TEXT NOT NULL PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
  desired    TEXT NOT NULL CHECK (json_valid(desired)),
  reported   TEXT NOT NULL CHECK (json_valid(reported)),
  version    INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
)sql",

    // 3 — device tokens: what a device signed in with over a connectionless channel (aliyun HTTP
    // and CoAP tokens, the MQTT pre-step's iotId/iotToken), so that devices stay signed in across
    // a restart. One live token per (device, kind); `secret` holds a second value when the token
    // is a pair (iotId → iotToken).
    R"sql(
CREATE TABLE device_tokens (
  token      TEXT NOT NULL PRIMARY KEY,
  kind       TEXT NOT NULL,
  device_id  TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  secret     TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX device_tokens_device ON device_tokens (device_id, kind);
)sql",

    // 4 — the firmware repository (issue 14). The image is the file <firmware dir>/<sha256>; rows
    // may share a file. No foreign key to products: deleting a product leaves its firmware, which
    // the API deletes explicitly (a cascade would drop rows whose files the repository still lists).
    R"sql(
CREATE TABLE firmware (
  id         TEXT NOT NULL PRIMARY KEY,
  product_id TEXT NOT NULL,
  version    TEXT NOT NULL,
  name       TEXT NOT NULL,
  module     TEXT NOT NULL,
  size       INTEGER NOT NULL CHECK (size >= 0),
  md5        TEXT NOT NULL,
  sha1       TEXT NOT NULL,
  sha256     TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX firmware_product ON firmware (product_id, created_at);
)sql",

    // 5 — upgrade jobs (issue 14): a job and each device's run in it, written on every transition.
    // No foreign keys to devices or firmware: a job keeps the record of a device or firmware deleted
    // since (the jobs service fails the run of a deleted device itself).
    R"sql(
CREATE TABLE ota_jobs (
  id          TEXT NOT NULL PRIMARY KEY,
  seq         INTEGER NOT NULL,
  spec        TEXT NOT NULL CHECK (json_valid(spec)),
  state       TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  start_at    INTEGER NOT NULL,
  finished_at INTEGER
) WITHOUT ROWID;

CREATE TABLE ota_job_devices (
  job_id           TEXT NOT NULL REFERENCES ota_jobs (id) ON DELETE CASCADE,
  device_id        TEXT NOT NULL,
  state            TEXT NOT NULL,
  step             INTEGER NOT NULL CHECK (step >= 0),
  progress         INTEGER NOT NULL,
  attempts         INTEGER NOT NULL CHECK (attempts >= 0),
  error_code       TEXT NOT NULL,
  last_error       TEXT NOT NULL,
  reported_version TEXT NOT NULL,
  offered_at       INTEGER,
  deadline         INTEGER,
  finished_at      INTEGER,
  updated_at       INTEGER NOT NULL,
  PRIMARY KEY (job_id, device_id)
) WITHOUT ROWID;
)sql",
};

}  // namespace

std::span<const std::string_view> migrationScripts() noexcept { return kMigrations; }

void migrate(Database& db) { migrate(db, migrationScripts()); }

void migrate(Database& db, std::span<const std::string_view> scripts) {
  const int known = static_cast<int>(scripts.size());
  const int start = schemaVersion(db);
  if (start > known) {
    throw Error(SQLITE_ERROR,
                "database schema version " + std::to_string(start) + " is newer than this build (" +
                    std::to_string(known) + ")",
                "migrate");
  }
  for (int version = start + 1; version <= known; ++version) {
    Transaction tx(db);
    // Re-read under the write lock: another process may have migrated since we looked.
    if (schemaVersion(db) >= version) continue;
    try {
      db.exec(scripts[static_cast<std::size_t>(version - 1)]);
    } catch (const Error& e) {
      throw Error(e.code(), e.sqliteMessage(), "migration " + std::to_string(version));
    }
    // user_version lives in the database header and is transactional: it moves with the script.
    db.exec("PRAGMA user_version = " + std::to_string(version));
    tx.commit();
  }
}

int schemaVersion(Database& db) {
  Statement st(db, "PRAGMA user_version");
  return st.step() ? st.columnInt(0) : 0;
}

}  // namespace fc::storage
