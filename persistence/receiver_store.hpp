#pragma once

#include "core/messages.hpp"
#include "persistence/mysql.hpp"

#include <caf/expected.hpp>

#include <vector>

namespace herald::persistence {

/// Stores a batch of messages the receiver role got, in one transaction,
/// once per message id. Returns one flag per message, in order: true when
/// this call stored it, false for a duplicate (the id was stored before, or
/// an earlier message of the batch has it), which only counts on the row.
caf::expected<std::vector<bool>>
store_received(mysql_connection& db,
               const std::vector<received_message>& batch);

} // namespace herald::persistence
