#pragma once

// The atoms of the actor interfaces in actors/actors.hpp.

#include <caf/atom.hpp>

namespace herald {

/// Asks a probe to check its dependencies now.
using probe_atom = caf::atom_constant<caf::atom("probe")>;

/// A periodic timer fired.
using tick_atom = caf::atom_constant<caf::atom("tick")>;

/// Submits a message for durable storage.
using submit_atom = caf::atom_constant<caf::atom("submit")>;

/// Writes a batch to MySQL / a batch timer fired.
using write_atom = caf::atom_constant<caf::atom("write")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;

/// A batch is committed (and queued), or its rows are to be rejected.
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using reject_atom = caf::atom_constant<caf::atom("reject")>;

/// Records a message the receiver role got.
using receive_atom = caf::atom_constant<caf::atom("receive")>;

/// Moves due retries back to the queue.
using promote_atom = caf::atom_constant<caf::atom("promote")>;

/// Starts the ingress's listener.
using listen_atom = caf::atom_constant<caf::atom("listen")>;

/// An I/O thread hands a request to the ingress.
using request_atom = caf::atom_constant<caf::atom("request")>;

/// Finishes what is in progress before a shutdown: the ingress stops
/// accepting and waits for the open requests; the audit actor writes
/// everything that waits.
using drain_atom = caf::atom_constant<caf::atom("drain")>;

/// A retry due time armed by the retry-timer came.
using fire_atom = caf::atom_constant<caf::atom("fire")>;

/// A delivery actor's idle poll (backstop for lost `work`) came.
using poll_atom = caf::atom_constant<caf::atom("poll")>;

/// Reads the next part of the durable retry schedule.
using page_atom = caf::atom_constant<caf::atom("page")>;

/// Runs a recovery sweep now.
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;

/// Reloads what a timer reloads, now (a change was announced).
using reload_atom = caf::atom_constant<caf::atom("reload")>;

/// An administrative change (revocation, disabled client, data key, CRL)
/// was announced; members apply it at once.
using change_atom = caf::atom_constant<caf::atom("change")>;

/// Names the actor that writes the audit chain for the cluster.
using lead_atom = caf::atom_constant<caf::atom("lead")>;

/// Appends another node's audit events to the chain.
using append_atom = caf::atom_constant<caf::atom("append")>;

/// Portal: checks a login, a session, ends a session.
using login_atom = caf::atom_constant<caf::atom("login")>;
using session_atom = caf::atom_constant<caf::atom("session")>;
using logout_atom = caf::atom_constant<caf::atom("logout")>;

/// Admin pages: opens a message's body (audited), lists failed messages,
/// queues them again, reads the audit log, verifies its chain, gathers the
/// overview.
using reveal_atom = caf::atom_constant<caf::atom("reveal")>;
using failed_atom = caf::atom_constant<caf::atom("failed")>;
using requeue_atom = caf::atom_constant<caf::atom("requeue")>;
using audit_atom = caf::atom_constant<caf::atom("audit")>;
using verify_atom = caf::atom_constant<caf::atom("verify")>;
using overview_atom = caf::atom_constant<caf::atom("overview")>;
/// Portal administration: the user list, the client list, the certificate
/// list, a user's own password.
using users_atom = caf::atom_constant<caf::atom("users")>;
using clients_atom = caf::atom_constant<caf::atom("clients")>;
using certs_atom = caf::atom_constant<caf::atom("certs")>;
using passwd_atom = caf::atom_constant<caf::atom("passwd")>;
/// Inspector: the cluster's nodes, this node's actors, the delivery queue,
/// a message's path.
using nodes_atom = caf::atom_constant<caf::atom("nodes")>;
using actors_atom = caf::atom_constant<caf::atom("actors")>;
using queue_atom = caf::atom_constant<caf::atom("queue")>;
using trace_atom = caf::atom_constant<caf::atom("trace")>;

} // namespace herald
