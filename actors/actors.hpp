#pragma once

// All typed actor interfaces of Herald. docs/DESIGN.md shows how they
// connect; each alias has one sentence and a comment per handler.

#include "actors/atoms.hpp"
#include "core/inspection.hpp"
#include "core/messages.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace herald {

/// Checks MySQL and Redis with blocking calls; runs detached, on its own
/// thread, so that no event-based behaviour ever blocks on I/O.
using dependency_probe_actor = caf::typed_actor<
  // Probes every dependency now and reports the outcome.
  caf::replies_to<probe_atom>::with<health_report>>;

/// Keeps the latest health of this node's dependencies, refreshed on a
/// timer, and answers health queries without waiting for a probe.
using health_actor = caf::typed_actor<
  // Returns the latest report.
  caf::replies_to<caf::get_atom>::with<health_report>,
  // Timer: starts the next probe.
  caf::reacts_to<tick_atom>>;

/// Gathers submissions into group commits: one of the store writers stores
/// a batch in MySQL and queues it in Redis in one transaction, and only
/// then is each submission answered. At most `batch-delay` passes between a
/// submission and the start of its batch.
using store_actor = caf::typed_actor<
  // Stores and queues one message; the answer follows the commit.
  caf::replies_to<submit_atom, stored_message>::with<submit_result>,
  // Timer: writes what has gathered.
  caf::reacts_to<flush_atom>>;

/// Owns one MySQL and one Redis connection and runs the blocking work of
/// the store; runs detached.
using store_writer_actor = caf::typed_actor<
  // Stores a batch as "queued" and queues it in Redis, in one transaction
  // (persistence::insert_batch), resolving idempotency keys; one result per
  // message, in order.
  caf::replies_to<write_atom, std::vector<stored_message>>::with<
    std::vector<submit_result>>,
  // Marks the ids rejected and frees their idempotency keys.
  caf::replies_to<reject_atom, std::vector<std::string>>::with<bool>,
  // Returns the status of a message of a client.
  caf::replies_to<caf::get_atom, uint64_t, std::string>::with<message_status>>;

/// Takes messages from the queue, delivers each to the downstream endpoint
/// over mutual TLS and records the outcome; owns its MySQL, Redis and HTTPS
/// connections and runs detached. Driven by messages, one bounded step
/// (take a batch, claim, deliver, record) per handler; stops through CAF's
/// exit path and puts back what it has not attempted.
using delivery_actor = caf::typed_actor<
  // Ids just queued (by the queue or the retry-timer): take work now.
  // Answered at once with the ids in hand (its load), which returns the
  // sender's credit.
  caf::replies_to<work>::with<uint64_t>,
  // Self: the next step now.
  caf::reacts_to<tick_atom>,
  // Self, delayed: the poll that backs up `work` while idle, or the look
  // after a pause; only the latest one armed (by number) runs a step.
  caf::reacts_to<poll_atom, uint64_t>>;

/// Where the store reports the batches it stored and queued.
using queue_actor = caf::typed_actor<
  // These ids (UUID text) are committed and in Redis: deliverable now.
  caf::reacts_to<commit_atom, std::vector<std::string>>>;

/// The queue of a node that knows its delivery actors: sends the ids of
/// committed batches as `work` to the delivery actors that joined.
using work_queue_actor = queue_actor::extend<
  // Sends queued ids to this delivery actor from now on.
  caf::reacts_to<caf::join_atom, delivery_actor>>;

/// Reloads clients and their certificates into the registry that the
/// HTTPS threads consult, on a timer; runs detached.
using client_directory_actor = caf::typed_actor<
  // Timer: reload now.
  caf::reacts_to<tick_atom>,
  // A change was announced: reload now, outside the timer; true when the
  // registry holds the database's clients.
  caf::replies_to<reload_atom>::with<bool>>;

/// Watches the CRL file and certificate counts for the metrics, on a timer;
/// runs detached.
using pki_monitor_actor = caf::typed_actor<
  // Timer: reload the CRL if it changed, count certificates.
  caf::reacts_to<tick_atom>,
  // A change was announced: reload the CRL and the data keys if their
  // files changed, now; true when a current CRL is in force.
  caf::replies_to<reload_atom>::with<bool>>;

