#include "ctl/console_commands.hpp"

#include "actors/actors.hpp"
#include "config/herald_config.hpp"
#include "core/errc.hpp"
#include "core/time.hpp"
#include "ctl/support.hpp"
#include "net/cluster_link.hpp"
#include "net/crl.hpp"
#include "node/cluster_node.hpp"
#include "persistence/clients.hpp"
#include "persistence/mysql.hpp"

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <readline/history.h>
#include <readline/readline.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_set>

namespace herald::ctl {

namespace {

/// What the inspect commands and the console take.
struct console_options {
  /// HOST:PORT of a node's cluster.listen.
  std::string node;
  /// An admin certificate and its key (heraldctl cert admin).
  std::string cert;
  std::string key;
  /// The CA of the node certificates; empty: cluster.ca.
  std::string ca;
  bool json = false;
  /// actors, actor: only this member (by name); empty: every member.
  std::string member;
  /// actors: mailbox, rate or time.
  std::string sort = "mailbox";
  size_t top = 0;
  uint64_t actor_id = 0;
  std::string message_id;
  /// watch: refreshes before it stops; 0: until Ctrl-C.
  size_t count = 0;
  int timeout_s = 5;
};

const char* admin_certificate_hint
  = "use an admin certificate: heraldctl cert admin --name NAME issues one "
    "(pass --cert NAME.crt --key NAME.key, or set $HERALD_ADMIN_CERT and "
    "$HERALD_ADMIN_KEY); client and node certificates are refused";

/// A connection to the inspectors of a cluster over the cluster links,
/// authenticated by an admin certificate. heraldctl is no member: its
/// links go out only, and it checks that each node presents an active node
/// certificate of the cluster.
class inspector_session {
public:
  static caf::expected<std::unique_ptr<inspector_session>>
  open(const std::string& config_file, const console_options& opt) {
    auto cfg = load_settings(config_file);
    if (!cfg)
      return cfg.error();
    if (opt.cert.empty() || opt.key.empty())
      return make_error(errc::invalid_input,
                        std::string{"no admin certificate given: "}
                          + admin_certificate_hint);
    // stdout carries the answers (JSON too): the links' log lines go to
    // stderr, and only when something goes wrong.
    spdlog::set_default_logger(spdlog::stderr_color_mt("heraldctl"));
    spdlog::set_level(spdlog::level::warn);
    std::unique_ptr<inspector_session> result{new inspector_session};
    auto& x = *result;
    x.timeout_ = std::chrono::seconds{opt.timeout_s};
    auto ca = opt.ca.empty() ? cfg->cluster.tls.ca : opt.ca;
    x.crl_ = std::make_unique<net::crl_store>(cfg->pki.crl_file, ca);
    if (auto err = x.crl_->refresh(); !x.crl_->in_force())
      return err;
    auto db = persistence::mysql_connection::connect(cfg->mysql);
    if (!db)
      return db.error();
    auto known = persistence::load_client_map(*db);
    if (!known)
      return known.error();
    for (const auto& [fingerprint, who] : *known)
      if (who.active && who.kind == "server")
        x.nodes_.insert(fingerprint);
    net::cluster_link_config lcfg;
    lcfg.files = {opt.cert, opt.key, ca};
    lcfg.crl = x.crl_.get();
    lcfg.allowed = [nodes = x.nodes_](const std::string& fingerprint) {
      return nodes.count(fingerprint) > 0;
    };
    lcfg.handshake_timeout = x.timeout_;
    auto links = net::cluster_links::start(std::move(lcfg));
    if (!links)
      return links.error();
    x.links_ = std::move(*links);
    x.sys_cfg_ = std::make_unique<config::herald_config>();
    node::prepare_cluster(*x.sys_cfg_, cfg->cluster);
    x.sys_ = std::make_unique<caf::actor_system>(*x.sys_cfg_);
    return result;
  }

