#pragma once

// Every message type that Herald actors exchange, with its 0.17-style
// inspect() and a dotted type name. All are registered once, in
// register_message_types(), which herald_config calls on every node.
// The ground floor: persistence, net, config and actors include it; it
// includes nothing of theirs.

#include <caf/actor.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald {

// -- health -------------------------------------------------------------------

/// The outcome of probing one dependency (mysql, redis).
struct dependency_status {
  std::string name;
  bool up = false;
  /// Why the dependency is down; empty when up.
  std::string error;
  /// How long the probe took.
  caf::timespan latency{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dependency_status& x) {
  return f(caf::meta::type_name("herald.dependency_status"), x.name, x.up,
           x.error, x.latency);
}

/// The health of a node's dependencies at one point in time.
struct health_report {
  std::vector<dependency_status> dependencies;
  /// When the probe finished; the epoch before the first probe.
  caf::timestamp checked_at{};

  /// True once probed and every dependency is up.
  bool healthy() const;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, health_report& x) {
  return f(caf::meta::type_name("herald.health_report"), x.dependencies,
           x.checked_at);
}

// -- submission -----------------------------------------------------------------

/// A validated submission, already encrypted and hashed: no plaintext body
/// or sender number ever travels between actors or nodes.
struct stored_message {
  /// UUIDv7, 16 raw bytes; its timestamp is the creation time.
  std::string id;
  uint64_t client_id = 0;
  /// HMAC-SHA-256(pepper, sender number), 32 raw bytes.
  std::string sender_hash;
  /// Display form, e.g. "+49****78" (persistence::mask_e164).
  std::string sender_masked;
  uint32_t key_id = 0;
  std::string nonce;
  /// AES-256-GCM ciphertext plus tag; the message id is the associated data.
  std::string ciphertext;
  /// Client-chosen Idempotency-Key; empty when none was sent.
  std::string idempotency_key;
  /// persistence::request_hash of sender number and body (keyed), to tell a
  /// replay from a reused key.
  std::string request_hash;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stored_message& x) {
  return f(caf::meta::type_name("herald.stored_message"), x.id, x.client_id,
           x.sender_hash, x.sender_masked, x.key_id, x.nonce, x.ciphertext,
           x.idempotency_key, x.request_hash);
}

/// How a submission ended.
enum class submit_outcome : uint8_t {
  /// Stored and queued: a new message.
  accepted,
  /// Same client, key and payload as an earlier message: that one's id.
  replayed,
  /// The earlier message with this key is still being stored.
  in_progress,
  /// The key was used before with a different payload.
  key_reused,
};

/// Returns the enumerator name of `x`.
std::string to_string(submit_outcome x);

/// The answer to one submission.
struct submit_result {
  submit_outcome outcome = submit_outcome::accepted;
  /// 16 raw bytes; for replays the original message's id.
  std::string message_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, submit_result& x) {
  return f(caf::meta::type_name("herald.submit_result"), x.outcome,
           x.message_id);
}

/// What a client may see of one of its messages.
struct message_status {
  std::string message_id;
  std::string status;
  uint32_t attempts = 0;
  /// RFC 3339 UTC times; empty when not (yet) set.
  std::string created_at;
  std::string updated_at;
  std::string next_attempt_at;
  std::string delivered_at;
  std::string last_error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_status& x) {
  return f(caf::meta::type_name("herald.message_status"), x.message_id,
           x.status, x.attempts, x.created_at, x.updated_at,
           x.next_attempt_at, x.delivered_at, x.last_error);
}

/// What one recovery sweep did.
struct sweep_report {
  /// False when another node held the sweep lock.
  bool ran = false;
  /// Queued messages whose ids Redis had lost, queued again.
  uint64_t requeued = 0;
  /// Messages stuck in "accepting", rejected.
  uint64_t rejected = 0;
  /// Expired idempotency keys deleted.
  uint64_t keys_purged = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sweep_report& x) {
  return f(caf::meta::type_name("herald.sweep_report"), x.ran, x.requeued,
           x.rejected, x.keys_purged);
}

// -- delivery -------------------------------------------------------------------

/// Ids just put in the pending queue (canonical UUID text): the queue and the
/// retry-timer tell delivery actors, so that work reaches them by message.
/// A hint, never the only copy: Redis holds the ids, so a lost `work` loses
/// nothing (the delivery actors' idle poll finds them).
struct work {
  std::vector<std::string> ids;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, work& x) {
  return f(caf::meta::type_name("herald.work"), x.ids);
}

/// Ids (canonical UUID text) whose attempt failed, to be tried again at
/// `due_ms` (Unix ms): a delivery actor asks the retry-timer, which records
/// them in the durable schedule (off this node's processing list) and arms
/// a wake-up when the time is near.
struct schedule_retry {
  std::vector<std::string> ids;
  int64_t due_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, schedule_retry& x) {
  return f(caf::meta::type_name("herald.schedule_retry"), x.ids, x.due_ms);
}

/// Due times found in one read of the durable retry schedule, from just
/// after a time to `scanned_to_ms`: what the retry-timer arms.
struct retry_page {
  /// Distinct due times (Unix ms), ascending.
  std::vector<int64_t> due_ms;
  /// Every scheduled retry due after the page's start and at or before
  /// this time has its due time in `due_ms`.
  int64_t scanned_to_ms = 0;
  /// False when the read stopped at its limit before the end of the range
  /// asked for: read on from `scanned_to_ms`.
  bool complete = true;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, retry_page& x) {
  return f(caf::meta::type_name("herald.retry_page"), x.due_ms,
           x.scanned_to_ms, x.complete);
}

/// A message the receiver role got, re-encrypted under its own keys.
struct received_message {
  /// 16 raw bytes.
  std::string id;
  std::string sender_hash;
  std::string sender_masked;
  uint32_t key_id = 0;
  std::string nonce;
  std::string ciphertext;
  int64_t created_ms = 0;
  uint32_t attempt = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, received_message& x) {
  return f(caf::meta::type_name("herald.received_message"), x.id,
           x.sender_hash, x.sender_masked, x.key_id, x.nonce, x.ciphertext,
           x.created_ms, x.attempt);
}

// -- HTTP ------------------------------------------------------------------------

/// A complete HTTP request as the routes see it, without any Beast types:
/// the I/O threads hand it to the ingress actor.
struct http_request {
  /// The ingress's id of this request, to trace it through the actors; 0
  /// until the ingress took it.
  uint64_t id = 0;
  std::string method;
  /// Path plus optional query, as sent.
  std::string target;
  /// Header fields in arrival order; names in lower case.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// SHA-256 fingerprint (lower-case hex) of the verified client
  /// certificate; empty on plain-HTTP listeners.
  std::string client_fingerprint;
  /// Whether that certificate is a node's (extended key usage serverAuth).
  bool client_is_node = false;
  /// Peer address, for logs and the audit trail.
  std::string remote_address;