/// Makes MySQL the source of truth on a timer (one node at a time): queues
/// again every queued or delivering message whose id Redis lost, rejects
/// messages stuck before their enqueue, purges expired idempotency keys;
/// runs detached.
using recovery_actor = caf::typed_actor<
  // Timer: sweep, then schedule the next sweep.
  caf::reacts_to<tick_atom>,
  // Sweeps now and reports what it did.
  caf::replies_to<sweep_atom>::with<sweep_report>>;

/// Gathers what the receiver role got into group commits: a batch is
/// written by one of the receiver stores, and only then is each delivery
/// answered. At most `batch-delay` passes between a delivery and the start
/// of its batch while a store is idle.
using receiver_actor = caf::typed_actor<
  // Stores one message once per id; false when it was a duplicate. The
  // answer follows the commit.
  caf::replies_to<receive_atom, received_message>::with<bool>,
  // Timer: writes what has gathered.
  caf::reacts_to<flush_atom>>;

/// Stores batches of what the receiver role got, idempotent by message id;
/// owns a MySQL connection and runs detached.
using receiver_store_actor = caf::typed_actor<
  // Stores a batch in one transaction; one flag per message, in order:
  // true when newly stored, false for a duplicate.
  caf::replies_to<receive_atom, std::vector<received_message>>::with<
    std::vector<bool>>>;

/// Owns the Redis side of the retry schedule (a sorted set by due time,
/// durable with AOF) and this node's lease; runs detached and does one
/// bounded Redis step per message.
using schedule_actor = caf::typed_actor<
  // Records retries: off this node's processing list and into the
  // schedule, in one transaction.
  caf::replies_to<schedule_retry>::with<caf::ok_atom>,
  // Moves up to 1000 retries due by the time given (Unix ms) to pending,
  // atomically (one node moves each); returns their ids.
  caf::replies_to<promote_atom, int64_t>::with<std::vector<std::string>>,
  // Reads the due times after the first time (Unix ms) up to the second.
  caf::replies_to<page_atom, int64_t, int64_t>::with<retry_page>,
  // Refreshes the lease, returns dead nodes' messages now and then;
  // returns how many retries are scheduled.
  caf::replies_to<tick_atom>::with<int64_t>>;

/// Fires retries at their due time: records each failed attempt's retry in
/// the durable schedule and arms one delayed message per due time in the
/// near window (bounded); later ones are paged in from the schedule as
/// time advances, and again after a restart. Promoted ids go to the
/// delivery actors as `work`.
using retry_timer_actor = caf::typed_actor<
  // Records a retry durably; answers once the schedule has it.
  caf::replies_to<schedule_retry>::with<caf::ok_atom>,
  // Sends promoted ids to this delivery actor from now on.
  caf::reacts_to<caf::join_atom, delivery_actor>,
  // Self: an armed due time (Unix ms) came.
  caf::reacts_to<fire_atom, int64_t>,
  // Self, every second: lease, backstop promotion, the next page.
  caf::reacts_to<tick_atom>>;

/// Validates what clients and nodes send, seals it (AES-256-GCM, keyed
/// sender hash) and hands it on: a submission to the store, a delivery to
/// the receiver. Answers the HTTP response once they answered. Stateless;
/// a small pool on the CAF scheduler.
using validator_actor = caf::typed_actor<
  // Submission of client `client_id`: 202 once stored and queued, or the
  // problem.
  caf::replies_to<submit_atom, uint64_t, http_request>::with<http_response>,
  // Delivery to the receiver role: 200 once stored (or a duplicate), or
  // the problem.
  caf::replies_to<receive_atom, http_request>::with<http_response>>;

/// Owns the node's HTTPS listener (start, drain, stop). Its I/O threads
/// hand each request over as a typed message with a request id; the
/// routes run here and ask other actors, and every answer goes back
/// through the ingress to the connection waiting for it. Runs detached.
using ingress_actor = caf::typed_actor<
  // Starts listening; returns the bound port.
  caf::replies_to<listen_atom>::with<uint16_t>,
  // From an I/O thread: routes the request (its id names the connection
  // waiting for the answer).
  caf::reacts_to<request_atom, http_request>,
  // Stops accepting; answers once no request waits or `timeout` passed,
  // with the number still waiting.
  caf::replies_to<drain_atom, caf::timespan>::with<uint64_t>,
  // Timer: fails the asks past their deadline.
  caf::reacts_to<tick_atom>>;

