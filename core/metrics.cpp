#include "core/metrics.hpp"

#include "core/version.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

namespace herald {

namespace {

/// The standard process_* metrics, read from /proc/self on every scrape
/// (prometheus-cpp 1.0 ships no process collector).
class process_collector : public prometheus::Collectable {
public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> result;
    auto add = [&](const char* name, const char* help,
                   prometheus::MetricType type, double value) {
      prometheus::ClientMetric metric;
      if (type == prometheus::MetricType::Counter)
        metric.counter.value = value;
      else
        metric.gauge.value = value;
      result.push_back({name, help, type, {metric}});
    };
    std::ifstream in{"/proc/self/stat"};
    std::string stat{std::istreambuf_iterator<char>{in}, {}};
    // Fields after the command name, which may contain spaces.
    auto pos = stat.rfind(')');
    if (pos != std::string::npos) {
      std::istringstream fields{stat.substr(pos + 2)};
      std::vector<std::string> f{std::istream_iterator<std::string>{fields},
                                 {}};
      // f[0] is field 3 (state) of proc(5).
      if (f.size() > 21) {
        auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
        auto page = static_cast<double>(sysconf(_SC_PAGESIZE));
        add("process_cpu_seconds_total", "User and system CPU time spent.",
            prometheus::MetricType::Counter,
            (std::stod(f[11]) + std::stod(f[12])) / ticks);
        add("process_start_time_seconds",
            "Start time of the process since the epoch.",
            prometheus::MetricType::Gauge,
            boot_time() + std::stod(f[19]) / ticks);
        add("process_virtual_memory_bytes", "Virtual memory size.",
            prometheus::MetricType::Gauge, std::stod(f[20]));
        add("process_resident_memory_bytes", "Resident memory size.",
            prometheus::MetricType::Gauge, std::stod(f[21]) * page);
      }
    }
    std::error_code ec;
    double fds = 0;
    for (auto it = std::filesystem::directory_iterator{"/proc/self/fd", ec};
         !ec && it != std::filesystem::directory_iterator{}; it.increment(ec))
      ++fds;
    add("process_open_fds", "Open file descriptors.",
        prometheus::MetricType::Gauge, fds);
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0)
      add("process_max_fds", "Limit of open file descriptors.",
          prometheus::MetricType::Gauge, static_cast<double>(lim.rlim_cur));
    return result;
  }

private:
  static double boot_time() {
    std::ifstream in{"/proc/stat"};
    std::string key;
    while (in >> key) {
      if (key == "btime") {
        double value = 0;
        in >> value;
        return value;
      }
      in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    return 0;
  }
};

/// Buckets for messages per group commit.
prometheus::Histogram::BucketBoundaries batch_buckets() {
  return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
}

} // namespace