  /// Returns the first value of header `name` (lower case), or nullptr.
  const std::string* header(std::string_view name) const {
    for (const auto& [key, value] : headers)
      if (key == name)
        return &value;
    return nullptr;
  }

  /// The target without its query string.
  std::string_view path() const {
    std::string_view result{target};
    return result.substr(0, result.find('?'));
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_request& x) {
  return f(caf::meta::type_name("herald.http_request"), x.id, x.method, x.target,
           x.headers, x.body, x.client_fingerprint, x.client_is_node,
           x.remote_address);
}

/// A response; the server adds Content-Length, Date-free framing, and
/// keep-alive handling.
struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_response& x) {
  return f(caf::meta::type_name("herald.http_response"), x.status,
           x.content_type, x.body, x.headers);
}

// -- audit ----------------------------------------------------------------------

/// One audited action, as the hash-chained audit log records it: an
/// administrative change (heraldctl, later the portal) or what a node did
/// or saw (start, stop, key and CRL reloads, client changes). Never holds a
/// secret or a message body.
struct audit_event {
  /// Who: an operating system or portal user, or "heraldd" for a node.
  std::string actor;
  /// What, e.g. "cert.revoke" or "node.start".
  std::string action;
  /// On what, e.g. a client name or a serial.
  std::string target;
  /// "ok" or "failed".
  std::string outcome = "ok";
  /// From where, e.g. "heraldctl@host" or "heraldd@node-1" (the node).
  std::string source;
  /// Anything else worth keeping (never a secret).
  std::string detail;
  /// When it happened, Unix milliseconds; 0: when it is written. A node
  /// stamps its events as they happen, so a batch written after an outage
  /// keeps their times (the chain's order is the order of writing).
  int64_t at_ms = 0;
  /// A UUID the node's audit actor gives the event; the chain stores an id
  /// once, so an event sent again (after an answer was lost) is no
  /// duplicate. Empty for heraldctl's own rows.
  std::string id{};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, audit_event& x) {
  return f(caf::meta::type_name("herald.audit_event"), x.actor, x.action,
           x.target, x.outcome, x.source, x.detail, x.at_ms, x.id);
}

// -- portal -----------------------------------------------------------------------

/// A login attempt at the portal.
struct login_request {
  std::string username;
  /// Never logged, never stored; dropped once checked.
  std::string password;
  /// The browser's IP address (without port): failures count per address.
  std::string remote_ip;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, login_request& x) {
  return f(caf::meta::type_name("herald.login_request"), x.username,
           x.password, x.remote_ip);
}

/// A portal user as a session sees it.
struct portal_user {
  uint64_t id = 0;
  std::string name;
  /// "admin" or "user".
  std::string role;
  /// users.session_generation: a password, role or status change bumps it
  /// and so ends every session issued before.
  uint32_t generation = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, portal_user& x) {
  return f(caf::meta::type_name("herald.portal_user"), x.id, x.name, x.role,
           x.generation);
}

/// The outcome of a login attempt. The reason stays on the server (audit
/// log); the browser learns only ok, refused or locked.
struct login_result {
  /// "ok", "refused" (wrong name or password, disabled) or "locked" (too
  /// many failures of the account or the address).
  std::string outcome;
  /// The user when the outcome is "ok".
  portal_user user;
  /// Seconds until a lock ends.
  int64_t retry_after_s = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, login_result& x) {
  return f(caf::meta::type_name("herald.login_result"), x.outcome, x.user,
           x.retry_after_s);
}

/// What a verified session token claims; the portal checks it against
/// the revoked sessions and the user's current generation.
struct session_claims {
  uint64_t user_id = 0;
  uint32_t generation = 0;
  /// The token id (jti): one per login, kept across refreshes, so a
  /// logout revokes the session whatever token of it a browser holds.
  std::string token_id;
  /// When the session ends at the latest (Unix ms): a revocation need not
  /// be kept longer.
  int64_t ends_at_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_claims& x) {
  return f(caf::meta::type_name("herald.session_claims"), x.user_id,
           x.generation, x.token_id, x.ends_at_ms);
}

/// A search of a user's messages: every field optional (empty / 0).
struct user_message_filter {
  /// One of the user's clients, by id.
  uint64_t client_id = 0;
  std::string status;
  /// HMAC of the sender number under the pepper (32 raw bytes): an exact
  /// match without the number ever reaching the database.
  std::string sender_hash;
  /// created_at bounds, "YYYY-MM-DD HH:MM:SS" (UTC): from inclusive, to
  /// exclusive.
  std::string from;
  std::string to;
  /// Keyset cursor: the created_at ("YYYY-MM-DD HH:MM:SS.ffffff") and raw
  /// id of the last row of the previous page.
  std::string after_created;
  std::string after_id;
  /// Rows wanted.
  uint32_t limit = 50;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_message_filter& x) {
  return f(caf::meta::type_name("herald.user_message_filter"), x.client_id,
           x.status, x.sender_hash, x.from, x.to, x.after_created, x.after_id,
           x.limit);
}

/// One message in a user's list; never its body or full sender number.
struct message_row {
  /// Text form (UUID).
  std::string id;
  std::string client;
  /// E.g. "+49****78".
  std::string sender_masked;
  std::string status;
  uint32_t attempts = 0;
  /// "YYYY-MM-DD HH:MM:SS.ffffff" (UTC), as stored: also the cursor.
  std::string created_at;
  std::string updated_at;
  /// The name of the client's owner; the admin pages show it (empty when
  /// the client has none).
  std::string owner{};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_row& x) {
  return f(caf::meta::type_name("herald.message_row"), x.id, x.client,
           x.sender_masked, x.status, x.attempts, x.created_at, x.updated_at,
           x.owner);
}

/// A client application a user owns.
struct owned_client {
  uint64_t id = 0;
  std::string name;
  /// Its owner's name; set for the admin pages, which list every client.
  std::string owner{};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, owned_client& x) {
  return f(caf::meta::type_name("herald.owned_client"), x.id, x.name,
           x.owner);
}

/// One page of a user's messages, newest first.
struct message_page {
  std::vector<message_row> rows;
  /// Whether rows follow the last one.
  bool more = false;
  /// The user's clients, for the filter form.
  std::vector<owned_client> clients;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_page& x) {
  return f(caf::meta::type_name("herald.message_page"), x.rows, x.more,
           x.clients);
}

/// One delivery attempt of a message.
struct attempt_row {
  uint32_t attempt = 0;
  std::string attempted_at;
  /// delivered, retry, failed or expired.
  std::string outcome;
  /// 0 when no HTTP answer came.
  uint32_t http_status = 0;
  std::string error;
  uint32_t latency_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attempt_row& x) {
  return f(caf::meta::type_name("herald.attempt_row"), x.attempt,
           x.attempted_at, x.outcome, x.http_status, x.error, x.latency_ms);
}

/// A message of a user with its decrypted body and every attempt.
struct message_detail {
  message_row message;
  std::string body;
  std::string delivered_at;
  std::string next_attempt_at;
  std::string last_error;
  std::vector<attempt_row> attempts;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_detail& x) {
  return f(caf::meta::type_name("herald.message_detail"), x.message, x.body,
           x.delivered_at, x.next_attempt_at, x.last_error, x.attempts);
}

// -- admin pages ----------------------------------------------------------------

/// Which failed messages the admin pages list or requeue: every field
/// optional (empty / 0).
struct failed_filter {
  /// A client's name.
  std::string client;
  /// Failed at or after this time (updated_at, Unix ms).
  int64_t since_ms = 0;
  /// Rows wanted.
  uint32_t limit = 100;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, failed_filter& x) {
  return f(caf::meta::type_name("herald.failed_filter"), x.client, x.since_ms,
           x.limit);
}

/// One failed message; never its body or full sender number.
struct failed_message {
  message_row message;
  std::string last_error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, failed_message& x) {
  return f(caf::meta::type_name("herald.failed_message"), x.message,
           x.last_error);
}

/// Failed messages, newest failure first.
struct failed_page {
  std::vector<failed_message> rows;
  /// Whether more match than the limit.
  bool more = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, failed_page& x) {
  return f(caf::meta::type_name("herald.failed_page"), x.rows, x.more);
}

/// An admin's requeue: the failed ones among `ids` (raw), or, when
/// `all_matching`, the first persistence::max_requeue_batch failed
/// messages matching `filter`.
struct requeue_request {
  /// The admin's user name, for the audit log.
  std::string admin;
  std::vector<std::string> ids;
  bool all_matching = false;
  failed_filter filter;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, requeue_request& x) {
  return f(caf::meta::type_name("herald.requeue_request"), x.admin, x.ids,
           x.all_matching, x.filter);
}

/// What a requeue did.
struct requeue_result {
  /// The messages queued again (text ids).
  std::vector<std::string> requeued;
  /// Ids that were not failed (any more) and were left alone.
  uint64_t skipped = 0;
  /// A problem after the requeue committed (Redis or the audit log), for
  /// the admin to see; empty when none.
  std::string warning;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, requeue_result& x) {
  return f(caf::meta::type_name("herald.requeue_result"), x.requeued,
           x.skipped, x.warning);
}

/// A search of the audit log: every field optional (empty / 0).
struct audit_filter {
  std::string actor;
  /// Actions starting with this ("message." finds every message action).
  std::string action_prefix;
  std::string target;
  /// "ok" or "failed".
  std::string outcome;
  /// Row times, "YYYY-MM-DD HH:MM:SS" (UTC): from inclusive, to exclusive.
  std::string from;
  std::string to;
  /// Keyset cursor: rows below this id (0: from the newest).
  uint64_t before_id = 0;
  uint32_t limit = 50;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, audit_filter& x) {
  return f(caf::meta::type_name("herald.audit_filter"), x.actor,
           x.action_prefix, x.target, x.outcome, x.from, x.to, x.before_id,
           x.limit);
}

/// One row of the audit log as the admin pages show it.
struct audit_row {
  uint64_t id = 0;
  /// "YYYY-MM-DD HH:MM:SS.ffffff" (UTC).
  std::string at;
  audit_event event;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, audit_row& x) {
  return f(caf::meta::type_name("herald.audit_row"), x.id, x.at, x.event);
}

/// A page of the audit log, newest first.
struct audit_page {
  std::vector<audit_row> rows;
  bool more = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, audit_page& x) {
  return f(caf::meta::type_name("herald.audit_page"), x.rows, x.more);
}

/// The audit chain's verification, as of `checked_at_ms`.
struct audit_status {
  uint64_t rows = 0;
  /// The first row whose chain breaks; 0: every row verified.
  uint64_t first_broken = 0;
  std::string why;
  int64_t checked_at_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, audit_status& x) {
  return f(caf::meta::type_name("herald.audit_status"), x.rows,
           x.first_broken, x.why, x.checked_at_ms);
}

/// A cluster member as the overview shows it.
struct node_health {
  std::string name;
  std::vector<std::string> roles;
  bool healthy = false;
  /// Seconds since its last heartbeat; -1 when its record is unreadable.
  int64_t heartbeat_age_s = -1;
  int64_t in_flight = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_health& x) {
  return f(caf::meta::type_name("herald.node_health"), x.name, x.roles,
           x.healthy, x.heartbeat_age_s, x.in_flight);
}

/// An active certificate that expires soon.
struct expiring_certificate {
  std::string serial;
  std::string subject;
  /// Its client's name; empty for server and node certificates.
  std::string client;
  /// Unix seconds.
  int64_t not_after = 0;
};

template <class Inspector>
typename Inspector::result_type
inspect(Inspector& f, expiring_certificate& x) {
  return f(caf::meta::type_name("herald.expiring_certificate"), x.serial,
           x.subject, x.client, x.not_after);
}

/// The admin overview: per-minute counts of the last hour (oldest minute
/// first), the queues, the cluster and the certificates about to expire.
struct overview {
  /// Unix seconds of the first minute of the series.
  int64_t first_minute = 0;
  std::vector<int64_t> accepted;
  std::vector<int64_t> delivered;
  std::vector<int64_t> failed;
  /// Ids waiting in Redis' pending list.
  int64_t queue_depth = 0;
  /// Ids scheduled for a retry.
  int64_t retry_backlog = 0;
  std::vector<node_health> nodes;
  std::vector<expiring_certificate> expiring;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, overview& x) {
  return f(caf::meta::type_name("herald.overview"), x.first_minute,
           x.accepted, x.delivered, x.failed, x.queue_depth, x.retry_backlog,
           x.nodes, x.expiring);
}

// -- portal administration --------------------------------------------------------

/// A portal user as the admin pages list them.
struct user_entry {
  uint64_t id = 0;
  std::string name;
  /// "admin" or "user".
  std::string role;
  /// "active" or "disabled".
  std::string status;
  /// Client applications the user owns.
  uint64_t clients = 0;
  /// RFC 3339 (UTC); password_changed_at is empty when none was ever set.
  std::string created_at;
  std::string password_changed_at;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_entry& x) {
  return f(caf::meta::type_name("herald.user_entry"), x.id, x.name, x.role,
           x.status, x.clients, x.created_at, x.password_changed_at);
}

/// An admin's change to a user account.
struct user_change {
  /// The signed-in admin: the audit log's actor.
  std::string admin;
  /// "add", "password", "disable", "enable" or "role".
  std::string action;
  /// The user changed.
  std::string name;
  /// The role of "add" and "role".
  std::string role;
  /// The password of "add" and "password" as the admin typed it; empty:
  /// generate one (the answer carries it, once). Never logged or stored.
  std::string password;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_change& x) {
  return f(caf::meta::type_name("herald.user_change"), x.admin, x.action,
           x.name, x.role, x.password);
}

/// A user's change of their own password.
struct own_password_change {
  uint64_t user_id = 0;
  std::string name;
  /// Both never logged or stored; dropped once used.
  std::string current;
  std::string next;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, own_password_change& x) {
  return f(caf::meta::type_name("herald.own_password_change"), x.user_id,
           x.name, x.current, x.next);
}

/// A registered certificate as the admin pages list it.
struct certificate_entry {
  std::string serial;
  /// Lower-case hex SHA-256.
  std::string fingerprint;
  /// The client's name; empty for a node certificate.
  std::string client;
  /// "active", "revoked" or "expired".
  std::string status;
  /// Unix seconds; revoked_at is 0 unless revoked.
  int64_t not_after = 0;
  int64_t revoked_at = 0;
  std::string revocation_reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, certificate_entry& x) {
  return f(caf::meta::type_name("herald.certificate_entry"), x.serial,
           x.fingerprint, x.client, x.status, x.not_after, x.revoked_at,
           x.revocation_reason);
}

/// A client application with its certificates.
struct client_entry {
  uint64_t id = 0;
  std::string name;
  /// The owning portal user; empty when none.
  std::string owner;
  /// "active" or "disabled".
  std::string status;
  std::string created_at;
  /// Soonest expiry first.
  std::vector<certificate_entry> certificates;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_entry& x) {
  return f(caf::meta::type_name("herald.client_entry"), x.id, x.name, x.owner,
           x.status, x.created_at, x.certificates);
}

/// A filter of the client and certificate lists; empty fields match all.
struct client_filter {
  /// Clients: "active" or "disabled"; certificates: "active", "revoked"
  /// or "expired".
  std::string status;
  /// The owning user's name (clients only).
  std::string owner;
  /// Only what has an active certificate expiring within that many days;
  /// negative: no such filter.
  int64_t expiring_days = -1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_filter& x) {
  return f(caf::meta::type_name("herald.client_filter"), x.status, x.owner,
           x.expiring_days);
}

/// The clients page: the clients and whether this node can issue.
struct client_listing {
  std::vector<client_entry> clients;
  /// Whether this node holds the CA key (pki.ca-dir) and can issue.
  bool can_issue = false;
  /// Why it cannot, when it cannot.
  std::string ca_problem;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_listing& x) {
  return f(caf::meta::type_name("herald.client_listing"), x.clients,
           x.can_issue, x.ca_problem);
}

/// An admin's change to a client application.
struct client_change {
  /// The signed-in admin: the audit log's actor.
  std::string admin;
  /// "add" (a new client with its first certificate), "renew" (one more
  /// certificate), "disable" or "enable".
  std::string action;
  std::string name;
  /// The owning user of a new client; empty: none.
  std::string owner;
  /// Validity of the certificate.
  int64_t days = 365;
  /// Bundle of a new certificate: "p12" (PKCS#12 with a generated
  /// password) or "pem" (key and certificate).
  std::string format = "pem";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_change& x) {
  return f(caf::meta::type_name("herald.client_change"), x.admin, x.action,
           x.name, x.owner, x.days, x.format);
}

/// The answer to a client_change: a new certificate with its key, handed
/// over once and never stored (empty for disable and enable).
struct issued_bundle {
  std::string client;
  certificate_entry certificate;
  std::string certificate_pem;
  /// PKCS#8, unencrypted: only for the one download.
  std::string key_pem;
  std::string ca_pem;
  /// The PKCS#12 bundle (format "p12") and its generated password.
  std::string pkcs12;
  std::string pkcs12_password;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, issued_bundle& x) {
  return f(caf::meta::type_name("herald.issued_bundle"), x.client,
           x.certificate, x.certificate_pem, x.key_pem, x.ca_pem, x.pkcs12,
           x.pkcs12_password);
}

/// An admin's revocation of a certificate.
struct revocation {
  std::string admin;
  /// Serial or fingerprint.
  std::string id;
  /// One of pki::revocation_reasons().
  std::string reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, revocation& x) {
  return f(caf::meta::type_name("herald.revocation"), x.admin, x.id,
           x.reason);
}

/// What a revocation did.
struct revocation_result {
  certificate_entry certificate;
  /// Whether a fresh CRL was published (the node has the CA key); else
  /// nodes refuse the certificate from the registry and `heraldctl crl`
  /// publishes the CRL.
  bool crl_published = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, revocation_result& x) {
  return f(caf::meta::type_name("herald.revocation_result"), x.certificate,
           x.crl_published);
}

// -- cluster --------------------------------------------------------------------

/// The version of what cluster members say to each other: members with
/// another version are refused at join. Bump it with every change to a
/// message type that crosses nodes.
constexpr uint32_t cluster_protocol = 2;

/// What a cluster member tells the others about itself when it joins and
/// every rejoin interval after.
struct member_info {
  /// node.name: unique in the cluster.
  std::string name;
  std::vector<std::string> roles;
  /// cluster.listen: where members reach this node.
  std::string address;
  uint32_t protocol = 0;
  /// Herald's version, for cluster status and skew messages.
  std::string version;
  /// Unix ms.
  int64_t started_at_ms = 0;
  /// The member's cluster actor (a cluster_actor).
  caf::actor cluster;
  /// Its queue (a work_queue_actor); none without the ingress role.
  caf::actor queue;
  /// Its delivery actors (delivery_actor); none without the delivery role.
  std::vector<caf::actor> delivery;
  /// Its audit actor (an audit_actor): the chain's writer while the member
  /// holds the cluster lease.
  caf::actor audit;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_info& x) {
  return f(caf::meta::type_name("herald.member_info"), x.name, x.roles,
           x.address, x.protocol, x.version, x.started_at_ms, x.cluster,
           x.queue, x.delivery, x.audit);
}

/// Registers every type above with `cfg`, and std::vector<bool> (the
/// answer of a receiver store).
void register_message_types(caf::actor_system_config& cfg);

} // namespace herald