/// Appends this node's audit events (start, stop, key and CRL reloads,
/// revocations and client changes it enforces; later portal actions) to the
/// hash-chained audit log, in batches, taking turns with heraldctl under
/// the database lock; keeps them while MySQL is down. In a cluster one
/// audit actor writes for every member (the lease holder's) and the others
/// send it their batches, again until it answered. Runs detached.
using audit_actor = caf::typed_actor<
  // Queues one event; written within the batch delay. No answer: senders
  // never wait for the database, and nothing is dropped without a metric,
  // a log line and a marker in the chain.
  caf::reacts_to<audit_event>,
  // In a cluster: the audit actor that writes the chain from now on (this
  // one while its node holds the lease); none: keep events until one is.
  // Untyped, as an interface cannot name itself; an audit_actor.
  caf::reacts_to<lead_atom, caf::actor>,
  // From another member while this one writes the chain: appends the
  // batch (events already in it are skipped by id) and answers how many
  // events it got once they are committed.
  caf::replies_to<append_atom, std::vector<audit_event>>::with<uint64_t>,
  // Timer: writes one batch, or tries again after a failure.
  caf::reacts_to<flush_atom>,
  // Writes everything that waits now (at shutdown); returns how many
  // events are still waiting because a write failed (0: all written).
  caf::replies_to<drain_atom>::with<uint64_t>>;

/// This node's view of the cluster: joins through the seeds, learns every
/// member and is learned by them, monitors each one (the in-flight work of
/// a member lost without leaving goes back to pending at once), introduces
/// remote delivery actors to the local queue, and records the view in
/// Redis for `heraldctl cluster status`. Holds or follows the cluster
/// lease: the holder's audit actor writes the chain for all, and the
/// holder watches the changes heraldctl announces and passes each one to
/// every member. Runs detached.
using cluster_actor = caf::typed_actor<
  // A member introduces itself, when it joins and every rejoin interval;
  // returns every member this node knows, itself first. Refused when the
  // member speaks another cluster protocol or claims this node's name.
  caf::replies_to<caf::join_atom, member_info>::with<std::vector<member_info>>,
  // Starts joining (once the node published this actor).
  caf::reacts_to<listen_atom>,
  // Timer: re-announce, retry seeds, recheck links, record the view, hold
  // or follow the lease.
  caf::reacts_to<tick_atom>,
  // Timer of the lease holder: reads the count of announced changes.
  caf::reacts_to<poll_atom>,
  // From the lease holder: the count of announced changes grew to this;
  // reload clients, certificates, CRL and data keys now.
  caf::reacts_to<change_atom, int64_t>>;

/// Does the portal's blocking work: password checks (yescrypt, ~100 ms),
/// login throttling and session revocation in Redis, the users' messages
/// in MySQL. Owns one MySQL and one Redis connection and runs detached;
/// the portal's routes (in its listener's ingress actor) ask a small pool
/// of them. Every answer concerns one user only: messages of clients the
/// user does not own do not exist for it.
using portal_actor = caf::typed_actor<
  // Checks a login against the locks, the password and the account;
  // audits it (login.ok, login.failed, login.lockout).
  caf::replies_to<login_atom, login_request>::with<login_result>,
  // The user of a session, or errc::unauthorized when it was revoked, its
  // user changed (password, role, status) or is disabled.
  caf::replies_to<session_atom, session_claims>::with<portal_user>,
  // Revokes a session (on every portal node) and audits the logout.
  caf::replies_to<logout_atom, session_claims, std::string>::with<bool>,
  // A page of the user's messages matching the filter, newest first.
  caf::replies_to<page_atom, uint64_t, user_message_filter>::with<message_page>,
  // One message of the user (raw id) with its body and attempts;
  // errc::not_found when it is no message of the user's clients.
  caf::replies_to<caf::get_atom, uint64_t, std::string>::with<
    message_detail>>;

