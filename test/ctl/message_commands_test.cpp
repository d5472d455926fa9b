#include "ctl/message_commands.hpp"

#include "core/errc.hpp"
#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald;

namespace {

constexpr int64_t now = 1'780'000'000'000; // 2026-05-28T20:26:40Z

} // namespace

BOOST_AUTO_TEST_SUITE(message_commands_suite)

BOOST_AUTO_TEST_CASE(since_takes_a_duration_back_from_now) {
  BOOST_TEST(*ctl::parse_since("90s", now) == now - 90'000);
  BOOST_TEST(*ctl::parse_since("30m", now) == now - 1'800'000);
  BOOST_TEST(*ctl::parse_since("12h", now) == now - 43'200'000);
  BOOST_TEST(*ctl::parse_since("7d", now) == now - 604'800'000);
  BOOST_TEST(*ctl::parse_since("0s", now) == now);
  BOOST_TEST(*ctl::parse_since("3650d", now) == now - 3650LL * 86'400'000);
}

BOOST_AUTO_TEST_CASE(since_takes_a_utc_time) {
  BOOST_TEST(*ctl::parse_since("2026-01-31", now) == 1'769'817'600'000);
  BOOST_TEST(*ctl::parse_since("2026-01-31T12:00:00Z", now)
             == 1'769'860'800'000);
  BOOST_TEST(*ctl::parse_since("2026-01-31 12:00:00", now)
             == 1'769'860'800'000);
  BOOST_TEST(*ctl::parse_since("2026-01-31T12:00", now) == 1'769'860'800'000);
}

BOOST_AUTO_TEST_CASE(since_refuses_anything_else) {
  for (auto bad : {"", "7", "d", "-5m", "5w", "1.5h", "3651d",
                   "99999999999d", "2026-13-01", "2026-01-31T12:00:00+02:00",
                   "yesterday", "2026-01-31; DROP TABLE messages",
                   "1969-12-31"}) {
    auto x = ctl::parse_since(bad, now);
    BOOST_TEST(!x, "accepted '" << bad << "'");
    if (!x)
      BOOST_TEST((x.error() == errc::invalid_input));
  }
}

BOOST_AUTO_TEST_SUITE_END()
