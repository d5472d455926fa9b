#include "ctl/message_commands.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "core/time.hpp"
#include "ctl/support.hpp"
#include "persistence/dead_letters.hpp"
#include "persistence/redis.hpp"

#include <CLI/CLI.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <vector>

namespace herald::ctl {

using persistence::message_record;

namespace {

/// Ids one `message requeue` takes on its command line; more go through
/// --all-failed.
constexpr size_t max_requeue_ids = 1000;

/// Longest --since duration.
constexpr int64_t max_since_days = 3650;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

int64_t to_ms(caf::timespan x) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(x).count();
}

/// RFC 3339 time, or "-" when `ms` is 0.
std::string time_or_dash(int64_t ms) {
  return ms == 0 ? "-" : iso8601_ms(ms);
}

std::string text_id(const std::string& raw) {
  return message_id::text_of(raw);
}

/// When delivery would give the message up for max-age (Unix ms; 0 when it
/// is not in delivery). Counts from the later of creation and requeue, as
/// actors/delivery.cpp does.
int64_t expires_ms(const message_record& m, const config::settings& cfg) {
  if (m.status != "queued" && m.status != "delivering"
      && m.status != "accepting")
    return 0;
  return std::max(m.created_ms, m.requeued_ms) + to_ms(cfg.delivery.max_age);
}

/// "3 of 5 since the last requeue", "unlimited", ...
std::string attempts_text(const message_record& m,
                          const config::settings& cfg) {
  auto text = std::to_string(m.attempts);
  if (m.requeued_ms != 0)
    text += " (" + std::to_string(m.attempts - m.requeued_attempts)
            + " since the requeue)";
  if (cfg.delivery.max_attempts == 0)
    text += "; delivery.max-attempts unlimited";
  else
    text += "; delivery.max-attempts "
            + std::to_string(cfg.delivery.max_attempts);
  return text;
}

/// A JSON writer with helpers for optional strings and times.
struct json_out {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};

  void str(const char* key, const std::string& value) {
    w.Key(key);
    if (value.empty())
      w.Null();
    else
      w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  }

  void time(const char* key, int64_t ms) {
    str(key, ms == 0 ? std::string{} : iso8601_ms(ms));
  }

  void uint(const char* key, uint64_t value) {
    w.Key(key);
    w.Uint64(value);
  }
};

/// The fields of GET /api/v1/messages/{id} (web/messages_route.cpp), then
/// what an operator needs besides: client, masked sender, requeue, expiry.
void write_record(json_out& out, const message_record& m,
                  const config::settings& cfg) {
  out.str("message_id", text_id(m.id));
  out.str("status", m.status);
  out.uint("attempts", m.attempts);
  out.time("created_at", m.created_ms);
  out.time("updated_at", m.updated_ms);
  out.time("next_attempt_at", m.next_attempt_ms);
  out.time("delivered_at", m.delivered_ms);
  out.str("last_error", m.last_error);
  out.str("client", m.client);
  out.str("sender_masked", m.sender_masked);
  out.time("requeued_at", m.requeued_ms);
  out.uint("requeued_attempts", m.requeued_attempts);
  out.time("expires_at", expires_ms(m, cfg));
}

// -- message show -------------------------------------------------------------

/// The id on the command line as 16 raw bytes, or an error that says what
/// an id looks like.
caf::expected<std::string> raw_id(const std::string& text) {
  auto id = message_id::parse(text);
  if (!id)
    return make_error(errc::invalid_input,
                      "'" + text.substr(0, 64)
                        + "' is not a message id (a UUID as clients get it, "
                          "e.g. 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b)");
  return id->raw();
}

