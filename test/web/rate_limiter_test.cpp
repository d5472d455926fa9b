#include "web/rate_limiter.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(rate_limiter_suite)

BOOST_AUTO_TEST_CASE(a_burst_is_granted_then_the_rate_holds) {
  web::rate_limiter limiter{10, 5};
  auto t0 = web::rate_limiter::clock::now();
  for (int i = 0; i < 5; ++i)
    BOOST_TEST(limiter.acquire(1, t0) == 0.0);
  auto wait = limiter.acquire(1, t0);
  BOOST_TEST(wait > 0.0);
  BOOST_TEST(wait <= 0.1 + 1e-9);
  // Clients have buckets of their own.
  BOOST_TEST(limiter.acquire(2, t0) == 0.0);
  // 100 ms later one token is back for client 1, not two.
  BOOST_TEST(limiter.acquire(1, t0 + 100ms) == 0.0);
  BOOST_TEST(limiter.acquire(1, t0 + 100ms) > 0.0);
}

BOOST_AUTO_TEST_CASE(rate_zero_means_unlimited) {
  web::rate_limiter limiter{0, 1};
  for (int i = 0; i < 1000; ++i)
    BOOST_TEST(limiter.acquire(1) == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
