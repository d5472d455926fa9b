#include "persistence/certificates.hpp"

#include "core/errc.hpp"

#include <algorithm>
#include <cctype>

namespace herald::persistence {

namespace {

/// The columns certificate_row reads, in order.
constexpr const char* row_columns
  = "SELECT c.fingerprint, COALESCE(c.serial, ''), COALESCE(c.subject, ''), "
    "c.kind, COALESCE(cl.name, ''), c.status, "
    "COALESCE(c.revocation_reason, ''), "
    "COALESCE((TIMESTAMPDIFF(SECOND, '1970-01-01', c.not_before)), 0), "
    "COALESCE((TIMESTAMPDIFF(SECOND, '1970-01-01', c.not_after)), 0), "
    "COALESCE((TIMESTAMPDIFF(SECOND, '1970-01-01', c.revoked_at)), 0), "
    "TIMESTAMPDIFF(SECOND, '1970-01-01', c.created_at) "
    "FROM certificates c LEFT JOIN clients cl ON cl.id = c.client_id ";

certificate_row to_row(const sql_row& r) {
  auto num = [](const std::optional<std::string>& x) -> int64_t {
    return x && !x->empty() ? std::stoll(*x) : 0;
  };
  return {*r[0], *r[1],     *r[2],     *r[3],     *r[4],     *r[5],
          *r[6], num(r[7]), num(r[8]), num(r[9]), num(r[10])};
}

} // namespace

caf::expected<uint64_t> add_certificate(mysql_connection& db,
                                        const std::string& client,
                                        const certificate_record& cert) {
  auto found = db.query("SELECT id FROM clients WHERE name = ?", {client});
  if (!found)
    return found.error();
  if (found->empty())
    return make_error(errc::not_found,
                      "no client '" + client + "'; see heraldctl client list");
  auto id = std::stoull(*found->front()[0]);
  auto inserted = db.execute(
    "INSERT INTO certificates (fingerprint, client_id, serial, subject, "
    "not_before, not_after) VALUES (?, ?, ?, ?, ?, ?)",
    {cert.fingerprint, static_cast<int64_t>(id), cert.serial, cert.subject,
     sql_datetime(cert.not_before * 1000),
     sql_datetime(cert.not_after * 1000)});
  if (!inserted)
    return inserted.error();
  return id;
}

caf::error add_server_certificate(mysql_connection& db,
                                  const certificate_record& cert,
                                  const std::string& kind) {
  auto inserted = db.execute(
    "INSERT INTO certificates (fingerprint, kind, serial, subject, "
    "not_before, not_after) VALUES (?, ?, ?, ?, ?, ?)",
    {cert.fingerprint, kind, cert.serial, cert.subject,
     sql_datetime(cert.not_before * 1000),
     sql_datetime(cert.not_after * 1000)});
  return inserted ? caf::none : inserted.error();
}

caf::expected<std::vector<certificate_row>>
list_certificates(mysql_connection& db, const std::string& status,
                  int64_t expiring_within) {
  std::string sql = row_columns;
  std::vector<sql_param> params;
  if (status == "active" || status == "revoked") {
    sql += "WHERE c.status = ? ";
    params.emplace_back(status);
    if (status == "active")
      sql += "AND (c.not_after IS NULL OR c.not_after > UTC_TIMESTAMP(6)) ";
  } else if (status == "expired") {
    sql += "WHERE c.status = 'active' AND c.not_after <= UTC_TIMESTAMP(6) ";
  } else if (!status.empty()) {
    return make_error(errc::invalid_input,
                      "unknown status '" + status
                        + "'; use active, revoked or expired");
  } else {
    sql += "WHERE 1 = 1 ";
  }
  if (expiring_within >= 0) {
    sql += "AND c.status = 'active' AND c.not_after > UTC_TIMESTAMP(6) "
           "AND c.not_after <= UTC_TIMESTAMP(6) + INTERVAL ? SECOND ";
    params.emplace_back(expiring_within);
  }
  sql += "ORDER BY c.not_after, c.fingerprint";
  auto rows = db.query(sql, params);
  if (!rows)
    return rows.error();
  std::vector<certificate_row> result;
  for (const auto& r : *rows)
    result.push_back(to_row(r));
  return result;
}

caf::expected<certificate_row> find_certificate(mysql_connection& db,
                                                const std::string& id) {
  auto key = id;
  key.erase(std::remove(key.begin(), key.end(), ':'), key.end());
  bool hex = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  });
  if (!hex)
    return make_error(errc::invalid_input,
                      "'" + id
                        + "' is neither a serial nor a fingerprint "
                          "(hex digits); see heraldctl cert list");
  std::string lower = key;
  std::string upper = key;
  for (auto& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto rows = db.query(std::string{row_columns}
                         + "WHERE c.fingerprint = ? OR c.serial = ?",
                       {lower, upper});
  if (!rows)
    return rows.error();
  if (rows->empty())
    return make_error(errc::not_found,
                      "no certificate with serial or fingerprint '" + id
                        + "'; see heraldctl cert list");
  return to_row(rows->front());
}

caf::error revoke_certificate(mysql_connection& db,
                              const std::string& fingerprint,
                              const std::string& reason) {
  auto updated = db.execute(
    "UPDATE certificates SET status = 'revoked', revoked_at = "
    "UTC_TIMESTAMP(6), revocation_reason = ? WHERE fingerprint = ? AND "
    "status = 'active'",
    {reason, fingerprint});
  if (!updated)
    return updated.error();
  if (*updated == 0)
    return make_error(errc::invalid_input,
                      "the certificate is revoked already (or unknown)");
  return caf::none;
}

caf::expected<std::vector<certificate_row>>
revoked_certificates(mysql_connection& db) {
  return list_certificates(db, "revoked", -1);
}

caf::expected<certificate_stats> certificate_statistics(mysql_connection& db) {
  auto rows = db.query(
    "SELECT "
    "SUM(status = 'active' AND (not_after IS NULL "
    "  OR not_after > UTC_TIMESTAMP(6))), "
    "SUM(status = 'revoked'), "
    "SUM(status = 'active' AND not_after <= UTC_TIMESTAMP(6)), "
    "(SELECT COALESCE(MIN(TIMESTAMPDIFF(SECOND, '1970-01-01', c.not_after)), "
    "  0) FROM certificates c JOIN clients cl ON cl.id = c.client_id "
    "  WHERE c.status = 'active' AND cl.status = 'active' "
    "  AND c.not_after > UTC_TIMESTAMP(6)) "
    "FROM certificates",
    {});
  if (!rows)
    return rows.error();
  certificate_stats result;
  if (rows->empty())
    return result;
  const auto& r = rows->front();
  auto num = [](const std::optional<std::string>& x) -> int64_t {
    return x && !x->empty() ? std::stoll(*x) : 0;
  };
  result.active = num(r[0]);
  result.revoked = num(r[1]);
  result.expired = num(r[2]);
  result.earliest_client_expiry = num(r[3]);
  return result;
}

} // namespace herald::persistence