int show(const std::string& config_file, const std::string& id_text,
         bool json) {
  auto id = raw_id(id_text);
  if (!id)
    return fail(render(id.error()));
  auto s = open_session(config_file);
  if (!s)
    return fail(render(s.error()));
  auto m = persistence::show_message(s->db, *id);
  if (!m && m.error() == errc::not_found)
    return fail("no message " + id_text
                + " in database " + s->cfg.mysql.database
                + "; check the id, or list dead letters with: heraldctl "
                  "message list --status failed");
  if (!m)
    return fail(render(m.error()));
  auto attempts = persistence::message_attempts(s->db, *id);
  if (!attempts)
    return fail(render(attempts.error()));
  if (json) {
    json_out out;
    out.w.StartObject();
    write_record(out, *m, s->cfg);
    out.w.Key("attempt_log");
    out.w.StartArray();
    for (const auto& a : *attempts) {
      out.w.StartObject();
      out.uint("attempt", a.attempt);
      out.time("at", a.at_ms);
      out.str("outcome", a.outcome);
      out.w.Key("http_status");
      if (a.http_status == 0)
        out.w.Null();
      else
        out.w.Uint(a.http_status);
      out.str("error", a.error);
      out.uint("latency_ms", a.latency_ms);
      out.str("node", a.node);
      out.w.EndObject();
    }
    out.w.EndArray();
    out.w.EndObject();
    std::cout << out.buf.GetString() << '\n';
    return 0;
  }
  auto line = [](const char* key, const std::string& value) {
    std::printf("%-13s %s\n", key, value.empty() ? "-" : value.c_str());
  };
  line("message", text_id(m->id));
  line("client", m->client);
  line("status", m->status);
  line("sender", m->sender_masked + " (masked)");
  line("attempts", attempts_text(*m, s->cfg));
  line("last error", m->last_error);
  line("created", time_or_dash(m->created_ms));
  line("updated", time_or_dash(m->updated_ms));
  line("next attempt", time_or_dash(m->next_attempt_ms));
  line("delivered", time_or_dash(m->delivered_ms));
  line("requeued", time_or_dash(m->requeued_ms));
  line("expires", time_or_dash(expires_ms(*m, s->cfg)));
  if (!attempts->empty()) {
    std::printf("\n%-4s %-24s %-9s %-5s %-8s %-16s %s\n", "#", "AT",
                "OUTCOME", "HTTP", "MS", "NODE", "ERROR");
    for (const auto& a : *attempts)
      std::printf("%-4u %-24s %-9s %-5s %-8u %-16s %s\n", a.attempt,
                  iso8601_ms(a.at_ms).c_str(), a.outcome.c_str(),
                  a.http_status == 0 ? "-"
                                     : std::to_string(a.http_status).c_str(),
                  a.latency_ms, a.node.c_str(),
                  a.error.empty() ? "-" : a.error.c_str());
  }
  if (m->status == "failed")
    std::printf("\nqueue it again with: heraldctl message requeue %s\n",
                text_id(m->id).c_str());
  return 0;
}

// -- message list -------------------------------------------------------------

int list(const std::string& config_file, const std::string& status,
         const std::string& since, const std::string& client, int64_t limit,
         bool json) {
  persistence::message_filter filter;
  filter.status = status;
  filter.client = client;
  if (!persistence::is_message_status(status))
    return fail("unknown status '" + status + "'; use one of "
                + persistence::message_statuses());
  if (limit < 1 || limit > static_cast<int64_t>(persistence::max_list_limit))
    return fail("--limit must be 1 to "
                + std::to_string(persistence::max_list_limit));
  filter.limit = static_cast<size_t>(limit);
  if (!since.empty()) {
    auto ms = parse_since(since, now_ms());
    if (!ms)
      return fail(render(ms.error()));
    filter.since_ms = *ms;
  }
  auto s = open_session(config_file);
  if (!s)
    return fail(render(s.error()));
  auto found = persistence::list_messages(s->db, filter);
  if (!found && found.error() == errc::not_found)
    return fail(render(found.error()) + "; see heraldctl client list");
  if (!found)
    return fail(render(found.error()));
  if (json) {
    json_out out;
    out.w.StartArray();
    for (const auto& m : *found) {
      out.w.StartObject();
      write_record(out, m, s->cfg);
      out.w.EndObject();
    }
    out.w.EndArray();
    std::cout << out.buf.GetString() << '\n';
    return 0;
  }
  std::printf("%-36s %-20s %-10s %-8s %-24s %s\n", "ID", "CLIENT", "STATUS",
              "ATTEMPTS", "UPDATED", "LAST ERROR");
  for (const auto& m : *found)
    std::printf("%-36s %-20s %-10s %-8u %-24s %s\n", text_id(m.id).c_str(),
                m.client.c_str(), m.status.c_str(), m.attempts,
                iso8601_ms(m.updated_ms).c_str(),
                m.last_error.empty() ? "-" : m.last_error.c_str());
  if (found->size() == filter.limit)
    std::cerr << "(the first " << filter.limit
              << "; narrow with --since or --client, or raise --limit)\n";
  return 0;
}

// -- message requeue ----------------------------------------------------------

