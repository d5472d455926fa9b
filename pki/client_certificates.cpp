#include "pki/client_certificates.hpp"

#include "core/errc.hpp"

#include <cctype>

namespace herald::pki {

caf::error check_client_name(const std::string& name) {
  auto bad = [&name] {
    return make_error(errc::invalid_input,
                      "client name: use 1 to 64 letters, digits, '.', '_' or "
                      "'-', not starting with '.' or '-'");
  };
  if (name.empty() || name.size() > 64 || name.front() == '.'
      || name.front() == '-')
    return bad();
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_'
        && c != '-')
      return bad();
  return caf::none;
}

caf::expected<client_issue>
issue_client_certificate(persistence::mysql_connection& db,
                         const authority& ca, const std::string& name,
                         int64_t days, bool renew) {
  if (auto err = check_client_name(name))
    return err;
  if (days < 1 || days > 3650)
    return make_error(errc::invalid_input,
                      "validity: 1 to 3650 days");
  auto exists = db.query("SELECT id FROM clients WHERE name = ?", {name});
  if (!exists)
    return exists.error();
  if (renew && exists->empty())
    return make_error(errc::not_found,
                      "no client '" + name
                        + "' to renew; issue its first certificate");
  issue_request req;
  req.common_name = name;
  req.days = days;
  auto cert = ca.issue(req);
  if (!cert)
    return cert.error();
  return client_issue{std::move(*cert), name, exists->empty()};
}

caf::error register_client_certificate(persistence::mysql_connection& db,
                                       const client_issue& x,
                                       const std::string& owner) {
  auto record = to_record(x.cert.info);
  if (x.new_client) {
    auto id = persistence::add_client(db, x.client, owner, record);
    return id ? caf::none : id.error();
  }
  auto id = persistence::add_certificate(db, x.client, record);
  return id ? caf::none : id.error();
}

persistence::certificate_record to_record(const cert_info& info) {
  return {info.fingerprint, info.serial, info.subject, info.not_before,
          info.not_after};
}

caf::error check_revocation_reason(const std::string& reason) {
  if (is_revocation_reason(reason))
    return caf::none;
  return make_error(errc::invalid_input,
                    "reason: use keyCompromise, superseded, "
                    "cessationOfOperation, affiliationChanged, cACompromise "
                    "or unspecified");
}

caf::expected<persistence::certificate_row>
revoke_certificate(persistence::mysql_connection& db, const std::string& id,
                   const std::string& reason) {
  if (auto err = check_revocation_reason(reason))
    return err;
  auto c = persistence::find_certificate(db, id);
  if (!c)
    return c.error();
  if (auto err = persistence::revoke_certificate(db, c->fingerprint, reason))
    return err;
  return c;
}

caf::error publish_crl(persistence::mysql_connection& db, const authority& ca,
                       const std::string& crl_file, int64_t days) {
  auto revoked = persistence::revoked_certificates(db);
  if (!revoked)
    return revoked.error();
  std::vector<revoked_entry> entries;
  for (const auto& row : *revoked)
    entries.push_back({row.serial, row.revoked_at, row.revocation_reason});
  // Two CRLs may be published within one second; the new one must still
  // have the higher number (nodes tell CRLs apart by it).
  int64_t min_number = 0;
  if (auto old = read_file(crl_file))
    if (auto number = crl_number(*old))
      min_number = *number + 1;
  auto crl = ca.make_crl(entries, days, 0, min_number);
  if (!crl)
    return crl.error();
  return replace_file(crl_file, *crl, 0644);
}

std::string issue_detail(const cert_info& info) {
  return "serial " + info.serial + " fingerprint " + info.fingerprint;
}

std::string revoke_detail(const persistence::certificate_row& c,
                          const std::string& reason) {
  return "reason " + reason + " client " + (c.client.empty() ? "-" : c.client)
         + " fingerprint " + c.fingerprint;
}

} // namespace herald::pki
