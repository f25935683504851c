// Numbered schema migrations, tracked with PRAGMA user_version: version N means scripts 1..N have
// been applied. The scripts themselves live in migrations.cpp; a change to the schema is a new
// script appended there, never an edit to one that has shipped.
#pragma once

#include <span>
#include <string_view>

#include "storage/database.hpp"

namespace fc::storage {

/// The schema scripts of this build, in order; script i (0-based) brings the schema to version i+1.
std::span<const std::string_view> migrationScripts() noexcept;

/// Applies every script of migrationScripts() the database has not seen yet, each in its own
/// transaction together with its user_version bump, so a crash mid-way leaves a whole version.
/// Throws Error if the database is newer than this build (user_version above the script count).
void migrate(Database& db);

/// Same, with an explicit list (tests; tools that replay part of the history).
void migrate(Database& db, std::span<const std::string_view> scripts);

/// The database's PRAGMA user_version.
int schemaVersion(Database& db);

}  // namespace fc::storage
