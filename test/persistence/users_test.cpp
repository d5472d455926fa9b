#include "persistence/users.hpp"

#include "core/errc.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using namespace herald;
using namespace herald::persistence;

namespace {

std::string refusal(const std::string& name) {
  auto err = check_username(name);
  return err ? render(err) : std::string{};
}

} // namespace

BOOST_AUTO_TEST_SUITE(user_names_suite)

BOOST_AUTO_TEST_CASE(names_of_the_safe_characters_pass) {
  BOOST_TEST(refusal("alice") == "");
  BOOST_TEST(refusal("a") == "");
  BOOST_TEST(refusal("7") == "");
  BOOST_TEST(refusal("bob.smith_2-x") == "");
  BOOST_TEST(refusal(std::string(64, 'z')) == "");
}

BOOST_AUTO_TEST_CASE(empty_and_overlong_names_are_refused) {
  BOOST_TEST(refusal("") == "a user name must have 1 to 64 characters");
  BOOST_TEST(refusal(std::string(65, 'z'))
             == "a user name must have 1 to 64 characters");
}

BOOST_AUTO_TEST_CASE(other_characters_are_refused_without_echoing_them) {
  for (std::string name : {"Alice", "-alice", ".alice", "_alice", "al ice",
                           "alice\n", "al;ce", "alice/../x", "\xc3\xa5lice",
                           "al\x1b[2Jce", "al'ce", "al%ce"}) {
    auto why = refusal(name);
    BOOST_TEST(why.find("only lower-case letters, digits") != std::string::npos,
               "'" << name << "': " << why);
    BOOST_TEST(why.find(name) == std::string::npos);
  }
  BOOST_TEST(refusal(std::string{"al\0ce", 5}) != "");
}

BOOST_AUTO_TEST_SUITE_END()
