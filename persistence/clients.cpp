#include "persistence/clients.hpp"

#include "core/errc.hpp"

namespace herald::persistence {

caf::expected<client_map> load_client_map(mysql_connection& db) {
  auto rows = db.query(
    "SELECT c.fingerprint, COALESCE(cl.id, 0), COALESCE(cl.name, ''), "
    "(cl.id IS NULL OR cl.status = 'active') AND c.status = 'active' "
    "AND (c.not_after IS NULL OR c.not_after > UTC_TIMESTAMP(6)), c.kind "
    "FROM certificates c LEFT JOIN clients cl ON cl.id = c.client_id",
    {});
  if (!rows)
    return rows.error();
  client_map result;
  for (auto& row : *rows)
    result.emplace(*row[0], client_identity{std::stoull(*row[1]), *row[2],
                                            *row[3] == "1", *row[4]});
  return result;
}

caf::expected<uint64_t> add_client(mysql_connection& db,
                                   const std::string& name,
                                   const std::string& owner,
                                   const certificate_record& cert) {
  uint64_t id = 0;
  auto err = db.transaction([&]() -> caf::error {
    auto taken = db.query("SELECT id FROM clients WHERE name = ?", {name});
    if (!taken)
      return taken.error();
    if (!taken->empty())
      return make_error(errc::invalid_input,
                        "client '" + name + "' exists already");
    auto known = db.query("SELECT client_id FROM certificates "
                          "WHERE fingerprint = ?",
                          {cert.fingerprint});
    if (!known)
      return known.error();
    if (!known->empty())
      return make_error(errc::invalid_input,
                        "this certificate is registered already");
    auto inserted
      = owner.empty()
          ? db.execute("INSERT INTO clients (name) VALUES (?)", {name})
          : db.execute("INSERT INTO clients (name, user_id) "
                       "SELECT ?, id FROM users WHERE username = ?",
                       {name, owner});
    if (!inserted)
      return inserted.error();
    if (*inserted == 0)
      return make_error(errc::invalid_input,
                        "no portal user '" + owner + "'");
    auto new_id = db.query("SELECT id FROM clients WHERE name = ?", {name});
    if (!new_id)
      return new_id.error();
    id = std::stoull(*new_id->front()[0]);
    auto registered = db.execute(
      "INSERT INTO certificates (fingerprint, client_id, serial, subject, "
      "not_before, not_after) VALUES (?, ?, ?, ?, ?, ?)",
      {cert.fingerprint, static_cast<int64_t>(id), cert.serial, cert.subject,
       sql_datetime(cert.not_before * 1000), sql_datetime(cert.not_after * 1000)});
    return registered ? caf::none : registered.error();
  });
  if (err)
    return err;
  return id;
}

caf::error set_client_status(mysql_connection& db, const std::string& name,
                             const std::string& status) {
  auto updated = db.execute("UPDATE clients SET status = ? WHERE name = ?",
                            {status, name});
  if (!updated)
    return updated.error();
  auto exists = db.query("SELECT id FROM clients WHERE name = ?", {name});
  if (!exists)
    return exists.error();
  if (exists->empty())
    return make_error(errc::not_found, "no client '" + name
                                         + "'; see heraldctl client list");
  return caf::none;
}

caf::expected<std::vector<client_summary>> list_clients(mysql_connection& db) {
  auto rows = db.query(
    "SELECT cl.id, cl.name, cl.status, COALESCE(u.username, ''), "
    "(SELECT COUNT(*) FROM certificates c WHERE c.client_id = cl.id "
    "AND c.status = 'active' AND c.not_after > NOW(6)), "
    "DATE_FORMAT(cl.created_at, '%Y-%m-%dT%H:%i:%sZ') "
    "FROM clients cl LEFT JOIN users u ON u.id = cl.user_id ORDER BY cl.name",
    {});
  if (!rows)
    return rows.error();
  std::vector<client_summary> result;
  for (auto& row : *rows)
    result.push_back({std::stoull(*row[0]), *row[1], *row[2], *row[3],
                      std::stoull(*row[4]), *row[5]});
  return result;
}

} // namespace herald::persistence