  /// The inspector of the node at `address` (HOST:PORT), connected once.
  caf::expected<inspector_actor> connect(const std::string& address) {
    if (auto i = inspectors_.find(address); i != inspectors_.end())
      return i->second;
    std::string host;
    uint16_t port = 0;
    if (auto err = config::split_host_port("--node", address, host, port))
      return err;
    auto local = links_->forward(host, port);
    if (!local)
      return local.error();
    caf::expected<inspector_actor> result{
      make_error(errc::network_failure, "no answer from " + address)};
    caf::scoped_actor self{*sys_};
    self
      ->request(sys_->middleman().actor_handle(), timeout_,
                caf::connect_atom::value, std::string{"127.0.0.1"}, *local)
      .receive(
        [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
            const std::set<std::string>& ifs) {
          if (ptr && sys_->assignable<inspector_actor>(ifs))
            result = caf::actor_cast<inspector_actor>(ptr);
          else
            result = make_error(errc::invalid_input,
                                "the node at " + address
                                  + " answers, but not as an inspector of "
                                    "this Herald version: upgrade heraldctl "
                                    "or the node");
        },
        [&](caf::error& err) {
          result = make_error(
            errc::network_failure,
            "no inspector at " + address + " (" + render(err)
              + "): check that it is a node's cluster.listen address, and "
                "that the node's CA signed --cert; "
              + admin_certificate_hint
              + " (the node's log names the refused certificate)");
        });
    if (result)
      inspectors_.emplace(address, *result);
    return result;
  }

  /// Asks the inspector at `address` and waits for its answer `T`.
  template <class T, class... Ts>
  caf::expected<T> ask(const std::string& address, Ts... xs) {
    auto who = connect(address);
    if (!who)
      return who.error();
    caf::expected<T> result{
      make_error(errc::network_failure, "no answer from " + address)};
    caf::scoped_actor self{*sys_};
    self->request(*who, timeout_, xs...)
      .receive([&](T& x) { result = std::move(x); },
               [&](caf::error& err) {
                 inspectors_.erase(address);
                 result = make_error(errc::network_failure,
                                     "the inspector at " + address
                                       + " did not answer: " + render(err));
               });
    return result;
  }

private:
  inspector_session() = default;

