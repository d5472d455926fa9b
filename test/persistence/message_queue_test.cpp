#include "persistence/message_queue.hpp"

#include "test/fixtures.hpp"
#include "test/persistence/redis_db.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace herald;
using namespace herald::persistence;
using namespace std::chrono_literals;

namespace {

/// A TCP relay between one client and Redis that can hold back the
/// client's first write containing a marker (e.g. the EVAL of a command)
/// until the test lets it through: makes the gap between two round trips
/// of a client observable, so that a test can act inside it.
class gated_relay {
public:
  gated_relay(uint16_t upstream_port, std::string marker)
    : upstream_port_(upstream_port), marker_(std::move(marker)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    BOOST_REQUIRE(listener_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0; // any free port
    socklen_t len = sizeof(addr);
    BOOST_REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len)
                  == 0);
    BOOST_REQUIRE(::listen(listener_, 1) == 0);
    BOOST_REQUIRE(
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread{[this] { run(); }};
  }

  ~gated_relay() {
    open();
    ::shutdown(listener_, SHUT_RDWR);
    for (int fd : {client_.load(), server_.load()})
      if (fd >= 0)
        ::shutdown(fd, SHUT_RDWR);
    acceptor_.join();
    for (auto& t : pumps_)
      t.join();
    for (int fd : {listener_, client_.load(), server_.load()})
      if (fd >= 0)
        ::close(fd);
  }

  uint16_t port() const {
    return port_;
  }

  /// Waits up to `timeout` until a write with the marker is held back.
  bool wait_until_holding(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, timeout, [this] { return holding_; });
  }

  /// Lets the held write (and everything after it) through.
  void open() {
    std::lock_guard<std::mutex> guard{mtx_};
    open_ = true;
    cv_.notify_all();
  }

private:
  void run() {
    int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0)
      return;
    client_ = client;
    int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(upstream_port_);
    if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
        != 0) {
      ::close(server);
      ::shutdown(client, SHUT_RDWR);
      return;
    }
    server_ = server;
    pumps_.emplace_back([this, client, server] { pump(client, server, true); });
    pumps_.emplace_back(
      [this, client, server] { pump(server, client, false); });
  }

  void pump(int from, int to, bool gated) {
    std::string buf(64 * 1024, '\0');
    for (;;) {
      auto n = ::read(from, buf.data(), buf.size());
      if (n <= 0)
        break;
      std::string_view chunk{buf.data(), static_cast<size_t>(n)};
      if (gated && chunk.find(marker_) != std::string_view::npos) {
        std::unique_lock<std::mutex> guard{mtx_};
        holding_ = true;
        cv_.notify_all();
        cv_.wait(guard, [this] { return open_; });
      }
      for (size_t sent = 0; sent < chunk.size();) {
        auto k = ::write(to, chunk.data() + sent, chunk.size() - sent);
        if (k <= 0)
          return;
        sent += static_cast<size_t>(k);
      }
    }
    ::shutdown(to, SHUT_WR);
  }

  uint16_t upstream_port_;
  std::string marker_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> client_{-1};
  std::atomic<int> server_{-1};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool holding_ = false;
  bool open_ = false;
};

struct queue_fixture {
  redis_connection redis = test::connect_redis_db(test::message_queue_redis_db);

  queue_fixture() {
    auto ok = redis.command({"FLUSHDB"});
    BOOST_REQUIRE_MESSAGE(ok, test::why(ok));
  }

  redis_connection connect() {
    return test::connect_redis_db(test::message_queue_redis_db);
  }

  std::vector<std::string> pending() {
    return test::redis_list(redis, queue_keys::pending);
  }

  std::vector<std::string> processing(const std::string& node) {
    return test::redis_list(redis, queue_keys::processing(node));
  }

  /// Ids in the retry schedule, earliest first.
  std::vector<std::string> scheduled() {
    auto reply = redis.command({"ZRANGE", queue_keys::retry, "0", "-1"});
    BOOST_REQUIRE_MESSAGE(reply, test::why(reply));
    std::vector<std::string> result;
    for (auto& x : reply->elements)
      result.push_back(std::move(x.str));
    return result;
  }

  void enqueue_all(const std::vector<std::string>& ids) {
    auto n = enqueue(redis, ids);
    BOOST_REQUIRE_MESSAGE(n, test::why(n));
  }

  std::vector<std::string> take_now(const std::string& node, size_t max) {
    auto ids = take(redis, node, max, caf::timespan::zero());
    BOOST_REQUIRE_MESSAGE(ids, test::why(ids));
    return *ids;
  }