/// Does the blocking work of the admin pages on messages, failed messages,
/// the audit log and the overview: MySQL, Redis, decrypting a body. Owns
/// one MySQL and one Redis connection and runs detached; the portal's
/// routes ask a small pool of them. Sees every client's messages: only
/// admin routes may ask it.
using message_admin_actor = caf::typed_actor<
  // A page of every client's messages matching the filter, newest first,
  // with the clients (and owners) for the filter form.
  caf::replies_to<page_atom, user_message_filter>::with<message_page>,
  // One message (raw id) with every attempt, never its body: the detail
  // page and the read-only peek at a failed message; errc::not_found.
  caf::replies_to<caf::get_atom, std::string>::with<message_detail>,
  // Appends message.reveal by the named admin to the audit chain, then
  // returns the message (raw id) with its body; no audit row, no body.
  caf::replies_to<reveal_atom, std::string, std::string>::with<
    message_detail>,
  // Failed messages matching the filter, newest failure first.
  caf::replies_to<failed_atom, failed_filter>::with<failed_page>,
  // Queues failed messages again (MySQL, Redis, message.requeue audited),
  // as heraldctl message requeue does.
  caf::replies_to<requeue_atom, requeue_request>::with<requeue_result>,
  // A page of the audit log matching the filter, newest first.
  caf::replies_to<audit_atom, audit_filter>::with<audit_page>,
  // The audit chain's verification, at most a few seconds old.
  caf::replies_to<verify_atom>::with<audit_status>,
  // The admin overview of the last hour and of now.
  caf::replies_to<overview_atom>::with<overview>>;

/// Does the blocking work of the portal's admin pages and admin API: user
/// accounts (yescrypt hashes), clients and their certificates (the CA of
/// pki.ca-dir, when this node holds its key), revocations and the CRL;
/// audits every change with the admin as actor and announces what nodes
/// reload. Owns one MySQL and one Redis connection and runs detached; the
/// routes ask a small pool of them and check the admin role first.
using account_admin_actor = caf::typed_actor<
  // Every user, by name.
  caf::replies_to<users_atom>::with<std::vector<user_entry>>,
  // Applies an admin's change to a user; returns the generated password
  // (empty when the admin typed one). A password, role or status change
  // ends the user's sessions.
  caf::replies_to<user_change>::with<std::string>,
  // A user changes their own password (the current one checked); returns
  // the user with the new session generation: every older session ends.
  caf::replies_to<passwd_atom, own_password_change>::with<portal_user>,
  // The clients matching the filter, with their certificates.
  caf::replies_to<clients_atom, client_filter>::with<client_listing>,
  // The certificates matching the filter (status, expiring_days).
  caf::replies_to<certs_atom, client_filter>::with<
    std::vector<certificate_entry>>,
  // Applies an admin's change to a client; a new certificate comes back
  // with its key, once.
  caf::replies_to<client_change>::with<issued_bundle>,
  // Revokes a certificate, and publishes the CRL when this node holds the
  // CA key.
  caf::replies_to<revocation>::with<revocation_result>>;

/// Answers heraldctl's console about this node: its actors and their
/// counters (from the actor catalog; no actor is asked), the cluster's
/// members, the queue and a message's path (Redis and MySQL). Reached only
/// by admin certificates, through the cluster links (docs/CONSOLE.md).
/// Runs in the console's own actor system, whose one scheduler thread is
/// its: the queue and trace answers block on the databases.
using inspector_actor = caf::typed_actor<
  // The cluster's members as this node sees them, itself first.
  caf::replies_to<nodes_atom>::with<std::vector<node_report>>,
  // This node's actors, running ones first, then recently exited ones.
  caf::replies_to<actors_atom>::with<std::vector<actor_report>>,
  // One actor by catalog id; errc::not_found when the node has none.
  caf::replies_to<caf::get_atom, uint64_t>::with<actor_report>,
  // The delivery queue across the cluster.
  caf::replies_to<queue_atom>::with<queue_report>,
  // The path of a message (canonical id); errc::not_found for none.
  caf::replies_to<trace_atom, std::string>::with<trace_report>,
  // Timer: samples the counters for rates.
  caf::reacts_to<tick_atom>>;

} // namespace herald
