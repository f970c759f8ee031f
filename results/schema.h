#pragma once
// The store's versioned schema. Migration N takes a database from version N-1 to N; version 0 is
// an empty file. The applied versions are rows of table `schema_version`.

#include "results/sqlite.h"

namespace isda::results {

// The version this build writes and reads.
int current_schema_version();

// The database's version: 0 for a database without the `schema_version` table. Throws StoreError.
int schema_version(Database& db);

// Applies the migrations after the database's version up to `target` (default: current), all in
// one transaction. Throws StoreError when the database is newer than this build (or than
// `target`), naming both versions.
void migrate(Database& db, int target = current_schema_version());

}  // namespace isda::results