  bool exists(const std::string& key) {
    auto reply = redis.command({"EXISTS", key});
    BOOST_REQUIRE_MESSAGE(reply, test::why(reply));
    return reply->integer == 1;
  }

  /// How many times each id occurs anywhere in the queue: pending, the
  /// retry schedule and every processing list.
  std::map<std::string, int> census(const std::vector<std::string>& nodes) {
    std::map<std::string, int> result;
    for (const auto& id : pending())
      ++result[id];
    for (const auto& id : scheduled())
      ++result[id];
    for (const auto& node : nodes)
      for (const auto& id : processing(node))
        ++result[id];
    return result;
  }
};

using strings = std::vector<std::string>;

} // namespace

BOOST_FIXTURE_TEST_SUITE(message_queue_suite, queue_fixture)

BOOST_AUTO_TEST_CASE(enqueue_pushes_ids_and_marks_them_live) {
  auto n = enqueue(redis, {"a", "b"});
  BOOST_REQUIRE_MESSAGE(n, test::why(n));
  BOOST_TEST(*n == 2);
  n = enqueue(redis, {"c"});
  BOOST_REQUIRE(n);
  BOOST_TEST(*n == 3);
  // Nothing to add: the length, and nothing changes.
  n = enqueue(redis, {});
  BOOST_REQUIRE(n);
  BOOST_TEST(*n == 3);
  auto len = pending_length(redis);
  BOOST_REQUIRE(len);
  BOOST_TEST(*len == 3);
  auto live = are_live(redis, {"a", "c", "x"});
  BOOST_REQUIRE_MESSAGE(live, test::why(live));
  BOOST_TEST((*live == std::vector<bool>{true, true, false}));
}

BOOST_AUTO_TEST_CASE(take_hands_out_the_oldest_first_into_the_processing_list) {
  enqueue_all({"a"});
  enqueue_all({"b", "c"});
  BOOST_TEST(take_now("n1", 2) == (strings{"a", "b"}));
  // In hand: on the node's processing list, still live, not pending.
  auto in_hand = processing("n1");
  std::sort(in_hand.begin(), in_hand.end());
  BOOST_TEST(in_hand == (strings{"a", "b"}));
  BOOST_TEST(pending() == strings{"c"});
  auto live = are_live(redis, {"a", "b"});
  BOOST_REQUIRE(live);
  BOOST_TEST((*live == std::vector<bool>{true, true}));
  // More asked than there is: what there is, at once.
  BOOST_TEST(take_now("n2", 10) == strings{"c"});
  BOOST_TEST(take_now("n2", 10).empty());
  BOOST_TEST(processing("n2") == strings{"c"});
}

BOOST_AUTO_TEST_CASE(take_on_an_empty_queue_waits_up_to_its_block_time) {
  auto started = std::chrono::steady_clock::now();
  auto ids = take(redis, "n1", 5, 300ms);
  auto waited = std::chrono::steady_clock::now() - started;
  BOOST_REQUIRE_MESSAGE(ids, test::why(ids));
  BOOST_TEST(ids->empty());
  // Generous bounds: it blocked, and it gave up.
  BOOST_TEST((waited >= 200ms));
  BOOST_TEST((waited < 5s));
}

BOOST_AUTO_TEST_CASE(a_blocked_take_gets_an_id_enqueued_meanwhile) {
  // Boost.Test checks stay on this thread: the producer only records.
  caf::expected<int64_t> produced = int64_t{0};
  std::thread producer{[&produced] {
    std::this_thread::sleep_for(200ms);
    auto other = redis_connection::connect(test::test_redis());
    if (!other) {
      produced = other.error();
      return;
    }
    auto ok = other->command(
      {"SELECT", std::to_string(test::message_queue_redis_db)});
    produced = ok ? enqueue(*other, {"late"}) : ok.error();
  }};
  auto started = std::chrono::steady_clock::now();
  auto ids = take(redis, "n1", 5, 20s);
  auto waited = std::chrono::steady_clock::now() - started;
  producer.join();
  BOOST_REQUIRE_MESSAGE(produced, test::why(produced));
  BOOST_REQUIRE_MESSAGE(ids, test::why(ids));
  BOOST_TEST(*ids == strings{"late"});
  BOOST_TEST((waited < 10s)); // woken by the id, not by the block time
  BOOST_TEST(processing("n1") == strings{"late"});
  BOOST_TEST(pending().empty());
}