metrics::metrics(const std::string& node)
  : registry_(std::make_shared<prometheus::Registry>()),
    http_requests(prometheus::BuildCounter()
                    .Name("herald_http_requests_total")
                    .Help("HTTP requests answered, by route and status code.")
                    .Register(*registry_)),
    http_request_duration(
      prometheus::BuildHistogram()
        .Name("herald_http_request_duration_seconds")
        .Help("Time from a complete request to its response, by route.")
        .Register(*registry_)),
    tls_handshakes(prometheus::BuildCounter()
                     .Name("herald_tls_handshakes_total")
                     .Help("TLS handshakes of the HTTPS listener by outcome.")
                     .Register(*registry_)),
    http_connections(prometheus::BuildGauge()
                       .Name("herald_http_connections")
                       .Help("Open client connections of the HTTPS listener.")
                       .Register(*registry_)),
    refused_connections(prometheus::BuildCounter()
                          .Name("herald_http_refused_connections_total")
                          .Help("Connections closed at accept, by reason.")
                          .Register(*registry_)),
    unregistered_requests(
      prometheus::BuildCounter()
        .Name("herald_http_unregistered_requests_total")
        .Help("Requests refused because their certificate is not "
              "registered or no longer active.")
        .Register(*registry_)),
    dependency_up(prometheus::BuildGauge()
                    .Name("herald_dependency_up")
                    .Help("1 when the dependency answered its last probe.")
                    .Register(*registry_)),
    dependency_probe_seconds(
      prometheus::BuildGauge()
        .Name("herald_dependency_probe_seconds")
        .Help("Duration of the last probe of a dependency.")
        .Register(*registry_)),
    rejections(prometheus::BuildCounter()
                 .Name("herald_rejections_total")
                 .Help("Submissions refused, by reason.")
                 .Register(*registry_)),
    accept_duration(prometheus::BuildHistogram()
                      .Name("herald_accept_duration_seconds")
                      .Help("Time from a complete submission to its 202.")
                      .Register(*registry_)
                      .Add({}, latency_buckets())),
    store_batch_size(
      prometheus::BuildHistogram()
        .Name("herald_store_batch_size")
        .Help("Messages per group commit.")
        .Register(*registry_)
        .Add({}, batch_buckets())),
    receiver_batch_size(
      prometheus::BuildHistogram()
        .Name("herald_receiver_batch_size")
        .Help("Received messages per group commit of the receiver role.")
        .Register(*registry_)
        .Add({}, batch_buckets())),
    queue_length(prometheus::BuildGauge()
                   .Name("herald_queue_length")
                   .Help("Length of the Redis pending list, as last seen.")
                   .Register(*registry_)
                   .Add({})),
    oldest_pending_age(
      prometheus::BuildGauge()
        .Name("herald_oldest_pending_age_seconds")
        .Help("Seconds since the oldest queued or delivering message was "
              "accepted, as last sampled.")
        .Register(*registry_)
        .Add({})),
    recovered_messages(
      prometheus::BuildCounter()
        .Name("herald_recovered_messages_total")
        .Help("Queued messages whose ids Redis had lost, queued again.")
        .Register(*registry_)
        .Add({})),
    deliveries(prometheus::BuildCounter()
                 .Name("herald_deliveries_total")
                 .Help("Delivery attempts by outcome.")
                 .Register(*registry_)),
    delivery_attempts(
      prometheus::BuildHistogram()
        .Name("herald_delivery_attempts")
        .Help("Attempts a message needed until delivered or failed.")
        .Register(*registry_)
        .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 3, 5, 10, 20,
                                                         50, 100, 1000})),
    delivery_latency(prometheus::BuildHistogram()
                       .Name("herald_delivery_latency_seconds")
                       .Help("Time from acceptance to delivery.")
                       .Register(*registry_)
                       .Add({}, prometheus::Histogram::BucketBoundaries{
                                  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                  5, 30, 60, 300, 3600, 86400})),
    retry_schedule_size(prometheus::BuildGauge()
                          .Name("herald_retry_schedule_size")
                          .Help("Messages waiting for a retry.")
                          .Register(*registry_)
                          .Add({})),
    deliveries_in_flight(prometheus::BuildGauge()
                           .Name("herald_deliveries_in_flight")
                           .Help("Deliveries being attempted right now.")
                           .Register(*registry_)
                           .Add({})),
    mailbox_size(prometheus::BuildGauge()
                   .Name("herald_actor_mailbox_size")
                   .Help("Messages waiting in an actor's mailbox.")
                   .Register(*registry_)),
    received(prometheus::BuildCounter()
               .Name("herald_received_total")
               .Help("Messages the receiver role got, by result.")
               .Register(*registry_)),
    pipeline(prometheus::BuildCounter()
               .Name("herald_pipeline_messages_total")
               .Help("Messages each stage of the actor graph passed on.")
               .Register(*registry_)),
    stages{pipeline.Add({{"stage", "ingress"}}),
           pipeline.Add({{"stage", "validator"}}),
           pipeline.Add({{"stage", "store"}}),
           pipeline.Add({{"stage", "queue"}}),
           pipeline.Add({{"stage", "delivery"}}),
           pipeline.Add({{"stage", "receiver"}})},
    actors(prometheus::BuildGauge()
             .Name("herald_actors")
             .Help("Running long-lived actors, by name.")
             .Register(*registry_)),
    certificates(prometheus::BuildGauge()
                   .Name("herald_certificates")
                   .Help("Registered certificates by status.")
                   .Register(*registry_)),
    client_certificate_expiry(
      prometheus::BuildGauge()
        .Name("herald_client_certificate_expiry_seconds")
        .Help("Seconds until the earliest active client certificate "
              "expires.")
        .Register(*registry_)
        .Add({})),
    tls_certificate_expiry(
      prometheus::BuildGauge()
        .Name("herald_tls_certificate_expiry_seconds")
        .Help("Seconds until each of the node's own TLS certificates "
              "expires, by what it is for.")
        .Register(*registry_)),
    crl_age(prometheus::BuildGauge()
              .Name("herald_crl_age_seconds")
              .Help("Seconds since the thisUpdate of the CRL in force.")
              .Register(*registry_)
              .Add({})),
    crl_current(prometheus::BuildGauge()
                  .Name("herald_crl_current")
                  .Help("1 while a CRL is in force and before its "
                        "nextUpdate, else 0.")
                  .Register(*registry_)
                  .Add({})),
    audit_events(prometheus::BuildCounter()
                   .Name("herald_audit_events_total")
                   .Help("Audit events this node appended to the audit "
                         "log, by action.")
                   .Register(*registry_)),
    audit_events_dropped(prometheus::BuildCounter()
                           .Name("herald_audit_events_dropped_total")
                           .Help("Audit events this node could not append, "
                                 "by reason.")
                           .Register(*registry_)),
    audit_pending(prometheus::BuildGauge()
                    .Name("herald_audit_pending_events")
                    .Help("Audit events waiting for the audit log.")
                    .Register(*registry_)
                    .Add({})),
    audit_batch_size(prometheus::BuildHistogram()
                       .Name("herald_audit_batch_size")
                       .Help("Audit events per transaction.")
                       .Register(*registry_)
                       .Add({}, batch_buckets())),
    audit_peer_events(prometheus::BuildCounter()
                        .Name("herald_audit_peer_events_total")
                        .Help("Audit events other members had this node "
                              "write into the chain.")
                        .Register(*registry_)
                        .Add({})),
    cluster_members(prometheus::BuildGauge()
                      .Name("herald_cluster_members")
                      .Help("Cluster members this node is linked with, "
                            "itself included.")
                      .Register(*registry_)
                      .Add({})),
    cluster_member_changes(prometheus::BuildCounter()
                             .Name("herald_cluster_member_changes_total")
                             .Help("Members that joined, left or were lost, "
                                   "by event.")
                             .Register(*registry_)),
    cluster_returned_messages(
      prometheus::BuildCounter()
        .Name("herald_cluster_returned_messages_total")
        .Help("In-flight messages of lost members this node returned to "
              "pending.")
        .Register(*registry_)
        .Add({})),
    cluster_links(prometheus::BuildGauge()
                    .Name("herald_cluster_links")
                    .Help("Open links to other members, by direction.")
                    .Register(*registry_)),
    cluster_link_refusals(prometheus::BuildCounter()
                            .Name("herald_cluster_link_refusals_total")
                            .Help("Link attempts refused, by reason.")
                            .Register(*registry_)),
    cluster_lease_held(prometheus::BuildGauge()
                         .Name("herald_cluster_lease_held")
                         .Help("1 while this node holds the cluster lease "
                               "(audit writer, passes changes on).")
                         .Register(*registry_)
                         .Add({})),
    cluster_changes_applied(prometheus::BuildCounter()
                              .Name("herald_cluster_changes_applied_total")
                              .Help("Announced changes applied at once, by "
                                    "how this node learned of them.")
                              .Register(*registry_)) {
  // Known labels at 0 from the start: a node that runs alone still exports
  // the cluster families, and rate() sees the first change.
  for (const char* direction : {"in", "out"})
    cluster_links.Add({{"direction", direction}});
  for (const char* event : {"joined", "left", "lost"})
    cluster_member_changes.Add({{"event", event}});
  for (const char* via : {"feed", "broadcast"})
    cluster_changes_applied.Add({{"via", via}});
  for (const char* reason : {"no_certificate", "bad_chain", "revoked",
                             "handshake", "not_allowed", "limit"})
    cluster_link_refusals.Add({{"reason", reason}});
  prometheus::BuildGauge()
    .Name("herald_build_info")
    .Help("Always 1; the labels name the build and the node.")
    .Register(*registry_)
    .Add({{"version", herald::version},
          {"commit", herald::git_commit},
          {"node", node}})
    .Set(1);
  process_ = std::make_shared<process_collector>();
}

prometheus::Histogram::BucketBoundaries metrics::latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 5};
}

} // namespace herald
