#include "persistence/migrations.hpp"

#include "core/errc.hpp"

namespace herald::persistence {

namespace {

constexpr std::string_view create_bookkeeping = R"(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INT NOT NULL PRIMARY KEY,
  name VARCHAR(128) NOT NULL,
  applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)";

caf::error newer_schema(int found) {
  return make_error(errc::schema_mismatch,
                    "database schema version " + std::to_string(found)
                      + " is newer than this build knows ("
                      + std::to_string(latest_known_version())
                      + "); upgrade Herald on this node");
}

} // namespace

int latest_known_version() {
  const auto& all = embedded_migrations();
  return all.empty() ? 0 : all.back().version;
}

caf::expected<int> current_version(mysql_connection& db) {
  auto exists = db.query_int(
    "SELECT COUNT(*) FROM information_schema.tables "
    "WHERE table_schema = DATABASE() AND table_name = 'schema_migrations'");
  if (!exists)
    return exists.error();
  if (exists->value_or(0) == 0)
    return 0;
  auto version = db.query_int("SELECT MAX(version) FROM schema_migrations");
  if (!version)
    return version.error();
  return static_cast<int>(version->value_or(0));
}

caf::expected<int>
migrate(mysql_connection& db,
        const std::function<void(const migration&)>& on_apply) {
  auto locked = db.query_int("SELECT GET_LOCK('herald.migrate', 60)");
  if (!locked)
    return locked.error();
  if (locked->value_or(0) != 1)
    return make_error(errc::timeout,
                      "another migration holds the lock for over 60 s");
  auto release = [&db] { db.execute("DO RELEASE_LOCK('herald.migrate')"); };
  auto run = [&]() -> caf::expected<int> {
    if (auto err = db.execute(create_bookkeeping))
      return err;
    auto version = current_version(db);
    if (!version)
      return version.error();
    if (*version > latest_known_version())
      return newer_schema(*version);
    for (const auto& m : embedded_migrations()) {
      if (m.version <= *version)
        continue;
      if (on_apply)
        on_apply(m);
      // DDL commits implicitly in MariaDB: a failed script leaves the
      // version unrecorded, and every migration is written to be re-runnable.
      if (auto err = db.execute(m.sql))
        return make_error(errc::database_failure,
                          "migration " + m.name + " failed: " + render(err));
      auto recorded = db.execute(
        "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
        {static_cast<int64_t>(m.version), m.name});
      if (!recorded)
        return recorded.error();
      *version = m.version;
    }
    return *version;
  };
  auto result = run();
  release();
  return result;
}

caf::error check_schema(mysql_connection& db) {
  auto version = current_version(db);
  if (!version)
    return version.error();
  if (*version > latest_known_version())
    return newer_schema(*version);
  if (*version < latest_known_version())
    return make_error(errc::schema_mismatch,
                      "database schema version " + std::to_string(*version)
                        + " is older than this build needs ("
                        + std::to_string(latest_known_version())
                        + "); run: heraldctl db migrate --config-file FILE");
  return caf::none;
}

} // namespace herald::persistence