  caf::timespan timeout_;
  std::unique_ptr<net::crl_store> crl_;
  std::unordered_set<std::string> nodes_;
  // Declared before the actor system: the links outlive its middleman.
  std::unique_ptr<net::cluster_links> links_;
  std::unique_ptr<config::herald_config> sys_cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::map<std::string, inspector_actor> inspectors_;
};

// -- formatting ---------------------------------------------------------------

std::string duration_text(uint64_t ns) {
  char buf[32];
  if (ns < 1'000'000)
    std::snprintf(buf, sizeof(buf), "%.1fus", static_cast<double>(ns) / 1e3);
  else if (ns < 1'000'000'000)
    std::snprintf(buf, sizeof(buf), "%.1fms", static_cast<double>(ns) / 1e6);
  else
    std::snprintf(buf, sizeof(buf), "%.2fs", static_cast<double>(ns) / 1e9);
  return buf;
}

std::string time_text(int64_t ms) {
  return ms > 0 ? iso8601_ms(ms) : std::string{"-"};
}

std::string joined(const std::vector<std::string>& xs) {
  std::string result;
  for (const auto& x : xs)
    result += (result.empty() ? "" : ",") + x;
  return result.empty() ? "-" : result;
}

/// A rapidjson writer with short helpers.
class json_out {
public:
  json_out() : w_(buf_) {
    // nop
  }

  rapidjson::Writer<rapidjson::StringBuffer>& w() {
    return w_;
  }

  void str(const char* key, const std::string& value) {
    w_.Key(key);
    w_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  }

  void num(const char* key, int64_t value) {
    w_.Key(key);
    w_.Int64(value);
  }

  void real(const char* key, double value) {
    w_.Key(key);
    w_.Double(value);
  }

  void strings(const char* key, const std::vector<std::string>& xs) {
    w_.Key(key);
    w_.StartArray();
    for (const auto& x : xs)
      w_.String(x.data(), static_cast<rapidjson::SizeType>(x.size()));
    w_.EndArray();
  }

  void print() {
    std::cout << buf_.GetString() << '\n';
  }

private:
  rapidjson::StringBuffer buf_;
  rapidjson::Writer<rapidjson::StringBuffer> w_;
};

void write(json_out& out, const node_report& x) {
  auto& w = out.w();
  w.StartObject();
  out.str("name", x.name);
  out.strings("roles", x.roles);
  out.str("address", x.address);
  out.str("version", x.version);
  out.num("started_at_ms", x.started_at_ms);
  out.num("uptime_s", x.started_at_ms > 0
                        ? (unix_now_ms() - x.started_at_ms) / 1000
                        : 0);
  out.num("heartbeat_age_ms", x.heartbeat_age_ms);
  w.Key("healthy");
  w.Bool(x.healthy);
  out.num("in_flight", x.in_flight);
  out.str("tls_identity", x.tls_identity);
  w.Key("answering");
  w.Bool(x.answering);
  w.EndObject();
}

void write(json_out& out, const actor_report& x) {
  auto& w = out.w();
  w.StartObject();
  out.num("id", static_cast<int64_t>(x.id));
  out.str("type", x.type);
  out.str("name", x.name);
  out.str("node", x.node);
  out.num("started_ms", x.started_ms);
  out.num("handled", static_cast<int64_t>(x.handled));
  out.real("rate", x.rate);
  out.num("mean_ns", static_cast<int64_t>(x.mean_ns));
  out.num("p99_ns", static_cast<int64_t>(x.p99_ns));
  out.num("mailbox", static_cast<int64_t>(x.mailbox));
  out.num("mailbox_max", static_cast<int64_t>(x.mailbox_max));
  out.str("last_error", x.last_error);
  out.num("last_error_ms", x.last_error_ms);
  out.num("restarts", static_cast<int64_t>(x.restarts));
  out.num("exited_ms", x.exited_ms);
  out.str("exit_reason", x.exit_reason);
  w.EndObject();
}

template <class T>
void print_json_array(const std::vector<T>& xs) {
  json_out out;
  out.w().StartArray();
  for (const auto& x : xs)
    write(out, x);
  out.w().EndArray();
  out.print();
}

void print_nodes(const std::vector<node_report>& xs, bool json) {
  if (json)
    return print_json_array(xs);
  std::printf("%-16s %-26s %-22s %-9s %8s %9s %-8s %9s  %s\n", "NAME",
              "ROLES", "ADDRESS", "VERSION", "UPTIME", "HEARTBEAT", "HEALTH",
              "IN-FLIGHT", "TLS IDENTITY");
  auto now = unix_now_ms();
  for (const auto& x : xs)
    std::printf("%-16s %-26s %-22s %-9s %7llds %8lldms %-8s %9lld  %s\n",
                x.name.c_str(), joined(x.roles).c_str(), x.address.c_str(),
                x.version.c_str(),
                static_cast<long long>(
                  x.started_at_ms > 0 ? (now - x.started_at_ms) / 1000 : 0),
                static_cast<long long>(x.heartbeat_age_ms),
                x.healthy ? "healthy" : "degraded",
                static_cast<long long>(x.in_flight),
                x.tls_identity.empty() ? "-" : x.tls_identity.c_str());
}

void print_actors(const std::vector<actor_report>& xs, bool json) {
  if (json)
    return print_json_array(xs);
  std::printf("%-10s %6s %-22s %-18s %7s %9s %10s %10s %10s  %s\n", "NODE",
              "ID", "NAME", "TYPE", "MAILBOX", "MSG/S", "HANDLED", "MEAN",
              "P99", "LAST ERROR");
  for (const auto& x : xs)
    std::printf("%-10s %6llu %-22s %-18s %7llu %9.1f %10llu %10s %10s  %s\n",
                x.node.c_str(), static_cast<unsigned long long>(x.id),
                x.name.c_str(), x.type.c_str(),
                static_cast<unsigned long long>(x.mailbox), x.rate,
                static_cast<unsigned long long>(x.handled),
                duration_text(x.mean_ns).c_str(),
                duration_text(x.p99_ns).c_str(),
                x.exited_ms != 0 ? ("exited: " + x.exit_reason).c_str()
                                 : (x.last_error.empty() ? "-"
                                                         : x.last_error.c_str()));
}

void print_actor(const actor_report& x, bool json) {
  if (json) {
    json_out out;
    write(out, x);
    out.print();
    return;
  }
  std::printf("actor %llu on %s: %s (type %s)\n",
              static_cast<unsigned long long>(x.id), x.node.c_str(),
              x.name.c_str(), x.type.c_str());
  std::printf("  started        %s\n", time_text(x.started_ms).c_str());
  std::printf("  handled        %llu (%.1f/s now)\n",
              static_cast<unsigned long long>(x.handled), x.rate);
  std::printf("  processing     mean %s, p99 below %s\n",
              duration_text(x.mean_ns).c_str(),
              duration_text(x.p99_ns).c_str());
  std::printf("  mailbox        %llu waiting when last sampled, at most %llu\n",
              static_cast<unsigned long long>(x.mailbox),
              static_cast<unsigned long long>(x.mailbox_max));
  std::printf("  last error     %s%s\n",
              x.last_error.empty() ? "none" : x.last_error.c_str(),
              x.last_error_ms > 0 ? (" at " + time_text(x.last_error_ms)).c_str()
                                  : "");
  std::printf("  restarts       %llu\n",
              static_cast<unsigned long long>(x.restarts));
  if (x.exited_ms != 0)
    std::printf("  exited         %s: %s\n", time_text(x.exited_ms).c_str(),
                x.exit_reason.c_str());
}

void print_queue(const queue_report& x, bool json) {
  if (json) {
    json_out out;
    auto& w = out.w();
    w.StartObject();
    out.num("pending", x.pending);
    w.Key("processing");
    w.StartObject();
    for (size_t i = 0; i < x.nodes.size() && i < x.processing.size(); ++i) {
      w.Key(x.nodes[i].c_str());
      w.Int64(x.processing[i]);
    }
    w.EndObject();
    out.num("retry_scheduled", x.retry_scheduled);
    out.num("next_retry_ms", x.next_retry_ms);
    out.num("failed", x.failed);
    w.EndObject();
    out.print();
    return;
  }
  std::printf("pending          %lld\n", static_cast<long long>(x.pending));
  for (size_t i = 0; i < x.nodes.size() && i < x.processing.size(); ++i)
    std::printf("processing       %lld on %s\n",
                static_cast<long long>(x.processing[i]), x.nodes[i].c_str());
  std::printf("retry schedule   %lld, next due %s\n",
              static_cast<long long>(x.retry_scheduled),
              time_text(x.next_retry_ms).c_str());
  std::printf("failed           %lld\n", static_cast<long long>(x.failed));
}

void print_trace(const trace_report& x, bool json) {
  if (json) {
    json_out out;
    auto& w = out.w();
    w.StartObject();
    out.str("message_id", x.message_id);
    out.str("status", x.status);
    out.str("live", x.live);
    w.Key("hops");
    w.StartArray();
    for (const auto& hop : x.hops) {
      w.StartObject();
      out.num("at_ms", hop.at_ms);
      out.str("at", time_text(hop.at_ms));
      out.str("stage", hop.stage);
      out.str("node", hop.node);
      out.str("detail", hop.detail);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    out.print();
    return;
  }
  std::printf("message %s: %s (in Redis: %s)\n", x.message_id.c_str(),
              x.status.c_str(), x.live.c_str());
  for (const auto& hop : x.hops)
    std::printf("  %-24s %-12s %-10s %s\n", time_text(hop.at_ms).c_str(),
                hop.stage.c_str(), hop.node.empty() ? "-" : hop.node.c_str(),
                hop.detail.c_str());
}

// -- commands -----------------------------------------------------------------

/// The members to ask: the one named, or every member the node knows.
caf::expected<std::vector<node_report>>
members(inspector_session& s, const console_options& opt) {
  auto all = s.ask<std::vector<node_report>>(opt.node, nodes_atom::value);
  if (!all || opt.member.empty())
    return all;
  std::vector<node_report> result;
  for (auto& x : *all)
    if (x.name == opt.member)
      result.push_back(std::move(x));
  if (result.empty())
    return make_error(errc::not_found,
                      "no member '" + opt.member
                        + "'; heraldctl inspect nodes lists them");
  return result;
}

/// Every actor of the chosen members, sorted and cut as asked.
caf::expected<std::vector<actor_report>>
actors(inspector_session& s, const console_options& opt) {
  auto who = members(s, opt);
  if (!who)
    return who.error();
  std::vector<actor_report> result;
  for (const auto& member : *who) {
    // The node asked is reached at the address given.
    auto address = member.answering ? opt.node : member.address;
    auto xs = s.ask<std::vector<actor_report>>(address, actors_atom::value);
    if (!xs)
      return xs.error();
    result.insert(result.end(), xs->begin(), xs->end());
  }
  auto key = [&opt](const actor_report& x) -> double {
    if (opt.sort == "rate")
      return x.rate;
    if (opt.sort == "time")
      return static_cast<double>(x.mean_ns);
    return static_cast<double>(x.mailbox);
  };
  std::stable_sort(result.begin(), result.end(),
                   [&key](const auto& x, const auto& y) {
                     return key(x) > key(y);
                   });
  if (opt.top > 0 && result.size() > opt.top)
    result.resize(opt.top);
  return result;
}

caf::expected<actor_report> actor(inspector_session& s,
                                  const console_options& opt) {
  auto who = members(s, opt);
  if (!who)
    return who.error();
  for (const auto& member : *who) {
    auto address = member.answering ? opt.node : member.address;
    auto x = s.ask<actor_report>(address, caf::get_atom::value, opt.actor_id);
    if (x || !(x.error() == errc::not_found))
      return x;
  }
  return make_error(errc::not_found,
                    "no actor " + std::to_string(opt.actor_id)
                      + " on any member; heraldctl inspect actors lists them");
}

std::atomic<bool> interrupted{false};

/// A top-like view: members, the busiest actors, the queue, every second.
int watch(inspector_session& s, console_options opt) {
  interrupted = false;
  auto previous = std::signal(SIGINT, [](int) { interrupted = true; });
  opt.sort = "rate";
  if (opt.top == 0)
    opt.top = 15;
  for (size_t round = 0; !interrupted && (opt.count == 0 || round < opt.count);
       ++round) {
    auto who = s.ask<std::vector<node_report>>(opt.node, nodes_atom::value);
    auto busiest = actors(s, opt);
    auto queued = s.ask<queue_report>(opt.node, queue_atom::value);
    std::printf("\033[H\033[2J%s  (refreshed every second; Ctrl-C stops)\n\n",
                time_text(unix_now_ms()).c_str());
    for (const auto* err : {who ? nullptr : &who.error(),
                            busiest ? nullptr : &busiest.error(),
                            queued ? nullptr : &queued.error()})
      if (err != nullptr)
        std::printf("error: %s\n", render(*err).c_str());
    if (who)
      print_nodes(*who, false);
    std::printf("\n");
    if (busiest)
      print_actors(*busiest, false);
    std::printf("\n");
    if (queued)
      print_queue(*queued, false);
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds{1});
  }
  std::signal(SIGINT, previous);
  return 0;
}

enum class command { nodes, actors, actor, queue, trace, watch };

/// Runs one command against the session; prints the answer or the error.
int run_command(inspector_session& s, command cmd, const console_options& opt) {
  auto show = [&opt](auto result, auto print) {
    if (!result)
      return fail(render(result.error()));
    print(*result, opt.json);
    return 0;
  };
  switch (cmd) {
    case command::nodes:
      return show(s.ask<std::vector<node_report>>(opt.node, nodes_atom::value),
                  print_nodes);
    case command::actors:
      return show(actors(s, opt), print_actors);
    case command::actor:
      return show(actor(s, opt), print_actor);
    case command::queue:
      return show(s.ask<queue_report>(opt.node, queue_atom::value),
                  print_queue);
    case command::trace:
      return show(s.ask<trace_report>(opt.node, trace_atom::value,
                                      opt.message_id),
                  print_trace);
    case command::watch:
      return watch(s, opt);
  }
  return 1;
}

/// The admin certificate from the environment when no flag names one.
void certificate_defaults(console_options& opt) {
  if (auto* cert = std::getenv("HERALD_ADMIN_CERT"); cert && opt.cert.empty())
    opt.cert = cert;
  if (auto* key = std::getenv("HERALD_ADMIN_KEY"); key && opt.key.empty())
    opt.key = key;
}

int one_shot(const std::string& config_file, console_options opt,
             command cmd) {
  certificate_defaults(opt);
  auto session = inspector_session::open(config_file, opt);
  if (!session)
    return fail(render(session.error()));
  return run_command(**session, cmd, opt);
}

// -- the interactive console --------------------------------------------------

const std::vector<std::string> console_words{
  "nodes", "actors", "actor",  "queue",  "trace", "watch", "help",
  "quit",  "--sort", "--top",  "--member", "--json", "mailbox", "rate",
  "time"};

char* next_word(const char* text, int state) {
  static size_t index;
  static std::string prefix;
  if (state == 0) {
    index = 0;
    prefix = text;
  }
  while (index < console_words.size()) {
    const auto& word = console_words[index++];
    if (word.compare(0, prefix.size(), prefix) == 0)
      return strdup(word.c_str());
  }
  return nullptr;
}

char** complete(const char* text, int, int) {
  rl_attempted_completion_over = 1;
  return rl_completion_matches(text, next_word);
}

const char* console_help = R"(commands (read-only):
  nodes                                   members, roles, uptime, heartbeat age, TLS identity
  actors [--sort mailbox|rate|time] [--top K] [--member NAME]
                                          every member's actors and their counters
  actor ID [--member NAME]                one actor: counters, last error, exit reason
  queue                                   pending, processing per node, retries, failed
  trace MESSAGE_ID                        the message's path, oldest step first
  watch                                   refreshed every second until Ctrl-C
  add --json to print JSON; help; quit (or Ctrl-D)
)";

/// Parses one console line into `cmd` and `opt` (a copy of the session's
/// options); returns an error text, or empty.
std::string parse_line(const std::string& line, command& cmd,
                       console_options& opt) {
  std::istringstream in{line};
  std::vector<std::string> words;
  for (std::string word; in >> word;)
    words.push_back(word);
  static const std::map<std::string, command> names{
    {"nodes", command::nodes}, {"actors", command::actors},
    {"actor", command::actor}, {"queue", command::queue},
    {"trace", command::trace}, {"watch", command::watch}};
  auto i = names.find(words.front());
  if (i == names.end())
    return "unknown command '" + words.front() + "'; type help";
  cmd = i->second;
  std::vector<std::string> args;
  for (size_t k = 1; k < words.size(); ++k) {
    const auto& w = words[k];
    auto value = [&]() -> const std::string* {
      return k + 1 < words.size() ? &words[++k] : nullptr;
    };
    if (w == "--json") {
      opt.json = true;
    } else if (w == "--sort" || w == "--top" || w == "--member") {
      auto v = value();
      if (v == nullptr)
        return w + " needs a value";
      if (w == "--sort") {
        if (*v != "mailbox" && *v != "rate" && *v != "time")
          return "--sort takes mailbox, rate or time";
        opt.sort = *v;
      } else if (w == "--top") {
        opt.top = std::strtoull(v->c_str(), nullptr, 10);
      } else {
        opt.member = *v;
      }
    } else {
      args.push_back(w);
    }
  }
  if (cmd == command::actor || cmd == command::trace) {
    if (args.size() != 1)
      return words.front() + " takes one "
             + (cmd == command::actor ? "actor ID" : "MESSAGE_ID");
    if (cmd == command::actor)
      opt.actor_id = std::strtoull(args[0].c_str(), nullptr, 10);
    else
      opt.message_id = args[0];
  } else if (!args.empty()) {
    return "unexpected '" + args[0] + "'; type help";
  }
  return {};
}

int console(const std::string& config_file, console_options opt) {
  certificate_defaults(opt);
  auto session = inspector_session::open(config_file, opt);
  if (!session)
    return fail(render(session.error()));
  // Fail now rather than at the first command when the node refuses us.
  if (auto who = (*session)->connect(opt.node); !who)
    return fail(render(who.error()));
  std::string history;
  if (auto* home = std::getenv("HOME"))
    history = std::string{home} + "/.herald_history";
  using_history();
  if (!history.empty())
    read_history(history.c_str());
  rl_attempted_completion_function = complete;
  std::cout << "connected to the inspector of " << opt.node
            << " (read-only); type help\n";
  auto prompt = "herald " + opt.node + "> ";
  while (auto* raw = readline(prompt.c_str())) {
    std::string line{raw};
    std::free(raw);
    if (line.find_first_not_of(" \t") == std::string::npos)
      continue;
    add_history(line.c_str());
    if (line == "quit" || line == "exit")
      break;
    if (line == "help") {
      std::cout << console_help;
      continue;
    }
    auto cmd = command::nodes;
    auto line_opt = opt;
    if (auto err = parse_line(line, cmd, line_opt); !err.empty()) {
      std::cout << err << '\n';
      continue;
    }
    run_command(**session, cmd, line_opt);
  }
  if (!history.empty()) {
    write_history(history.c_str());
    history_truncate_file(history.c_str(), 1000);
  }
  return 0;
}

/// The options every inspect command and the console take.
void add_connection_options(CLI::App* cmd, std::string& config_file,
                            console_options& opt) {
  cmd->add_option("--node", opt.node,
                  "HOST:PORT of a node's cluster.listen")
    ->required();
  cmd->add_option("--cert", opt.cert,
                  "admin certificate (heraldctl cert admin); default: "
                  "$HERALD_ADMIN_CERT");
  cmd->add_option("--key", opt.key,
                  "its key; default: $HERALD_ADMIN_KEY");
  cmd->add_option("--ca", opt.ca,
                  "the CA of the node certificates; default: cluster.ca");
  cmd->add_option("--config-file", config_file,
                  "node configuration (cluster CA, CRL, database); default: "
                  "$HERALD_CONFIG");
  cmd->add_option("--timeout", opt.timeout_s, "seconds to wait for a node")
    ->check(CLI::Range(1, 300));
}

} // namespace

void add_console_commands(CLI::App& app, std::string& config_file,
                          int& result) {
  // CLI11 binds references to the options; the callbacks keep them alive.
  auto opt = std::make_shared<console_options>();
  auto inspect = app.add_subcommand(
    "inspect", "ask a node's inspector once (read-only; admin certificate)");
  inspect->require_subcommand(1);
  auto add = [&](const char* name, const char* what, command cmd) {
    auto sub = inspect->add_subcommand(name, what);
    add_connection_options(sub, config_file, *opt);
    sub->add_flag("--json", opt->json, "print JSON");
    sub->callback([opt, cmd, &config_file, &result] {
      result = one_shot(config_file, *opt, cmd);
    });
    return sub;
  };
  add("nodes", "members: roles, uptime, heartbeat age, TLS identity",
      command::nodes);
  auto actors_cmd = add("actors",
                        "every member's actors: mailbox, messages/s, mean "
                        "and p99 processing time, last error",
                        command::actors);
  actors_cmd->add_option("--sort", opt->sort, "mailbox (default), rate or time")
    ->check(CLI::IsMember({"mailbox", "rate", "time"}));
  actors_cmd->add_option("--top", opt->top, "only the first K");
  actors_cmd->add_option("--member", opt->member, "only this member (name)");
  auto actor_cmd = add("actor", "one actor by id: counters, last error, "
                                "exit reason",
                       command::actor);
  actor_cmd->add_option("ID", opt->actor_id, "actor id (inspect actors)")
    ->required();
  actor_cmd->add_option("--member", opt->member, "only this member (name)");
  add("queue", "pending, processing per node, retry schedule, failed",
      command::queue);
  auto trace_cmd = add("trace", "a message's path through the actors, from "
                                "its durable records and Redis",
                       command::trace);
  trace_cmd->add_option("MESSAGE_ID", opt->message_id, "the message's id")
    ->required();
  auto watch_cmd = add("watch", "members, busiest actors and the queue, "
                                "refreshed every second",
                       command::watch);
  watch_cmd->add_option("--count", opt->count,
                        "refreshes before it stops (default: until Ctrl-C)");

  auto console_cmd = app.add_subcommand(
    "console", "interactive inspection of a cluster (line editing, history "
               "in ~/.herald_history, tab completion, help)");
  add_connection_options(console_cmd, config_file, *opt);
  console_cmd->callback([opt, &config_file, &result] {
    result = console(config_file, *opt);
  });
}

} // namespace herald::ctl
