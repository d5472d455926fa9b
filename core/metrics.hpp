#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <vector>
#include <string>

namespace herald {

/// The metric families of one process, registered in one registry that the
/// /metrics endpoint exposes. Components keep references to the families
/// they update; prometheus-cpp metrics are thread-safe.
class metrics {
  // Declared first: the family references below are initialized from it.
  std::shared_ptr<prometheus::Registry> registry_;

public:
  /// Creates the registry with build info for `node` and process metrics.
  explicit metrics(const std::string& node);

  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;

  const std::shared_ptr<prometheus::Registry>& registry() const {
    return registry_;
  }

  /// Everything a scrape collects: the registry and the process metrics.
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables() const {
    return {registry_, process_};
  }

  /// HTTP requests answered, by route and status code.
  prometheus::Family<prometheus::Counter>& http_requests;

  /// Time from a complete request to its response, by route.
  prometheus::Family<prometheus::Histogram>& http_request_duration;

  /// TLS handshakes by outcome (ok, failed).
  prometheus::Family<prometheus::Counter>& tls_handshakes;

  /// Open client connections of the HTTPS listener.
  prometheus::Family<prometheus::Gauge>& http_connections;

  /// Connections closed at accept, by reason (max_connections,
  /// max_handshakes_per_ip, peer_gone).
  prometheus::Family<prometheus::Counter>& refused_connections;

  /// Requests refused before any route because their certificate is not
  /// registered or no longer active.
  prometheus::Family<prometheus::Counter>& unregistered_requests;

  /// 1 when a dependency (mysql, redis) answered its last probe, else 0.
  prometheus::Family<prometheus::Gauge>& dependency_up;

  /// Duration of the last probe of a dependency.
  prometheus::Family<prometheus::Gauge>& dependency_probe_seconds;

  /// Submissions refused, by reason (invalid, forbidden, rate_limited,
  /// unavailable, ...).
  prometheus::Family<prometheus::Counter>& rejections;

  /// Time from a complete submission to its 202.
  prometheus::Histogram& accept_duration;

  /// Messages per group commit.
  prometheus::Histogram& store_batch_size;

  /// Received messages per group commit of the receiver role.
  prometheus::Histogram& receiver_batch_size;

  /// Length of the Redis pending list, as last seen.
  prometheus::Gauge& queue_length;

  /// Seconds since the oldest undelivered (queued or delivering) message
  /// was accepted, sampled by every node's recovery sweep.
  prometheus::Gauge& oldest_pending_age;

  /// Queued messages whose ids Redis had lost, queued again by recovery.
  prometheus::Counter& recovered_messages;

  /// Delivery attempts by outcome (delivered, retry, failed, expired).
  prometheus::Family<prometheus::Counter>& deliveries;

  /// Attempts a message needed, observed when it is delivered or failed.
  prometheus::Histogram& delivery_attempts;

  /// Time from acceptance to delivery.
  prometheus::Histogram& delivery_latency;

  /// Messages waiting in the retry schedule.
  prometheus::Gauge& retry_schedule_size;

  /// Deliveries being attempted right now.
  prometheus::Gauge& deliveries_in_flight;

  /// Messages waiting in an actor's mailbox, by actor name, sampled when
  /// the actor handles a message.
  prometheus::Family<prometheus::Gauge>& mailbox_size;

  /// Messages the receiver role got, by result (stored, duplicate).
  prometheus::Family<prometheus::Counter>& received;

  /// Messages each stage of the actor graph passed on, by stage (ingress,
  /// validator, store, queue, delivery, receiver): traces one message's
  /// path through the node.
  prometheus::Family<prometheus::Counter>& pipeline;

  /// Its counters, one per stage, looked up once: the accept and delivery
  /// paths count every message.
  struct stage_counters {
    prometheus::Counter& ingress;
    prometheus::Counter& validator;
    prometheus::Counter& store;
    prometheus::Counter& queue;
    prometheus::Counter& delivery;
    prometheus::Counter& receiver;
  } stages;

  /// Running long-lived actors, by name; each actor adds itself when it
  /// starts and removes itself when it ends.
  prometheus::Family<prometheus::Gauge>& actors;

  /// Registered certificates by status (active, revoked, expired).
  prometheus::Family<prometheus::Gauge>& certificates;

  /// Seconds until the earliest active client certificate expires.
  prometheus::Gauge& client_certificate_expiry;

  /// Seconds until each of the node's own TLS certificates expires, by
  /// what it is for (listener, portal, delivery, cluster and their CAs).
  prometheus::Family<prometheus::Gauge>& tls_certificate_expiry;

  /// Seconds since the thisUpdate of the CRL in force.
  prometheus::Gauge& crl_age;

  /// 1 while a CRL is in force and before its nextUpdate, else 0.
  prometheus::Gauge& crl_current;

  /// Audit events this node appended to the audit log, by action.
  prometheus::Family<prometheus::Counter>& audit_events;

  /// Audit events this node could not append, by reason (buffer_full,
  /// invalid, no_key, shutdown).
  prometheus::Family<prometheus::Counter>& audit_events_dropped;

  /// Audit events waiting for the audit log.
  prometheus::Gauge& audit_pending;

  /// Audit events per transaction.
  prometheus::Histogram& audit_batch_size;

  /// Audit events other cluster members had this node write into the
  /// chain (only the lease holder gets any).
  prometheus::Counter& audit_peer_events;

  /// Cluster members this node is linked with, itself included (1 when it
  /// runs alone).
  prometheus::Gauge& cluster_members;

  /// Members that joined, left in order or were lost, by event.
  prometheus::Family<prometheus::Counter>& cluster_member_changes;

  /// In-flight messages of lost members returned to pending by this node.
  prometheus::Counter& cluster_returned_messages;

  /// Open links to other members, by direction (in, out).
  prometheus::Family<prometheus::Gauge>& cluster_links;

  /// Link attempts refused, by reason (handshake, not_allowed, limit).
  prometheus::Family<prometheus::Counter>& cluster_link_refusals;

  /// 1 while this node holds the cluster lease: it writes the audit chain
  /// for every member and passes announced changes on.
  prometheus::Gauge& cluster_lease_held;

  /// Announced changes (revocations, client status, CRL, data keys) this
  /// node applied at once, by how it learned of them: from the feed
  /// (lease holder) or from the lease holder's broadcast.
  prometheus::Family<prometheus::Counter>& cluster_changes_applied;

  /// Samples the mailbox of the actor `self` (call from its own handler).
  template <class Self>
  static void sample_mailbox(metrics* m, Self* self) {
    if (m != nullptr)
      m->mailbox_size.Add({{"actor", self->name()}})
        .Set(static_cast<double>(self->mailbox().size()));
  }

  /// Buckets for request latencies, from 100 µs to 5 s.
  static prometheus::Histogram::BucketBoundaries latency_buckets();

private:
  std::shared_ptr<prometheus::Collectable> process_;
};

} // namespace herald