struct requeue_options {
  std::vector<std::string> ids;
  bool all_failed = false;
  std::string since;
  std::string client;
  bool dry_run = false;
};

/// Requeues batches of raw ids (persistence::requeue_batch: MySQL, then
/// Redis, then the audit log) and counts what happened.
class requeuer {
public:
  explicit requeuer(session& s)
    : s_(s), who_(this_run_event("message.requeue")) {
    // nop
  }

  /// Connects to Redis first: when it is down, nothing is changed.
  int connect_redis() {
    auto redis = persistence::redis_connection::connect(s_.cfg.redis);
    if (!redis)
      return fail(render(redis.error())
                  + "; check the [redis] settings and that the server "
                    "runs. Nothing was requeued.");
    redis_.emplace(std::move(*redis));
    return 0;
  }

  /// Requeues the failed ones of `ids`; returns 0 or an exit code.
  int run(const std::vector<std::string>& ids) {
    auto report = persistence::requeue_batch(
      s_.db, redis_ ? &*redis_ : nullptr, s_.cfg.crypto.audit_key, who_, ids);
    if (!report)
      return fail_audited(s_.db, "message.requeue",
                          text_id(ids.front()) + " and "
                            + std::to_string(ids.size() - 1) + " more",
                          report.error(),
                          "; this batch was not requeued ("
                            + std::to_string(done)
                            + " before it were); run the command again");
    for (const auto& m : report->requeued)
      std::cout << "requeued " << text_id(m.id) << '\n';
    done += report->requeued.size();
    skipped += report->skipped;
    if (report->redis_error) {
      // MySQL has them queued: the recovery sweep puts them in Redis.
      if (redis_)
        std::cerr << "heraldctl: Redis did not take the requeued ids ("
                  << render(report->redis_error)
                  << "); they are queued in MySQL, and a running node's "
                     "recovery sweep queues them in Redis within "
                     "recovery.interval\n";
      redis_.reset();
      not_in_redis += report->requeued.size();
    }
    if (report->audit_error) {
      std::cerr << "heraldctl: the audit log did not record the requeue of "
                << report->requeued.size() << " messages (listed above): "
                << render(report->audit_error)
                << "; record it by hand and fix the audit log before going "
                   "on\n";
      return 3;
    }
    return 0;
  }

  /// The summary line on stderr.
  void summary() const {
    std::cerr << "requeued " << done << " messages";
    if (skipped > 0)
      std::cerr << "; " << skipped
                << " were no longer failed and were left alone";
    if (not_in_redis > 0)
      std::cerr << "; " << not_in_redis
                << " wait for the recovery sweep to reach Redis";
    std::cerr << '\n';
  }

  size_t done = 0;
  size_t skipped = 0;
  size_t not_in_redis = 0;

private:
  session& s_;
  audit_event who_;
  std::optional<persistence::redis_connection> redis_;
};

/// Prints the dry run's line for each of `found`.
void print_would(const std::vector<message_record>& found) {
  for (const auto& m : found)
    std::cout << "would requeue " << text_id(m.id) << " (client " << m.client
              << ", " << m.attempts << " attempts, "
              << (m.last_error.empty() ? "-" : m.last_error) << ")\n";
}

/// The refusal of `m` (empty when it can be requeued).
std::string refusal(const std::string& text,
                    const caf::expected<message_record>& m) {
  if (!m && m.error() == errc::not_found)
    return text + ": no such message";
  if (!m)
    return text + ": " + render(m.error());
  if (m->status != "failed")
    return text + ": is " + m->status;
  return {};
}

int requeue_ids(session& s, const requeue_options& opts) {
  std::vector<std::string> raw;
  std::set<std::string> seen;
  for (const auto& text : opts.ids) {
    auto id = raw_id(text);
    if (!id)
      return fail(render(id.error()) + "; nothing was requeued");
    if (seen.insert(*id).second)
      raw.push_back(*id);
  }
  std::vector<std::string> refused;
  std::vector<message_record> found;
  for (const auto& id : raw) {
    auto m = persistence::show_message(s.db, id);
    if (auto why = refusal(text_id(id), m); !why.empty())
      refused.push_back(why);
    else
      found.push_back(*m);
  }
  if (!refused.empty()) {
    std::string all;
    for (const auto& x : refused)
      all += "\n  " + x;
    return fail("only failed messages can be requeued; refusing:" + all
                + "\nnothing was requeued; drop those ids (heraldctl "
                  "message list --status failed lists the failed ones)");
  }
  if (opts.dry_run) {
    print_would(found);
    std::cout << "dry run: " << found.size()
              << " messages would be requeued; nothing changed\n";
    return 0;
  }
  requeuer r{s};
  if (auto code = r.connect_redis())
    return code;
  for (size_t i = 0; i < raw.size(); i += persistence::max_requeue_batch) {
    auto end = std::min(raw.size(), i + persistence::max_requeue_batch);
    if (auto code = r.run({raw.begin() + i, raw.begin() + end}))
      return code;
  }
  r.summary();
  return 0;
}