BOOST_AUTO_TEST_CASE(finish_drops_ids_from_the_processing_list_and_live_set) {
  enqueue_all({"a", "b"});
  BOOST_REQUIRE(take_now("n1", 2).size() == 2u);
  BOOST_REQUIRE(!finish(redis, "n1", {"a"}));
  BOOST_TEST(processing("n1") == strings{"b"});
  auto live = are_live(redis, {"a", "b"});
  BOOST_REQUIRE(live);
  BOOST_TEST((*live == std::vector<bool>{false, true}));
  BOOST_TEST(pending().empty());
  BOOST_TEST(scheduled().empty());
  BOOST_TEST(!finish(redis, "n1", {}));
}

// Shutdown: what a stopping node did not attempt is the next to be taken,
// by any node, ahead of older pending work.
BOOST_AUTO_TEST_CASE(released_ids_go_back_to_the_head_of_pending) {
  enqueue_all({"a", "b", "c", "d"});
  BOOST_REQUIRE(take_now("n1", 2) == (strings{"a", "b"}));
  BOOST_REQUIRE(!release(redis, "n1", {"a", "b"}));
  BOOST_TEST(processing("n1").empty());
  auto next = take_now("n2", 2);
  std::sort(next.begin(), next.end());
  BOOST_TEST(next == (strings{"a", "b"}));
  BOOST_TEST(take_now("n2", 5) == (strings{"c", "d"}));
  auto live = are_live(redis, {"a", "b"});
  BOOST_REQUIRE(live);
  BOOST_TEST((*live == std::vector<bool>{true, true}));
}

BOOST_AUTO_TEST_CASE(a_retry_leaves_the_processing_list_for_the_schedule) {
  auto none = earliest_retry(redis);
  BOOST_REQUIRE(none);
  BOOST_TEST(*none == -1);
  enqueue_all({"a", "b", "c"});
  BOOST_REQUIRE(take_now("n1", 3).size() == 3u);
  BOOST_REQUIRE(!persistence::schedule_retry(redis, "n1", {"b", "c"}, 1767225602000));
  BOOST_REQUIRE(!persistence::schedule_retry(redis, "n1", {"a"}, 1767225601000));
  BOOST_TEST(processing("n1").empty());
  BOOST_TEST(pending().empty());
  BOOST_TEST(scheduled() == (strings{"a", "b", "c"}));
  auto earliest = earliest_retry(redis);
  BOOST_REQUIRE(earliest);
  BOOST_TEST(*earliest == 1767225601000);
  auto count = retry_count(redis);
  BOOST_REQUIRE(count);
  BOOST_TEST(*count == 3);
  // Scheduled ids are still live: the recovery sweep must not queue them.
  auto live = are_live(redis, {"a", "b", "c"});
  BOOST_REQUIRE(live);
  BOOST_TEST((*live == std::vector<bool>{true, true, true}));
}

BOOST_AUTO_TEST_CASE(promote_due_ids_moves_only_due_retries_up_to_its_limit) {
  enqueue_all({"w", "x", "y", "z"});
  BOOST_REQUIRE(take_now("n1", 4).size() == 4u);
  BOOST_REQUIRE(!persistence::schedule_retry(redis, "n1", {"w"}, 1000));
  BOOST_REQUIRE(!persistence::schedule_retry(redis, "n1", {"x"}, 2000));
  BOOST_REQUIRE(!persistence::schedule_retry(redis, "n1", {"y"}, 3000));
  BOOST_REQUIRE(!persistence::schedule_retry(redis, "n1", {"z"}, 4000));
  // Nothing is due before its time.
  auto moved = promote_due_ids(redis, 999, 100);
  BOOST_REQUIRE_MESSAGE(moved, test::why(moved));
  BOOST_TEST(moved->empty());
  // Three are due, one may move: the earliest.
  moved = promote_due_ids(redis, 3000, 1);
  BOOST_REQUIRE(moved);
  BOOST_TEST(*moved == strings{"w"});
  BOOST_TEST(pending() == strings{"w"});
  moved = promote_due_ids(redis, 3000, 100);
  BOOST_REQUIRE(moved);
  BOOST_TEST(moved->size() == 2u);
  BOOST_TEST(scheduled() == strings{"z"});
  auto earliest = earliest_retry(redis);
  BOOST_REQUIRE(earliest);
  BOOST_TEST(*earliest == 4000);
  // Promoted ids are taken like new ones, oldest due first.
  BOOST_TEST(take_now("n2", 10) == (strings{"w", "x", "y"}));
  auto count = retry_count(redis);
  BOOST_REQUIRE(count);
  BOOST_TEST(*count == 1);
}

