#include "persistence/mysql.hpp"

#include "core/errc.hpp"

#include <caf/detail/scope_guard.hpp>
#include <mysql.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>

namespace herald::persistence {

namespace {

unsigned int to_seconds(caf::timespan x) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(x).count();
  return static_cast<unsigned int>(secs < 1 ? 1 : secs);
}

/// Deadlocks and lock wait timeouts roll the transaction back; it can run
/// again. Everything else is a database failure.
caf::error db_error(unsigned int code, const std::string& text) {
  bool retry = code == 1213 /* ER_LOCK_DEADLOCK */
               || code == 1205 /* ER_LOCK_WAIT_TIMEOUT */;
  return make_error(retry ? errc::conflict : errc::database_failure, text);
}

caf::error stmt_error(MYSQL_STMT* stmt, const std::string& what) {
  return db_error(mysql_stmt_errno(stmt),
                  "mysql: " + what + ": " + mysql_stmt_error(stmt));
}

/// Prepared statements a connection keeps.
constexpr size_t max_cached_statements = 32;


} // namespace

std::string sql_datetime(int64_t unix_ms) {
  auto secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  auto n = std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03d",
                static_cast<int>(unix_ms % 1000));
  return buf;
}

std::string sql_unix_ms(const std::string& column) {
  return "(TIMESTAMPDIFF(MICROSECOND, '1970-01-01', " + column
         + ") DIV 1000)";
}

std::string sql_repeat(const std::string& row, size_t count) {
  std::string result;
  result.reserve((row.size() + 2) * count);
  for (size_t i = 0; i < count; ++i) {
    if (i > 0)
      result += ", ";
    result += row;
  }
  return result;
}