int requeue_all(session& s, const requeue_options& opts, int64_t since_ms) {
  std::optional<requeuer> r;
  if (!opts.dry_run) {
    r.emplace(s);
    if (auto code = r->connect_redis())
      return code;
  }
  size_t seen = 0;
  std::string after;
  for (;;) {
    auto ids = persistence::failed_ids(s.db, since_ms, opts.client, after,
                                       persistence::max_requeue_batch);
    if (!ids && ids.error() == errc::not_found)
      return fail(render(ids.error()) + "; see heraldctl client list");
    if (!ids)
      return fail(render(ids.error()) + "; "
                  + (r ? std::to_string(r->done) : std::string{"0"})
                  + " requeued so far; run it again for the rest");
    if (ids->empty())
      break;
    after = ids->back();
    seen += ids->size();
    if (opts.dry_run) {
      auto found = persistence::failed_among(s.db, *ids);
      if (!found)
        return fail(render(found.error()));
      print_would(*found);
      continue;
    }
    if (auto code = r->run(*ids))
      return code;
    std::cerr << "... " << r->done << " requeued\n";
  }
  if (opts.dry_run) {
    std::cout << "dry run: " << seen
              << " failed messages would be requeued; nothing changed\n";
    return 0;
  }
  r->summary();
  return 0;
}

int requeue(const std::string& config_file, const requeue_options& opts) {
  if (opts.all_failed == !opts.ids.empty())
    return fail("name the messages to requeue (IDs) or pass --all-failed, "
                "not both; see heraldctl message requeue --help");
  if (!opts.all_failed && (!opts.since.empty() || !opts.client.empty()))
    return fail("--since and --client select messages for --all-failed; "
                "with IDs, leave them out");
  if (opts.ids.size() > max_requeue_ids)
    return fail("at most " + std::to_string(max_requeue_ids)
                + " ids per command; use --all-failed with --since and "
                  "--client for more");
  int64_t since_ms = 0;
  if (!opts.since.empty()) {
    auto ms = parse_since(opts.since, now_ms());
    if (!ms)
      return fail(render(ms.error()));
    since_ms = *ms;
  }
  auto s = open_session(config_file);
  if (!s)
    return fail(render(s.error()));
  return opts.all_failed ? requeue_all(*s, opts, since_ms)
                         : requeue_ids(*s, opts);
}

} // namespace

caf::expected<int64_t> parse_since(const std::string& text, int64_t now_ms) {
  auto bad = [&text] {
    return make_error(errc::invalid_input,
                      "--since '" + text.substr(0, 64)
                        + "': use a duration back from now (90s, 30m, 12h, "
                          "7d) or a UTC time (2026-01-31, "
                          "2026-01-31T12:00:00Z)");
  };
  if (text.empty() || text.size() > 32)
    return bad();
  // A duration: digits and one unit.
  auto unit = text.back();
  auto digits = text.substr(0, text.size() - 1);
  if (!digits.empty() && digits.size() <= 10
      && digits.find_first_not_of("0123456789") == std::string::npos) {
    int64_t n = std::stoll(digits);
    int64_t per_unit = 0;
    switch (unit) {
      case 's':
        per_unit = 1000;
        break;
      case 'm':
        per_unit = 60 * 1000;
        break;
      case 'h':
        per_unit = 3600 * 1000;
        break;
      case 'd':
        per_unit = 86400 * 1000;
        break;
      default:
        return bad();
    }
    if (n * per_unit > max_since_days * 86400 * 1000)
      return make_error(errc::invalid_input,
                        "--since '" + text + "': at most "
                          + std::to_string(max_since_days) + " days back");
    return now_ms - n * per_unit;
  }
  // A UTC time; the date alone means its midnight.
  std::tm tm{};
  const char* rest = nullptr;
  for (auto format : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                      "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"}) {
    tm = std::tm{};
    rest = strptime(text.c_str(), format, &tm);
    if (rest != nullptr && (*rest == 0 || std::string{rest} == "Z"))
      break;
    rest = nullptr;
  }
  if (rest == nullptr || tm.tm_year < 70)
    return bad();
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

