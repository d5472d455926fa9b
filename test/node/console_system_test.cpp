#include "node/console_system.hpp"

#include "core/actor_stats.hpp"
#include "node/cluster_node.hpp"
#include "test/fixtures.hpp"

#include <caf/binary_serializer.hpp>
#include <caf/exit_reason.hpp>
#include <caf/forwarding_actor_proxy.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/make_actor.hpp>
#include <caf/scoped_execution_unit.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace herald;
using namespace std::chrono_literals;

namespace {

/// Stands in for an actor of the node's graph that answers requests (the
/// cluster, audit, queue and delivery actors): says who it is and counts
/// the requests that reached it.
using answering_actor
  = caf::typed_actor<caf::replies_to<caf::get_atom>::with<std::string>>;

answering_actor::behavior_type
answering(answering_actor::pointer, std::string who,
          std::shared_ptr<std::atomic<int>> reached) {
  return {
    [who, reached](caf::get_atom) {
      ++*reached;
      return who;
    },
  };
}

/// A handle to actor `id` of node `nid` as the client's BASP makes one when
/// it deserializes an actor address (caf::io::basp_broker::make_proxy):
/// requests to it go out on the connection that leads to `nid`, addressed
/// to `id`. What a modified console could send to, knowing an id.
caf::actor forge(caf::actor_system& sys, const caf::node_id& nid,
                 caf::actor_id id) {
  auto broker = sys.middleman().named_broker<caf::io::basp_broker>(
    caf::atom("BASP"));
  caf::actor_config cfg;
  auto ptr = caf::make_actor<caf::forwarding_actor_proxy,
                             caf::strong_actor_ptr>(id, nid, &sys, cfg,
                                                    std::move(broker));
  return caf::actor_cast<caf::actor>(std::move(ptr));
}

/// The answer of `dest` to get_atom, or the error's text.
std::string ask(caf::actor_system& sys, const caf::actor& dest) {
  std::string result;
  caf::scoped_actor self{sys};
  self->request(dest, 3s, caf::get_atom::value)
    .receive([&](std::string& who) { result = std::move(who); },
             [&](caf::error& err) { result = "error: " + sys.render(err); });
  return result;
}

/// The error of `x` as `sys` renders it; empty when `x` holds a value
/// (Boost.Test builds the message even when the check passes).
template <class T>
std::string why(caf::actor_system& sys, const caf::expected<T>& x) {
  return x ? std::string{} : sys.render(x.error());
}

size_t running_inspectors() {
  auto xs = actor_catalog::process().entries();
  return static_cast<size_t>(
    std::count_if(xs.begin(), xs.end(), [](const actor_entry& x) {
      return x.type == "inspector" && x.exited_ms == 0;
    }));
}

/// A clustered node's two actor systems, as heraldd runs them, and a
/// client system, as heraldctl runs it. Declared in the order they start;
/// the client goes first, the node last.
struct console_fixture {
  config::cluster_config cluster;
  // The node's own system: the cluster stand-in published on the members'
  // middleman port, and the victim, which BASP can reach by id.
  config::herald_config node_cfg;
  std::optional<caf::actor_system> node_sys;
  std::shared_ptr<std::atomic<int>> member_reached
    = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<std::atomic<int>> victim_reached
    = std::make_shared<std::atomic<int>>(0);
  answering_actor member;
  answering_actor victim;
  uint16_t members_port = 0;
  std::unique_ptr<node::console_system> console;
  config::herald_config client_cfg;
  std::optional<caf::actor_system> client_sys;

