#include "core/messages.hpp"

#include "core/inspection.hpp"

#include <algorithm>

namespace herald {

bool health_report::healthy() const {
  return !dependencies.empty()
         && std::all_of(dependencies.begin(), dependencies.end(),
                        [](const auto& x) { return x.up; });
}

std::string to_string(submit_outcome x) {
  switch (x) {
    case submit_outcome::accepted:
      return "accepted";
    case submit_outcome::replayed:
      return "replayed";
    case submit_outcome::in_progress:
      return "in_progress";
    case submit_outcome::key_reused:
      return "key_reused";
  }
  return "unknown";
}

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<dependency_status>("herald.dependency_status");
  cfg.add_message_type<health_report>("herald.health_report");
  cfg.add_message_type<stored_message>("herald.stored_message");
  cfg.add_message_type<submit_result>("herald.submit_result");
  cfg.add_message_type<message_status>("herald.message_status");
  cfg.add_message_type<sweep_report>("herald.sweep_report");
  // Also registers std::vector<received_message>, a receiver store's batch.
  cfg.add_message_type<received_message>("herald.received_message");
  // A receiver store's answer: one flag per message (CAF 0.17 serializes
  // std::vector<bool> as bytes).
  cfg.add_message_type<std::vector<bool>>("std::vector<bool>");
  cfg.add_message_type<http_request>("herald.http_request");
  cfg.add_message_type<http_response>("herald.http_response");
  cfg.add_message_type<audit_event>("herald.audit_event");
  cfg.add_message_type<work>("herald.work");
  cfg.add_message_type<schedule_retry>("herald.schedule_retry");
  cfg.add_message_type<retry_page>("herald.retry_page");
  // Also registers std::vector<member_info>, the answer to a join.
  cfg.add_message_type<member_info>("herald.member_info");
  // The vectors of these come along (the rows of a page, its clients, a
  // message's attempts).
  cfg.add_message_type<login_request>("herald.login_request");
  cfg.add_message_type<portal_user>("herald.portal_user");
  cfg.add_message_type<login_result>("herald.login_result");
  cfg.add_message_type<session_claims>("herald.session_claims");
  cfg.add_message_type<user_message_filter>("herald.user_message_filter");
  cfg.add_message_type<message_row>("herald.message_row");
  cfg.add_message_type<owned_client>("herald.owned_client");
  cfg.add_message_type<message_page>("herald.message_page");
  cfg.add_message_type<attempt_row>("herald.attempt_row");
  cfg.add_message_type<message_detail>("herald.message_detail");
  // The message admin's (vectors of rows, nodes and certificates come along).
  cfg.add_message_type<failed_filter>("herald.failed_filter");
  cfg.add_message_type<failed_message>("herald.failed_message");
  cfg.add_message_type<failed_page>("herald.failed_page");
  cfg.add_message_type<requeue_request>("herald.requeue_request");
  cfg.add_message_type<requeue_result>("herald.requeue_result");
  cfg.add_message_type<audit_filter>("herald.audit_filter");
  cfg.add_message_type<audit_row>("herald.audit_row");
  cfg.add_message_type<audit_page>("herald.audit_page");
  cfg.add_message_type<audit_status>("herald.audit_status");
  cfg.add_message_type<node_health>("herald.node_health");
  cfg.add_message_type<expiring_certificate>("herald.expiring_certificate");
  cfg.add_message_type<overview>("herald.overview");
  // The account admin's (vectors come along: user and client lists).
  cfg.add_message_type<user_entry>("herald.user_entry");
  cfg.add_message_type<user_change>("herald.user_change");
  cfg.add_message_type<own_password_change>("herald.own_password_change");
  cfg.add_message_type<certificate_entry>("herald.certificate_entry");
  cfg.add_message_type<client_entry>("herald.client_entry");
  cfg.add_message_type<client_filter>("herald.client_filter");
  cfg.add_message_type<client_listing>("herald.client_listing");
  cfg.add_message_type<client_change>("herald.client_change");
  cfg.add_message_type<issued_bundle>("herald.issued_bundle");
  cfg.add_message_type<revocation>("herald.revocation");
  cfg.add_message_type<revocation_result>("herald.revocation_result");
  // The inspector's answers; the vectors come along.
  cfg.add_message_type<actor_report>("herald.actor_report");
  cfg.add_message_type<node_report>("herald.node_report");
  cfg.add_message_type<queue_report>("herald.queue_report");
  cfg.add_message_type<trace_hop>("herald.trace_hop");
  cfg.add_message_type<trace_report>("herald.trace_report");
}

} // namespace herald