void add_message_commands(CLI::App& app, std::string& config_file,
                          int& result) {
  // CLI11 binds references into the options; the callbacks keep them
  // alive as long as the app.
  struct options {
    std::string id;
    bool json = false;
    std::string status;
    std::string since;
    std::string client;
    int64_t limit = 100;
    requeue_options requeue;
  };
  auto opts = std::make_shared<options>();
  auto* file = &config_file;
  auto* code = &result;
  auto message_cmd = app.add_subcommand(
    "message", "inspect messages and queue failed ones again (dead letters)");
  message_cmd->require_subcommand(1);
  auto add_config_option = [&config_file](CLI::App* cmd) {
    cmd->add_option("--config-file", config_file,
                    "node configuration (INI); default: $HERALD_CONFIG");
  };

  auto show_cmd = message_cmd->add_subcommand(
    "show", "one message: status, client, times, attempts, last error, "
            "expiry, the masked sender (never the body or the number)");
  add_config_option(show_cmd);
  show_cmd->add_option("ID", opts->id,
                       "the message id, as the client got it (UUID)")
    ->required();
  show_cmd->add_flag("--json", opts->json, "print JSON");
  show_cmd->callback(
    [opts, file, code] { *code = show(*file, opts->id, opts->json); });

  auto list_cmd = message_cmd->add_subcommand(
    "list", "messages in one status, newest change first");
  add_config_option(list_cmd);
  list_cmd
    ->add_option("--status", opts->status,
                 std::string{"accepting, queued, delivering, delivered, "
                             "failed or rejected"})
    ->required();
  list_cmd->add_option("--since", opts->since,
                       "changed to it since: a duration back (90s, 30m, 12h, "
                       "7d) or a UTC time (2026-01-31T12:00:00Z)");
  list_cmd->add_option("--client", opts->client, "only this client's");
  list_cmd
    ->add_option("--limit", opts->limit,
                 "rows at most (1 to "
                   + std::to_string(persistence::max_list_limit) + ")")
    ->capture_default_str();
  list_cmd->add_flag("--json", opts->json, "print JSON");
  list_cmd->callback([opts, file, code] {
    *code = list(*file, opts->status, opts->since, opts->client, opts->limit,
                 opts->json);
  });

  auto requeue_cmd = message_cmd->add_subcommand(
    "requeue", "queue failed messages for delivery again (audited)");
  add_config_option(requeue_cmd);
  requeue_cmd->add_option("ID", opts->requeue.ids,
                          "failed messages (UUIDs), at most "
                            + std::to_string(max_requeue_ids));
  requeue_cmd->add_flag("--all-failed", opts->requeue.all_failed,
                        "every failed message (with --since, --client)");
  requeue_cmd->add_option("--since", opts->requeue.since,
                          "with --all-failed: failed since (90s, 30m, 12h, "
                          "7d, or a UTC time)");
  requeue_cmd->add_option("--client", opts->requeue.client,
                          "with --all-failed: only this client's");
  requeue_cmd->add_flag("--dry-run", opts->requeue.dry_run,
                        "print what would be requeued; change nothing");
  requeue_cmd->footer(
    "Only messages in status failed are requeued (a message that ran out of\n"
    "delivery.max-attempts or delivery.max-age is failed too, with last\n"
    "error \"expired: ...\"); IDs in any other status, or unknown, refuse\n"
    "the whole command. Each message is set back to queued in MySQL, due\n"
    "now; delivery.max-age and delivery.max-attempts count again from the\n"
    "requeue (attempt numbers go on, the attempt history stays); then its\n"
    "id is pushed to the Redis pending queue. Should Redis fail after\n"
    "MySQL, a running node's recovery sweep queues it within\n"
    "recovery.interval. Every requeued message is one audit event\n"
    "(message.requeue). --all-failed works in batches of "
    + std::to_string(persistence::max_requeue_batch)
    + ", progress on stderr.");
  requeue_cmd->callback(
    [opts, file, code] { *code = requeue(*file, opts->requeue); });
}

} // namespace herald::ctl