caf::expected<mysql_connection>
mysql_connection::connect(const config::mysql_config& cfg,
                          bool multi_statements) {
  // mysql_library_init is not thread-safe; mysql_init calls it lazily.
  static std::once_flag library_initialized;
  std::call_once(library_initialized, [] { mysql_library_init(0, nullptr,
                                                              nullptr); });
  MYSQL* db = mysql_init(nullptr);
  if (db == nullptr)
    return make_error(errc::database_failure, "mysql: out of memory");
  // cfg.connect_timeout bounds the whole wait (connect_with_retry); one
  // attempt gets the I/O deadline.
  auto io_timeout = to_seconds(cfg.io_timeout);
  my_bool no = 0;
  mysql_optionsv(db, MYSQL_OPT_CONNECT_TIMEOUT, &io_timeout);
  mysql_optionsv(db, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
  mysql_optionsv(db, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
  mysql_optionsv(db, MYSQL_OPT_RECONNECT, &no);
  mysql_optionsv(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  // Every DATETIME Herald writes or reads is UTC.
  mysql_optionsv(db, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
  if (!cfg.tls.ca.empty()) {
    // Verified TLS or no connection: never a silent fallback to plain TCP.
    my_bool yes = 1;
    mysql_optionsv(db, MYSQL_OPT_SSL_CA, cfg.tls.ca.c_str());
    mysql_optionsv(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes);
    mysql_optionsv(db, MYSQL_OPT_SSL_ENFORCE, &yes);
    mysql_optionsv(db, MARIADB_OPT_TLS_VERSION, "TLSv1.2,TLSv1.3");
    if (!cfg.tls.certificate.empty()) {
      mysql_optionsv(db, MYSQL_OPT_SSL_CERT, cfg.tls.certificate.c_str());
      mysql_optionsv(db, MYSQL_OPT_SSL_KEY, cfg.tls.key.c_str());
    }
  }
  unsigned long flags = multi_statements ? CLIENT_MULTI_STATEMENTS : 0;
  const char* socket = cfg.socket.empty() ? nullptr : cfg.socket.c_str();
  const char* host = socket != nullptr ? "localhost" : cfg.host.c_str();
  if (mysql_real_connect(db, host, cfg.user.c_str(), cfg.password.c_str(),
                         cfg.database.c_str(), cfg.port, socket, flags)
      == nullptr) {
    std::string where = socket != nullptr
                          ? std::string{"socket "} + socket
                          : cfg.host + ":" + std::to_string(cfg.port);
    auto err = make_error(errc::database_failure,
                          "mysql: cannot connect to " + where + " as '"
                            + cfg.user + "' (database '" + cfg.database
                            + "'): " + mysql_error(db));
    mysql_close(db);
    return err;
  }
  return mysql_connection{db};
}

caf::expected<mysql_connection> mysql_connection::connect_with_retry(
  const config::mysql_config& cfg,
  const std::function<void(const caf::error&)>& on_retry,
  bool multi_statements) {
  auto deadline = std::chrono::steady_clock::now() + cfg.connect_timeout;
  for (;;) {
    auto result = connect(cfg, multi_statements);
    if (result || std::chrono::steady_clock::now() >= deadline)
      return result;
    if (on_retry)
      on_retry(result.error());
    std::this_thread::sleep_for(std::chrono::milliseconds{250});
  }
}

mysql_connection::mysql_connection(mysql_connection&& other) noexcept
  : db_(other.db_), statements_(std::move(other.statements_)) {
  other.db_ = nullptr;
  other.statements_.clear();
}

mysql_connection& mysql_connection::operator=(mysql_connection&& other) noexcept {
  std::swap(db_, other.db_);
  std::swap(statements_, other.statements_);
  return *this;
}

mysql_connection::~mysql_connection() {
  close();
}

void mysql_connection::close() {
  for (auto& x : statements_)
    mysql_stmt_close(x.stmt);
  statements_.clear();
  if (db_ != nullptr)
    mysql_close(db_);
  db_ = nullptr;
}

void mysql_connection::forget(MYSQL_STMT* stmt) {
  auto i = std::find_if(statements_.begin(), statements_.end(),
                        [stmt](const auto& x) { return x.stmt == stmt; });
  if (i != statements_.end()) {
    mysql_stmt_close(stmt);
    statements_.erase(i);
  }
}

caf::error mysql_connection::last_error(std::string_view what) const {
  return db_error(mysql_errno(db_),
                  "mysql: " + std::string{what} + ": " + mysql_error(db_));
}

caf::error mysql_connection::execute(std::string_view sql) {
  if (mysql_real_query(db_, sql.data(), sql.size()) != 0)
    return last_error("statement failed");
  // Drain every result of a multi-statement script; an error in a later
  // statement shows up here.
  for (;;) {
    if (auto res = mysql_store_result(db_))
      mysql_free_result(res);
    else if (mysql_errno(db_) != 0)
      return last_error("statement failed");
    auto next = mysql_next_result(db_);
    if (next < 0)
      return caf::none;
    if (next > 0)
      return last_error("statement failed");
  }
}

caf::expected<MYSQL_STMT*>
mysql_connection::prepare(std::string_view sql,
                          const std::vector<sql_param>& params,
                          std::vector<unsigned long>& lengths) {
  MYSQL_STMT* stmt = nullptr;
  auto cached = std::find_if(statements_.begin(), statements_.end(),
                             [sql](const auto& x) { return x.sql == sql; });
  if (cached != statements_.end()) {
    stmt = cached->stmt;
    statements_.splice(statements_.begin(), statements_, cached);
  } else {
    stmt = mysql_stmt_init(db_);
    if (stmt == nullptr)
      return last_error("cannot create statement");
    if (mysql_stmt_prepare(stmt, sql.data(), sql.size()) != 0) {
      auto err = stmt_error(stmt, "prepare failed");
      mysql_stmt_close(stmt);
      return err;
    }
    statements_.push_front({std::string{sql}, stmt});
    if (statements_.size() > max_cached_statements) {
      mysql_stmt_close(statements_.back().stmt);
      statements_.pop_back();
    }
  }
  auto fail = [this, stmt](const std::string& what) {
    auto err = stmt_error(stmt, what);
    forget(stmt);
    return err;
  };
  if (mysql_stmt_param_count(stmt) != params.size()) {
    auto expected = mysql_stmt_param_count(stmt);
    return make_error(errc::database_failure,
                      "mysql: statement expects " + std::to_string(expected)
                        + " parameters, got " + std::to_string(params.size()));
  }
  std::vector<MYSQL_BIND> binds(params.size());
  lengths.assign(params.size(), 0);
  for (size_t i = 0; i < params.size(); ++i) {
    auto& bind = binds[i];
    std::memset(&bind, 0, sizeof(bind));
    if (auto num = std::get_if<int64_t>(&params[i])) {
      bind.buffer_type = MYSQL_TYPE_LONGLONG;
      bind.buffer = const_cast<int64_t*>(num);
    } else {
      const auto& str = std::get<std::string>(params[i]);
      lengths[i] = str.size();
      bind.buffer_type = MYSQL_TYPE_STRING;
      bind.buffer = const_cast<char*>(str.data());
      bind.buffer_length = str.size();
      bind.length = &lengths[i];
    }
  }
  // Connector/C copies the bind array, but reads the values and lengths at
  // execute time: both stay alive in the caller until then.
  if (!binds.empty() && mysql_stmt_bind_param(stmt, binds.data()) != 0)
    return fail("bind failed");
  return stmt;
}

caf::expected<uint64_t>
mysql_connection::execute(std::string_view sql,
                          const std::vector<sql_param>& params) {
  std::vector<unsigned long> lengths;
  auto stmt = prepare(sql, params, lengths);
  if (!stmt)
    return stmt.error();
  if (mysql_stmt_execute(*stmt) != 0) {
    auto err = stmt_error(*stmt, "execute failed");
    forget(*stmt);
    return err;
  }
  return static_cast<uint64_t>(mysql_stmt_affected_rows(*stmt));
}

caf::expected<std::vector<sql_row>>
mysql_connection::query(std::string_view sql,
                        const std::vector<sql_param>& params) {
  std::vector<unsigned long> lengths;
  auto prepared = prepare(sql, params, lengths);
  if (!prepared)
    return prepared.error();
  auto stmt = *prepared;
  // After an error the statement is dropped, not reused.
  bool failed = false;
  auto done = caf::detail::make_scope_guard([&] {
    mysql_stmt_free_result(stmt);
    if (failed)
      forget(stmt);
  });
  auto fail = [stmt, &failed](const char* what) {
    failed = true;
    return stmt_error(stmt, what);
  };
  // Let store_result compute each column's longest value, then size the
  // buffers once.
  my_bool update_max = 1;
  mysql_stmt_attr_set(stmt, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max);
  if (mysql_stmt_execute(stmt) != 0)
    return fail("execute failed");
  if (mysql_stmt_store_result(stmt) != 0)
    return fail("fetch failed");
  MYSQL_RES* meta = mysql_stmt_result_metadata(stmt);
  if (meta == nullptr)
    return std::vector<sql_row>{};
  auto columns = mysql_num_fields(meta);
  auto* fields = mysql_fetch_fields(meta);
  std::vector<MYSQL_BIND> binds(columns);
  std::vector<std::string> buffers(columns);
  std::vector<unsigned long> sizes(columns);
  std::vector<my_bool> nulls(columns);
  for (unsigned i = 0; i < columns; ++i) {
    buffers[i].resize(std::max<unsigned long>(fields[i].max_length, 1));
    std::memset(&binds[i], 0, sizeof(MYSQL_BIND));
    binds[i].buffer_type = MYSQL_TYPE_STRING;
    binds[i].buffer = buffers[i].data();
    binds[i].buffer_length = buffers[i].size();
    binds[i].length = &sizes[i];
    binds[i].is_null = &nulls[i];
  }
  mysql_free_result(meta);
  if (mysql_stmt_bind_result(stmt, binds.data()) != 0)
    return fail("bind result failed");
  std::vector<sql_row> rows;
  for (;;) {
    auto rc = mysql_stmt_fetch(stmt);
    if (rc == MYSQL_NO_DATA)
      break;
    if (rc == 1)
      return fail("fetch failed");
    sql_row row(columns);
    for (unsigned i = 0; i < columns; ++i)
      if (!nulls[i])
        row[i].emplace(buffers[i].data(),
                       std::min<unsigned long>(sizes[i], buffers[i].size()));
    rows.push_back(std::move(row));
  }
  return rows;
}

caf::error mysql_connection::transaction(const std::function<caf::error()>& f) {
  // InnoDB picks a victim when concurrent writers deadlock; the victim's
  // work is rolled back whole, so running it again is safe.
  constexpr int attempts = 3;
  caf::error err;
  for (int i = 0; i < attempts; ++i) {
    if ((err = execute("START TRANSACTION")))
      return err;
    err = f();
    if (!err && !(err = execute("COMMIT")))
      return caf::none;
    execute("ROLLBACK");
    if (!(err == errc::conflict))
      return err;
  }
  return err;
}

caf::expected<std::optional<int64_t>>
mysql_connection::query_int(std::string_view sql) {
  if (mysql_real_query(db_, sql.data(), sql.size()) != 0)
    return last_error("query failed");
  MYSQL_RES* res = mysql_store_result(db_);
  if (res == nullptr)
    return last_error("query returned no result");
  std::optional<int64_t> value;
  if (MYSQL_ROW row = mysql_fetch_row(res); row != nullptr && row[0] != nullptr)
    value = std::stoll(row[0]);
  mysql_free_result(res);
  return value;
}

caf::expected<std::vector<std::string>>
mysql_connection::query_column(std::string_view sql,
                               const std::vector<sql_param>& params) {
  auto rows = query(sql, params);
  if (!rows)
    return rows.error();
  std::vector<std::string> result;
  result.reserve(rows->size());
  for (auto& row : *rows)
    if (row[0])
      result.push_back(std::move(*row[0]));
  return result;
}

caf::error mysql_connection::ping() {
  if (mysql_ping(db_) != 0)
    return last_error("ping failed");
  return caf::none;
}

} // namespace herald::persistence
