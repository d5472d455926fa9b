#include "persistence/receiver_store.hpp"

#include "core/errc.hpp"

#include <algorithm>
#include <numeric>
#include <set>
#include <string>

namespace herald::persistence {

caf::expected<std::vector<bool>>
store_received(mysql_connection& db,
               const std::vector<received_message>& batch) {
  std::vector<bool> fresh;
  if (batch.empty())
    return fresh;
  // Rows go in id order, so that concurrent batches lock shared ids in the
  // same order; equal ids keep batch order, so the first copy is the one
  // stored and the others count as duplicates.
  std::vector<size_t> order(batch.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return batch[x].id < batch[y].id;
  });
  std::vector<sql_param> ids;
  std::vector<sql_param> rows;
  ids.reserve(batch.size());
  rows.reserve(batch.size() * 8);
  for (auto i : order) {
    const auto& m = batch[i];
    ids.emplace_back(m.id);
    rows.insert(rows.end(),
                {m.id, m.sender_hash, m.sender_masked,
                 static_cast<int64_t>(m.key_id), m.nonce, m.ciphertext,
                 sql_datetime(m.created_ms), static_cast<int64_t>(m.attempt)});
  }
  auto err = db.transaction([&]() -> caf::error {
    auto known = db.query("SELECT message_id FROM received_messages "
                          "WHERE message_id IN ("
                            + sql_repeat("?", ids.size()) + ")",
                          ids);
    if (!known)
      return known.error();
    std::set<std::string> seen;
    for (auto& row : *known)
      seen.insert(std::move(*row[0]));
    fresh.assign(batch.size(), false);
    // MySQL counts an inserted row as 1 affected row, an updated one as 2.
    uint64_t expected_rows = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      fresh[i] = seen.insert(batch[i].id).second;
      expected_rows += fresh[i] ? 1 : 2;
    }
    auto done = db.execute(
      "INSERT INTO received_messages (message_id, sender_hash, sender_masked, "
      "body_key_id, body_nonce, body_ciphertext, created_at, attempt) VALUES "
        + sql_repeat("(?, ?, ?, ?, ?, ?, ?, ?)", batch.size())
        + " ON DUPLICATE KEY UPDATE duplicates = duplicates + 1",
      rows);
    if (!done)
      return done.error();
    // Another writer stored one of the ids between the read and the insert:
    // roll back and read again, so that every id is new exactly once.
    if (*done != expected_rows)
      return make_error(errc::conflict,
                        "received messages stored concurrently");
    return caf::none;
  });
  if (err)
    return err;
  return fresh;
}

} // namespace herald::persistence
