#pragma once

#include "persistence/redis.hpp"
#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace herald::test {

/// Redis databases of the suites that use the queue's fixed key names
/// (herald:pending, ...): each suite has its own, so that suites running at
/// once (ctest -j) and the recovery suite in database 0 never see each
/// other's ids.
inline constexpr int message_queue_redis_db = 13;
inline constexpr int delivery_store_redis_db = 14;
inline constexpr int dead_letters_redis_db = 12;
inline constexpr int message_store_redis_db = 11;

/// Selects database `index` on `redis` (the connection keeps it).
inline void select_redis_db(persistence::redis_connection& redis, int index) {
  auto ok = redis.command({"SELECT", std::to_string(index)});
  BOOST_REQUIRE_MESSAGE(ok, why(ok));
}

/// A connection to the test Redis with database `index` selected.
inline persistence::redis_connection
connect_redis_db(int index, config::redis_config cfg = test_redis()) {
  auto conn = persistence::redis_connection::connect(cfg);
  BOOST_REQUIRE_MESSAGE(conn, why(conn));
  select_redis_db(*conn, index);
  return std::move(*conn);
}

/// Every element of list `key`, left to right.
inline std::vector<std::string> redis_list(persistence::redis_connection& redis,
                                           const std::string& key) {
  auto reply = redis.command({"LRANGE", key, "0", "-1"});
  BOOST_REQUIRE_MESSAGE(reply, why(reply));
  std::vector<std::string> result;
  for (auto& x : reply->elements)
    result.push_back(std::move(x.str));
  return result;
}

} // namespace herald::test
