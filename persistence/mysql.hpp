#pragma once

#include "config/settings.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

struct st_mysql;
struct st_mysql_stmt;

namespace herald::persistence {

/// A value bound to a `?` placeholder of a prepared statement.
using sql_param = std::variant<int64_t, std::string>;

/// One result row; every column as its text (or raw bytes for BINARY
/// columns), nullopt for NULL.
using sql_row = std::vector<std::optional<std::string>>;

/// Formats Unix milliseconds as a DATETIME(6) literal value in UTC
/// ("2026-01-31 12:34:56.789"). Unlike FROM_UNIXTIME, it works past 2038.
std::string sql_datetime(int64_t unix_ms);

/// SQL for a DATETIME column as Unix milliseconds (past 2038 too).
std::string sql_unix_ms(const std::string& column);

/// `row` repeated `count` times, comma-separated: placeholder lists for IN
/// ("?, ?, ?") and multi-row VALUES lists ("(?, ?), (?, ?)").
std::string sql_repeat(const std::string& row, size_t count);

/// One blocking connection to MariaDB/MySQL (Connector/C). Use it from
/// dedicated I/O threads or detached actors only, never inside an
/// event-based behaviour. Every statement with values is prepared and bound:
/// no SQL is ever built from input.
class mysql_connection {
public:
  /// Connects once. With `multi_statements`, execute() accepts scripts of
  /// several statements (used by migrations only).
  static caf::expected<mysql_connection>
  connect(const config::mysql_config& cfg, bool multi_statements = false);

  /// Connects, retrying every 250 ms until cfg.connect_timeout has passed.
  /// Calls `on_retry` with the last error before each retry.
  static caf::expected<mysql_connection>
  connect_with_retry(const config::mysql_config& cfg,
                     const std::function<void(const caf::error&)>& on_retry,
                     bool multi_statements = false);

  mysql_connection(mysql_connection&& other) noexcept;
  mysql_connection& operator=(mysql_connection&& other) noexcept;
  mysql_connection(const mysql_connection&) = delete;
  mysql_connection& operator=(const mysql_connection&) = delete;
  ~mysql_connection();

  /// Runs `sql` (one statement, or a script with multi_statements) and
  /// discards any results.
  caf::error execute(std::string_view sql);

  /// Prepares `sql`, binds `params` to its placeholders and runs it.
  /// Returns the number of affected rows.
  caf::expected<uint64_t> execute(std::string_view sql,
                                  const std::vector<sql_param>& params);

  /// Prepares `sql`, binds `params` and returns every row of its result.
  caf::expected<std::vector<sql_row>>
  query(std::string_view sql, const std::vector<sql_param>& params);

  /// Like query(), but returns only the first column of each row (rows
  /// where it is NULL are left out), e.g. a list of ids.
  caf::expected<std::vector<std::string>>
  query_column(std::string_view sql, const std::vector<sql_param>& params);

  /// Runs `f` inside a transaction: commits when it succeeds, rolls back
  /// when it returns an error, and runs it again (up to three times) when it
  /// lost a deadlock (errc::conflict).
  caf::error transaction(const std::function<caf::error()>& f);

  /// Returns the first column of the first row as an integer, or nullopt
  /// when there is no row or the value is NULL.
  caf::expected<std::optional<int64_t>> query_int(std::string_view sql);

  /// Checks that the server answers.
  caf::error ping();

private:
  explicit mysql_connection(st_mysql* db) : db_(db) {
    // nop
  }

  caf::error last_error(std::string_view what) const;

  /// Returns the prepared statement for `sql` (from the cache, or prepared
  /// now) with `params` bound. The connection owns the statement.
  caf::expected<struct st_mysql_stmt*>
  prepare(std::string_view sql, const std::vector<sql_param>& params,
          std::vector<unsigned long>& lengths);

  /// Drops `stmt` from the cache after an error left it in doubt.
  void forget(struct st_mysql_stmt* stmt);

  void close();

  st_mysql* db_ = nullptr;

  /// Prepared statements, most recently used first: batch loops run the
  /// same few statements over and over, and preparing each time costs the
  /// server a parse and the client a round trip.
  struct cached_statement {
    std::string sql;
    struct st_mysql_stmt* stmt;
  };
  std::list<cached_statement> statements_;
};

} // namespace herald::persistence
