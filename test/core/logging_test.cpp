#include "core/logging.hpp"

#include "test/fixtures.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald;

BOOST_AUTO_TEST_SUITE(logging_suite)

BOOST_AUTO_TEST_CASE(json_escape_makes_any_text_a_valid_json_string) {
  BOOST_TEST(log::json_escape("plain") == "plain");
  BOOST_TEST(log::json_escape("a\"b\\c") == "a\\\"b\\\\c");
  BOOST_TEST(log::json_escape("line\nbreak\t") == "line\\nbreak\\t");
  BOOST_TEST(log::json_escape(std::string_view{"\x01", 1}) == "\\u0001");
}

BOOST_AUTO_TEST_CASE(unknown_levels_are_rejected) {
  BOOST_TEST(!log::validate({"debug", "", 1, false}));
  BOOST_TEST(!log::validate({"off", "", 1, false}));
  BOOST_TEST(log::validate({"chatty", "", 1, false}));
}

BOOST_AUTO_TEST_SUITE_END()