BOOST_AUTO_TEST_CASE(a_lease_is_in_use_only_while_it_is_refreshed) {
  // No lease: not in use, and no waiting for it.
  auto started = std::chrono::steady_clock::now();
  auto used = lease_in_use(redis, "n1", 2s);
  BOOST_REQUIRE_MESSAGE(used, test::why(used));
  BOOST_TEST(!*used);
  BOOST_TEST((std::chrono::steady_clock::now() - started < 1s));
  // A lease left by a dead run: present, but nobody refreshes it.
  BOOST_REQUIRE(!refresh_lease(redis, "n1", 60s));
  BOOST_TEST(exists(queue_keys::lease("n1")));
  used = lease_in_use(redis, "n1", 100ms);
  BOOST_REQUIRE(used);
  BOOST_TEST(!*used);
  // A live node refreshes it.
  std::atomic<bool> stop{false};
  auto conn = connect();
  std::thread owner{[&conn, &stop] {
    while (!stop) {
      if (refresh_lease(conn, "n1", 60s))
        break;
      std::this_thread::sleep_for(5ms);
    }
  }};
  used = lease_in_use(redis, "n1", 300ms);
  stop = true;
  owner.join();
  BOOST_REQUIRE(used);
  BOOST_TEST(*used);
  // A lease expires after its time to live.
  BOOST_REQUIRE(!refresh_lease(redis, "n1", 100ms));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (exists(queue_keys::lease("n1"))
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  BOOST_TEST(!exists(queue_keys::lease("n1")));
}

BOOST_AUTO_TEST_CASE(reap_returns_the_lists_of_nodes_without_a_lease) {
  enqueue_all({"a", "b", "c", "d", "e"});
  BOOST_REQUIRE(take_now("dead", 2).size() == 2u);
  BOOST_REQUIRE(take_now("alive", 2).size() == 2u);
  BOOST_REQUIRE(take_now("me", 1).size() == 1u);
  BOOST_REQUIRE(!refresh_lease(redis, "alive", 60s));
  auto moved = reap(redis, "me", false);
  BOOST_REQUIRE_MESSAGE(moved, test::why(moved));
  BOOST_TEST(*moved == 2);
  BOOST_TEST(!exists(queue_keys::processing("dead")));
  BOOST_TEST(processing("alive").size() == 2u);
  BOOST_TEST(processing("me").size() == 1u);
  auto back = pending();
  std::sort(back.begin(), back.end());
  BOOST_TEST(back == (strings{"a", "b"}));
  // A restart under the same name returns its own list too, even with
  // the lease of its previous run still there (the node checks first that
  // no one refreshes it).
  BOOST_REQUIRE(!refresh_lease(redis, "me", 60s));
  moved = reap(redis, "me", true);
  BOOST_REQUIRE(moved);
  BOOST_TEST(*moved == 1);
  BOOST_TEST(processing("me").empty());
  BOOST_TEST(processing("alive").size() == 2u);
  BOOST_TEST(pending().size() == 3u);
}

// Two reapers at once (two nodes' schedules) over many dead lists: every id
// goes back exactly once.
BOOST_AUTO_TEST_CASE(racing_reapers_return_each_id_once) {
  constexpr int nodes = 20;
  constexpr int per_node = 50;
  std::vector<std::string> dead;
  for (int n = 0; n < nodes; ++n) {
    dead.push_back("dead-" + std::to_string(n));
    std::vector<std::string> ids;
    for (int i = 0; i < per_node; ++i)
      ids.push_back("id-" + std::to_string(n) + "-" + std::to_string(i));
    enqueue_all(ids);
    BOOST_REQUIRE(take_now(dead.back(), per_node).size() == per_node);
  }
  caf::expected<int64_t> moved[2] = {int64_t{0}, int64_t{0}};
  redis_connection conns[2] = {connect(), connect()};
  std::atomic<int> ready{0};
  auto reaper = [&](int i) {
    ++ready;
    while (ready < 2)
      std::this_thread::yield();
    moved[i] = reap(conns[i], "reaper-" + std::to_string(i), false);
  };
  std::thread first{reaper, 0};
  std::thread second{reaper, 1};
  first.join();
  second.join();
  BOOST_REQUIRE_MESSAGE(moved[0], test::why(moved[0]));
  BOOST_REQUIRE_MESSAGE(moved[1], test::why(moved[1]));
  BOOST_TEST(*moved[0] + *moved[1] == nodes * per_node);
  auto seen = census(dead);
  BOOST_TEST(seen.size() == size_t{nodes * per_node});
  for (const auto& [id, n] : seen)
    BOOST_TEST(n == 1, id << " is in the queue " << n << " times");
  BOOST_TEST(pending().size() == size_t{nodes * per_node});
}

// The lease check and the drain are one step: a node whose lease lapsed for
// a moment and that is back (lease refreshed, new work taken) before the
// reaper acts keeps its list. Before, reap read the lease in one round trip
// and drained in another: a refresh and a take in between were lost to the
// reaper, and the node delivered ids that another node took again.
BOOST_AUTO_TEST_CASE(reap_leaves_a_node_that_is_back_before_the_drain) {
  enqueue_all({"x"});
  BOOST_REQUIRE(take_now("flaky", 1) == strings{"x"});
  // The reaper's connection holds back its first script (the drain) until
  // the node is back.
  gated_relay relay{test::test_redis().port, "EVAL\r\n"};
  auto cfg = test::test_redis();
  cfg.port = relay.port();
  auto reaper_conn = test::connect_redis_db(test::message_queue_redis_db, cfg);
  caf::expected<int64_t> moved = int64_t{0};
  std::thread reaper{[&] { moved = reap(reaper_conn, "reaper", false); }};
  bool held = relay.wait_until_holding(10s);
  if (held) {
    // The node's schedule refreshes the lease; its worker takes more.
    BOOST_CHECK(!refresh_lease(redis, "flaky", 60s));
    enqueue_all({"y"});
    BOOST_CHECK(take_now("flaky", 1) == strings{"y"});
  }
  relay.open();
  reaper.join();
  BOOST_REQUIRE_MESSAGE(held, "reap sent no script");
  BOOST_REQUIRE_MESSAGE(moved, test::why(moved));
  BOOST_TEST(*moved == 0);
  auto kept = processing("flaky");
  std::sort(kept.begin(), kept.end());
  BOOST_TEST(kept == (strings{"x", "y"}));
  BOOST_TEST(pending().empty());
}

// A node whose lease lapsed had its list reaped while it still held the
// ids; whatever it then does with them must not put a second copy into the
// queue (two nodes would deliver the message at once). Each case below was
// a duplicate before: release pushed the ids again, schedule_retry added
// them to the schedule while they were pending.
BOOST_AUTO_TEST_CASE(release_after_a_reap_adds_no_second_copy) {
  enqueue_all({"a", "b"});
  BOOST_REQUIRE(take_now("flaky", 2).size() == 2u);
  auto moved = reap(redis, "other", false); // no lease: reaped
  BOOST_REQUIRE(moved);
  BOOST_REQUIRE(*moved == 2);
  // The node, unaware, stops and returns what it did not attempt.
  BOOST_REQUIRE(!release(redis, "flaky", {"a", "b"}));
  auto seen = census({"flaky"});
  BOOST_TEST(seen.size() == 2u);
  for (const auto& [id, n] : seen)
    BOOST_TEST(n == 1, id << " is in the queue " << n << " times");
}

BOOST_AUTO_TEST_CASE(a_retry_after_a_reap_adds_no_second_copy) {
  // Ids in the node's hands are scheduled.
  enqueue_all({"c"});
  BOOST_REQUIRE(take_now("flaky", 1) == strings{"c"});
  BOOST_REQUIRE(!persistence::schedule_retry(redis, "flaky", {"c"}, 1000));
  BOOST_TEST(scheduled() == strings{"c"});
  BOOST_TEST(processing("flaky").empty());
  // Reaped ones are not.
  enqueue_all({"a", "b"});
  BOOST_REQUIRE(take_now("flaky", 2).size() == 2u);
  auto moved = reap(redis, "other", false);
  BOOST_REQUIRE(moved);
  BOOST_REQUIRE(*moved == 2);
  // Another node took one of them again meanwhile.
  BOOST_REQUIRE(take_now("other", 1).size() == 1u);
  BOOST_REQUIRE(!persistence::schedule_retry(redis, "flaky", {"a", "b"}, 1000));
  auto seen = census({"flaky", "other"});
  BOOST_TEST(seen.size() == 3u);
  for (const auto& [id, n] : seen)
    BOOST_TEST(n == 1, id << " is in the queue " << n << " times");
  BOOST_TEST(scheduled() == strings{"c"});
}

BOOST_AUTO_TEST_SUITE_END()
