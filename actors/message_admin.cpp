#include "actors/message_admin.hpp"
#include "actors/detail/instrument.hpp"

#include "core/errc.hpp"
#include "core/message_id.hpp"
#include "core/time.hpp"
#include "persistence/audit.hpp"
#include "persistence/certificates.hpp"
#include "persistence/cluster_view.hpp"
#include "persistence/crypto.hpp"
#include "persistence/dead_letters.hpp"
#include "persistence/delivery_store.hpp"
#include "persistence/message_queue.hpp"
#include "persistence/message_stats.hpp"
#include "persistence/portal_store.hpp"
#include "persistence/reconnect.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <map>

namespace herald {

namespace {

/// The overview's window: the last hour, per minute.
constexpr size_t overview_minutes = 60;

/// Certificates that expire within this are listed on the overview.
constexpr int64_t expiry_warning_s = 30 * 86400;

template <class F>
auto with_db(message_admin_state& st, F f) {
  return persistence::with_connection(st.db, st.cfg.mysql, f);
}

template <class F>
auto with_redis(message_admin_state& st, F f) {
  return persistence::with_connection(st.redis, st.cfg.redis, f);
}

/// "YYYY-MM-DD HH:MM:SS.fff" (UTC) of Unix ms, as the pages show times.
std::string shown_time(int64_t unix_ms) {
  return unix_ms == 0 ? std::string{} : persistence::sql_datetime(unix_ms);
}

/// Reveals and requeues are audited first or not done at all.
caf::error require_audit_key(const message_admin_state& st) {
  if (st.cfg.audit_key.empty())
    return make_error(errc::invalid_config,
                      "crypto.audit-key-file is not set: nothing is revealed "
                      "or requeued without an audit row");
  return caf::none;
}

caf::expected<persistence::stored_detail>
find_message(message_admin_state& st, const std::string& id) {
  return with_db(st, [&](auto& db) -> caf::expected<persistence::stored_detail> {
    auto clients = persistence::all_clients(db);
    if (!clients)
      return clients.error();
    auto found = persistence::find_any_message(db, *clients, id);
    if (!found)
      return found.error();
    if (!*found)
      return make_error(errc::not_found, "no such message");
    return std::move(**found);
  });
}

caf::expected<message_detail> reveal(message_admin_state& st,
                                     const std::string& admin,
                                     const std::string& id) {
  if (auto err = require_audit_key(st))
    return err;
  auto found = find_message(st, id);
  if (!found)
    return found.error();
  audit_event event;
  event.actor = admin;
  event.action = "message.reveal";
  event.target = found->detail.message.id;
  event.source = st.cfg.source;
  event.detail = "client " + found->detail.message.client;
  // In the chain first: a body no row accounts for is never shown.
  auto audited = with_db(st, [&](auto& db) {
    return persistence::done(
      persistence::append_audit(db, st.cfg.audit_key, event));
  });
  if (!audited)
    return audited.error();
  auto payload = persistence::open_payload(
    *st.cfg.keys->current(), {found->key_id, found->nonce, found->ciphertext},
    id);
  if (!payload)
    return payload.error();
  // The body only, never the full sender number.
  found->detail.body = std::move(payload->second);
  return std::move(found->detail);
}

caf::expected<failed_page> failed_messages(message_admin_state& st,
                                           const failed_filter& filter) {
  return with_db(st, [&](auto& db) -> caf::expected<failed_page> {
    auto clients = persistence::all_clients(db);
    if (!clients)
      return clients.error();
    std::map<std::string, std::string> owners;
    for (const auto& c : *clients)
      owners.emplace(c.name, c.owner);
    persistence::message_filter query{"failed", filter.since_ms, filter.client,
                                      static_cast<size_t>(filter.limit) + 1};
    auto records = persistence::list_messages(db, query);
    if (!records) {
      // An unknown client is a bad search, not a missing page.
      if (records.error() == errc::not_found)
        return make_error(errc::invalid_input, render(records.error()));
      return records.error();
    }
    failed_page result;
    for (auto& m : *records) {
      if (result.rows.size() == filter.limit) {
        result.more = true;
        break;
      }
      failed_message row;
      row.message.id = message_id::text_of(m.id);
      row.message.client = m.client;
      row.message.owner = owners[m.client];
      row.message.sender_masked = m.sender_masked;
      row.message.status = m.status;
      row.message.attempts = m.attempts;
      row.message.created_at = shown_time(m.created_ms);
      row.message.updated_at = shown_time(m.updated_ms);
      row.last_error = std::move(m.last_error);
      result.rows.push_back(std::move(row));
    }
    return result;
  });
}

caf::expected<requeue_result> requeue(message_admin_state& st,
                                      const requeue_request& req) {
  if (auto err = require_audit_key(st))
    return err;
  return with_db(st, [&](auto& db) -> caf::expected<requeue_result> {
    auto ids = req.ids;
    if (req.all_matching) {
      auto matching = persistence::failed_ids(
        db, req.filter.since_ms, req.filter.client, {},
        persistence::max_requeue_batch);
      if (!matching) {
        if (matching.error() == errc::not_found)
          return make_error(errc::invalid_input, render(matching.error()));
        return matching.error();
      }
      ids = std::move(*matching);
    }
    // Without Redis the requeue still holds: the recovery sweep queues
    // what MySQL has queued.
    auto redis_err = persistence::ensure_connected(st.redis, st.cfg.redis);
    audit_event who;
    who.actor = req.admin;
    who.source = st.cfg.source;
    auto report = persistence::requeue_batch(
      db, redis_err ? nullptr : &*st.redis, st.cfg.audit_key, who, ids);
    if (!report)
      return report.error();
    requeue_result result;
    for (const auto& m : report->requeued)
      result.requeued.push_back(message_id::text_of(m.id));
    result.skipped = report->skipped;
    if (report->redis_error) {
      st.redis.reset();
      result.warning = "Redis did not take the ids; the recovery sweep "
                       "queues them within a minute";
    }
    if (report->audit_error) {
      spdlog::error("message-admin failed to audit a requeue: {}",
                    render(report->audit_error));
      result.warning += std::string{result.warning.empty() ? "" : "; "}
                        + "the audit log did not record the requeue";
    }
    return result;
  });
}

caf::expected<audit_status> verify(message_admin_state& st) {
  auto now = unix_now_ms();
  auto reuse_ms
    = std::chrono::duration_cast<std::chrono::milliseconds>(st.cfg.verify_reuse)
        .count();
  if (st.verified && now - st.verified->checked_at_ms < reuse_ms)
    return *st.verified;
  auto check = with_db(st, [&](auto& db) {
    return persistence::verify_audit(db, st.cfg.audit_key);
  });
  if (!check)
    return check.error();
  st.verified = audit_status{check->rows, check->first_broken, check->why,
                             now};
  return *st.verified;
}

caf::expected<overview> gather_overview(message_admin_state& st) {
  overview result;
  auto now_ms = unix_now_ms();
  auto series = with_db(st, [&](auto& db) {
    return persistence::messages_per_minute(db, now_ms / 1000,
                                            overview_minutes);
  });
  if (!series)
    return series.error();
  result.first_minute = series->first_minute;
  result.accepted = std::move(series->accepted);
  result.delivered = std::move(series->delivered);
  result.failed = std::move(series->failed);
  auto certs = with_db(st, [&](auto& db) {
    return persistence::list_certificates(db, "active", expiry_warning_s);
  });
  if (!certs)
    return certs.error();
  for (auto& c : *certs)
    result.expiring.push_back(
      {std::move(c.serial), std::move(c.subject), std::move(c.client),
       c.not_after});
  auto queues = with_redis(st, [&](auto& redis) -> caf::expected<bool> {
    auto pending = persistence::pending_length(redis);
    if (!pending)
      return pending.error();
    auto retries = persistence::retry_count(redis);
    if (!retries)
      return retries.error();
    auto members = persistence::read_members(redis);
    if (!members)
      return members.error();
    result.queue_depth = *pending;
    result.retry_backlog = *retries;
    for (auto& m : *members)
      result.nodes.push_back(
        {std::move(m.name), std::move(m.roles), m.healthy,
         m.heartbeat_ms == 0 ? -1 : (now_ms - m.heartbeat_ms) / 1000,
         m.in_flight});
    return true;
  });
  if (!queues)
    return queues.error();
  return result;
}

/// Logs failures other than the expected ones (not found, bad input).
template <class T>
caf::result<T> answer(caf::expected<T> x, const char* what) {
  if (!x) {
    if (!(x.error() == errc::not_found) && !(x.error() == errc::invalid_input))
      spdlog::warn("message-admin failed to {}: {}", what, render(x.error()));
    return x.error();
  }
  return std::move(*x);
}

} // namespace

caf::error validate(const message_admin_config& cfg) {
  if (cfg.keys == nullptr)
    return make_error(errc::invalid_config, "message-admin: no data keys");
  return caf::none;
}

message_admin_actor::behavior_type
message_admin(message_admin_pointer self, message_admin_config cfg) {
  self->state.cfg = std::move(cfg);
  auto& st = self->state;
  return instrumented(self,
    [&st](page_atom,
          const user_message_filter& filter) -> caf::result<message_page> {
      return answer(with_db(st,
                            [&](auto& db) -> caf::expected<message_page> {
                              auto clients = persistence::all_clients(db);
                              if (!clients)
                                return clients.error();
                              return persistence::find_all_messages(
                                db, *clients, filter);
                            }),
                    "list messages");
    },
    [&st](caf::get_atom,
          const std::string& id) -> caf::result<message_detail> {
      auto found = find_message(st, id);
      if (!found)
        return answer<message_detail>(found.error(), "read a message");
      return std::move(found->detail);
    },
    [&st](reveal_atom, const std::string& admin,
          const std::string& id) -> caf::result<message_detail> {
      return answer(reveal(st, admin, id), "reveal a message");
    },
    [&st](failed_atom,
          const failed_filter& filter) -> caf::result<failed_page> {
      return answer(failed_messages(st, filter), "list failed messages");
    },
    [&st](requeue_atom,
          const requeue_request& req) -> caf::result<requeue_result> {
      return answer(requeue(st, req), "requeue messages");
    },
    [&st](audit_atom, const audit_filter& filter) -> caf::result<audit_page> {
      return answer(with_db(st,
                            [&](auto& db) {
                              return persistence::find_audit_rows(db, filter);
                            }),
                    "read the audit log");
    },
    [&st](verify_atom) -> caf::result<audit_status> {
      return answer(verify(st), "verify the audit chain");
    },
    [&st](overview_atom) -> caf::result<overview> {
      return answer(gather_overview(st), "gather the overview");
    });
}

message_admin_actor spawn_message_admin(caf::actor_system& sys,
                                        message_admin_config cfg) {
  return sys.spawn<caf::detached>(message_admin, std::move(cfg));
}

} // namespace herald