  console_fixture() {
    node::prepare_cluster(node_cfg, cluster);
    node_sys.emplace(node_cfg);
    member = node_sys->spawn(answering, std::string{"cluster"},
                             member_reached);
    victim = node_sys->spawn(answering, std::string{"victim"},
                             victim_reached);
    auto port = node_sys->middleman().publish(member, 0, "127.0.0.1");
    BOOST_REQUIRE_MESSAGE(port, why(*node_sys, port));
    members_port = *port;
    // The cluster actor hands the delivery and audit actors to members
    // (member_info): serializing a handle registers its actor for BASP
    // (caf::save_actor), from then on any peer of this middleman reaches
    // it by id.
    caf::scoped_execution_unit ctx{&*node_sys};
    std::vector<char> buf;
    caf::binary_serializer sink{&ctx, buf};
    auto handed_out = caf::actor_cast<caf::strong_actor_ptr>(victim);
    BOOST_REQUIRE(!sink(handed_out));
    BOOST_REQUIRE(node_sys->registry().get(victim.id()) != nullptr);
    auto started = node::console_system::start(
      inspector_config{"n1", {}, {}, nullptr}, cluster);
    BOOST_REQUIRE_MESSAGE(started, test::why(started));
    console = std::move(*started);
    node::prepare_cluster(client_cfg, cluster);
    client_sys.emplace(client_cfg);
  }

  ~console_fixture() {
    client_sys.reset();
    console.reset();
    caf::anon_send_exit(member, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(victim, caf::exit_reason::user_shutdown);
    member = answering_actor{};
    victim = answering_actor{};
    node_sys.reset();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(console_system_suite, console_fixture)

BOOST_AUTO_TEST_CASE(a_console_peer_reaches_the_inspector_and_nothing_else) {
  auto& client = *client_sys;
  auto inspector = client.middleman().remote_actor<inspector_actor>(
    "127.0.0.1", console->port());
  BOOST_REQUIRE_MESSAGE(inspector, why(client, inspector));
  // The console works: the inspector lists the actors of the process.
  std::vector<actor_report> actors;
  std::string failure;
  {
    caf::scoped_actor self{client};
    self->request(*inspector, 3s, actors_atom::value)
      .receive([&](std::vector<actor_report>& xs) { actors = std::move(xs); },
               [&](caf::error& err) { failure = client.render(err); });
  }
  BOOST_REQUIRE_MESSAGE(failure.empty(), "the inspector: " << failure);
  BOOST_TEST(std::any_of(actors.begin(), actors.end(), [](const auto& x) {
    return x.type == "inspector" && x.exited_ms == 0;
  }));
  // The console's middleman is another BASP node than the members'.
  BOOST_TEST(caf::to_string(inspector->node())
             != caf::to_string(node_sys->node()));
  // A handle forged from the inspector's node and the victim's id: the
  // console's middleman looks the id up in its own registry, where no
  // actor of the node is, and bounces the request.
  auto forged = forge(client, inspector->node(), victim.id());
  auto answer = ask(client, forged);
  BOOST_TEST_MESSAGE("forged request through the console: " << answer);
  BOOST_TEST(answer.rfind("error: ", 0) == 0, "answer: " << answer);
  BOOST_TEST(*victim_reached == 0);
  // Control: the same forgery through the members' middleman port (where
  // only node certificates lead) reaches the victim, so the check above
  // is no artefact of the forging.
  auto member_handle = client.middleman().remote_actor<answering_actor>(
    "127.0.0.1", members_port);
  BOOST_REQUIRE_MESSAGE(member_handle, why(client, member_handle));
  BOOST_TEST(caf::to_string(member_handle->node())
             == caf::to_string(node_sys->node()));
  BOOST_TEST(ask(client, forge(client, member_handle->node(), victim.id()))
             == "victim");
  BOOST_TEST(*victim_reached == 1);
  BOOST_TEST(*member_reached == 0);
}

BOOST_AUTO_TEST_CASE(stopping_the_console_stops_its_inspector_and_system) {
  BOOST_TEST(running_inspectors() == 1u);
  auto port = console->port();
  console.reset();
  BOOST_TEST(running_inspectors() == 0u);
  // Nothing listens on the console's port any more.
  auto again = client_sys->middleman().remote_actor<inspector_actor>(
    "127.0.0.1", port);
  BOOST_TEST(!again);
}

BOOST_AUTO_TEST_SUITE_END()
