#!/usr/bin/env bash
# End to end: Herald's own CA. heraldctl creates the CA and the server and
# client certificates; the real heraldd enforces them in the TLS handshake,
# with curl and openssl s_client as clients: valid, revoked while the node
# runs, expired, wrong CA, no certificate. Also renewal, verify verdicts,
# bad inputs, the CRL fallback, metrics and the audit chain.
# Usage: pki_test.sh HERALDD HERALDCTL
set -uo pipefail

HERALDD=$1
HERALDCTL=$2
source "$(dirname "$0")/lib.sh"

ca="$tmp/ca"
issued="$tmp/issued"
cat >>"$ini" <<INI

[pki]
ca-dir="$ca"
crl-file="$ca/crl.pem"
crl-refresh=1s
INI
must "the configuration names the test CA" grep -q "^crl-file=\"$ca/crl.pem\"" "$ini"
ctl() { "$HERALDCTL" "$@" --config-file "$ini"; }
mode_of() { stat -c %a "$1"; }

must "heraldctl db migrate applies the schema" \
  "$HERALDCTL" db migrate --config-file "$ini"

# -- the CA ------------------------------------------------------------------------

check "ca init creates the CA" ctl ca init
check "the CA key is mode 0600" test "$(mode_of "$ca/ca.key")" = 600
check "ca init publishes an empty CRL" grep -q 'BEGIN X509 CRL' "$ca/crl.pem"
before=$(sha256sum "$ca/ca.key")
out=$(ctl ca init 2>&1)
code=$?
check "a second ca init is refused and says so" \
  test "$code" -ne 0 -a -n "$(grep -F 'exists already' <<<"$out")"
check "the refused ca init changed nothing" \
  test "$(sha256sum "$ca/ca.key")" = "$before"
check "ca init --help works" bash -c "'$HERALDCTL' ca init --help | grep -q algorithm"

# -- certificates --------------------------------------------------------------------

check "cert server issues the node's certificate" \
  ctl cert server --dns localhost --ip 127.0.0.1 --name server --out "$issued"
export HERALD_P12_PASSWORD=bundle-password-1
check "cert issue issues a client certificate with a PKCS#12 bundle" \
  ctl cert issue --client acme --out "$issued" --p12
unset HERALD_P12_PASSWORD
check "cert issue registers a second client" \
  ctl cert issue --client globex --out "$issued"
check "a client key is mode 0600" test "$(mode_of "$issued/acme.key")" = 600
check "the PKCS#12 bundle opens with its password" \
  openssl pkcs12 -in "$issued/acme.p12" -passin pass:bundle-password-1 \
  -nokeys -out /dev/null
check "the client certificate is for clientAuth" \
  bash -c "openssl x509 -in '$issued/acme.crt' -noout -ext extendedKeyUsage | grep -q 'TLS Web Client Authentication'"
check "the server certificate names localhost and 127.0.0.1" \
  bash -c "openssl x509 -in '$issued/server.crt' -noout -ext subjectAltName | grep -q 'DNS:localhost, IP Address:127.0.0.1'"
out=$(ctl cert issue --client acme --out "$issued" 2>&1)
code=$?
check "issuing over existing files is refused" \
  test "$code" -ne 0 -a -n "$(grep -F 'exists already' <<<"$out")"
check "the refused issue registered nothing" \
  test "$(sql "SELECT COUNT(*) FROM certificates c JOIN clients cl ON cl.id = c.client_id WHERE cl.name = 'acme'")" = 1

# The node now uses the CA's certificates.
must "the node configuration switches to the CA's certificates" \
  sed -i -e "s#^certificate=.*#certificate=\"$issued/server.crt\"#" \
  -e "s#^key=.*#key=\"$issued/server.key\"#" \
  -e "s#^ca=.*#ca=\"$ca/ca.crt\"#" "$ini"
must "... every TLS setting names them" \
  test "$(grep -c -e "^certificate=\"$issued/server.crt\"" -e "^key=\"$issued/server.key\"" -e "^ca=\"$ca/ca.crt\"" "$ini")" = 6

# An expired certificate from the same CA (issued with a past validity
# window through openssl ca, which heraldctl deliberately cannot do).
mkdir -p "$tmp/openssl-ca"
touch "$tmp/openssl-ca/index.txt"
cat >"$tmp/openssl-ca/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
database = $tmp/openssl-ca/index.txt
new_certs_dir = $tmp/openssl-ca
serial = $tmp/openssl-ca/serial
default_md = sha256
policy = p
x509_extensions = ext
[p]
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
CNF
openssl rand -hex 16 >"$tmp/openssl-ca/serial"
must "a key and request for the expired certificate" \
  quietly openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$issued/expired.key" -subj "/O=Herald/CN=expired" \
  -out "$tmp/expired.csr"
must "openssl ca signs the expired certificate" \
  quietly openssl ca -batch -config "$tmp/openssl-ca/ca.cnf" -cert "$ca/ca.crt" \
  -keyfile "$ca/ca.key" -in "$tmp/expired.csr" -out "$issued/expired.crt" \
  -startdate 20200101000000Z -enddate 20200201000000Z -notext
expired_already() {
  need_files "$issued/expired.crt" "$issued/expired.key" &&
    openssl x509 -in "$issued/expired.crt" -noout -enddate | grep -q 'Feb  1 00:00:00 2020 GMT'
}
must "the expired certificate ended on 2020-02-01" expired_already
must "the expired certificate's client is registered" \
  ctl client add expired --certificate "$issued/expired.crt"

# -- verify ----------------------------------------------------------------------------

check "cert verify calls a fresh certificate valid" \
  bash -c "'$HERALDCTL' cert verify '$issued/acme.crt' --config-file '$ini' | grep -q ': valid: '"
out=$(ctl cert verify "$issued/expired.crt")
check "cert verify calls an expired certificate expired" grep -q 'INVALID: expired' <<<"$out"
out=$(ctl cert verify "$pki/rogue-client.crt")
check "cert verify names a foreign certificate" grep -q 'not issued by this CA' <<<"$out"
head -c 300 "$issued/acme.crt" >"$tmp/corrupt.crt"
out=$(ctl cert verify "$tmp/corrupt.crt")
check "cert verify calls a corrupt file corrupt" grep -q 'not a PEM certificate' <<<"$out"

# -- handshakes ------------------------------------------------------------------------

# as_cert NAME CURL_ARGS...: curl with issued certificate NAME.
as_cert() {
  local name=$1
  shift
  curl -s --max-time 10 --cacert "$ca/ca.crt" --cert "$issued/$name.crt" \
    --key "$issued/$name.key" "$@"
}
ca_healthy() {
  [[ "$(as_cert globex -o /dev/null -w '%{http_code}' "$base/api/v1/health")" == 200 ]]
}
"$HERALDD" --config-file="$ini" --recovery.clients-refresh=500ms \
  >>"$tmp/heraldd.out" 2>&1 &
node_pid=$!
must "the node starts with the CA's certificates" herald_wait_until 20 ca_healthy
# The negative checks' liveness probe (checks.sh) must use this CA.
healthy() { ca_healthy; }
target="127.0.0.1:$HERALD_HTTPS_PORT"
submit_as() {
  as_cert "$1" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"sender_number":"+4915112345678","message_body":"hello"}' \
    "$base/api/v1/messages"
}
# s_client_get CERT KEY: one GET over openssl s_client; prints the status line.
s_client_get() {
  printf 'GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
    timeout 10 openssl s_client -quiet -connect "127.0.0.1:$HERALD_HTTPS_PORT" \
      -CAfile "$ca/ca.crt" -cert "$1" -key "$2" 2>/dev/null | head -n 1
}
check "a valid client certificate submits (202)" test "$(submit_as acme)" = 202
check "openssl s_client completes a request with it" \
  grep -q 'HTTP/1.1 200' <<<"$(s_client_get "$issued/acme.crt" "$issued/acme.key")"
check "an expired certificate fails the handshake (curl: certificate expired)" \
  curl_refused "alert certificate expired" "$base/api/v1/health" \
  --cacert "$ca/ca.crt" --cert "$issued/expired.crt" --key "$issued/expired.key"
check "openssl s_client with the expired certificate gets 'certificate expired'" \
  refused_with "alert certificate expired" "$target" -CAfile "$ca/ca.crt" \
  -cert "$issued/expired.crt" -key "$issued/expired.key"
check "a certificate of another CA fails the handshake (curl: unknown ca)" \
  curl_refused "alert unknown ca" "$base/api/v1/health" --cacert "$ca/ca.crt" \
  --cert "$pki/rogue-client.crt" --key "$pki/rogue-client.key"
check "openssl s_client with another CA's certificate gets 'unknown ca'" \
  refused_with "alert unknown ca" "$target" -CAfile "$ca/ca.crt" \
  -cert "$pki/rogue-client.crt" -key "$pki/rogue-client.key"
check "no client certificate fails the handshake (certificate required)" \
  curl_refused "alert certificate required" "$base/api/v1/health" \
  --cacert "$ca/ca.crt"

# -- renewal keeps the client -------------------------------------------------------------

out=$(as_cert globex -H 'Content-Type: application/json' \
  -d '{"sender_number":"+4915112345678","message_body":"before renewal"}' \
  "$base/api/v1/messages")
id=$(sed -n 's/.*"message_id":"\([^"]*\)".*/\1/p' <<<"$out")
check "cert renew issues a new certificate for the client" \
  ctl cert renew --client globex --out "$issued/renewed"
renewed_status() {
  curl -s --max-time 10 --cacert "$ca/ca.crt" \
    --cert "$issued/renewed/globex.crt" --key "$issued/renewed/globex.key" \
    -o /dev/null -w '%{http_code}' "$base/api/v1/messages/$id"
}
ok_200() { [[ "$(renewed_status)" == 200 ]]; }
check "the renewed certificate reads the client's earlier message" \
  herald_wait_until 5 ok_200
check "the old certificate still works after renewal" \
  test "$(submit_as globex)" = 202
out=$(ctl cert renew --client nobody --out "$tmp/x" 2>&1)
check "renewing an unknown client is refused" grep -q "no client 'nobody'" <<<"$out"

# -- revocation while the node runs -----------------------------------------------------------

serial=$(openssl x509 -in "$issued/acme.crt" -noout -serial | cut -d= -f2)
# A kept-alive connection: one request now, one after the revocation.
get_msg="GET /api/v1/messages/$id HTTP/1.1\r\nHost: localhost\r\n\r\n"
(printf "$get_msg"; sleep 5; printf "$get_msg") |
  timeout 15 openssl s_client -quiet -connect "127.0.0.1:$HERALD_HTTPS_PORT" \
    -CAfile "$ca/ca.crt" -cert "$issued/acme.crt" -key "$issued/acme.key" \
    >"$tmp/keepalive.out" 2>/dev/null &
keepalive_pid=$!
sleep 1
check "cert revoke revokes by serial and publishes the CRL" \
  ctl cert revoke "$serial" --reason keyCompromise
started=$SECONDS
refused() {
  refused_with "alert certificate revoked" "$target" -CAfile "$ca/ca.crt" \
    -cert "$issued/acme.crt" -key "$issued/acme.key"
}
check "the revoked certificate fails the handshake within 5 s (certificate revoked)" \
  herald_wait_until 5 refused
check "... and curl is refused too (certificate revoked)" \
  curl_refused "alert certificate revoked" "$base/api/v1/messages" \
  --cacert "$ca/ca.crt" --cert "$issued/acme.crt" --key "$issued/acme.key" \
  -H 'Content-Type: application/json' \
  -d '{"sender_number":"+4915112345678","message_body":"hello"}'
echo "     (refused after $((SECONDS - started)) s)"
wait "$keepalive_pid"
statuses=$(grep -ao 'HTTP/1.1 [0-9]*' "$tmp/keepalive.out" | tr '\n' ' ')
check "a kept-alive connection of the revoked certificate gets 403 ($statuses)" \
  test "$statuses" = "HTTP/1.1 404 HTTP/1.1 403 "
check "other clients are unaffected" test "$(submit_as globex)" = 202
# The node's audit actor records when it began to enforce it, under the
# serial that cert revoke recorded.
node_audited() {
  test "$(sql "SELECT COUNT(*) FROM audit_log WHERE action = '$1' AND target $2 AND outcome = '$3' AND source LIKE 'heraldd@%'")" -ge 1
}
check "the node audits the revocation it enforces (revocation.enforce <serial>)" \
  herald_wait_until 5 node_audited revocation.enforce "= '$serial'" ok
check "... and the client directory's view of it (registry.disable acme)" \
  herald_wait_until 5 node_audited registry.disable "= 'acme'" ok
out=$(ctl cert verify "$issued/acme.crt")
check "cert verify calls it revoked with its reason" \
  grep -q 'INVALID: revoked.*keyCompromise' <<<"$out"
out=$(ctl cert show "$serial")
check "cert show reports the revocation" grep -q 'keyCompromise' <<<"$out"
check "cert list --status revoked lists it" \
  bash -c "'$HERALDCTL' cert list --status revoked --json --config-file '$ini' | grep -q '\"serial\":\"$serial\"'"
out=$(ctl cert revoke "$serial" --reason superseded 2>&1)
check "revoking twice is refused" grep -q 'revoked already' <<<"$out"
out=$(ctl cert revoke ABCDEF0123 --reason superseded 2>&1)
code=$?
check "revoking an unknown serial is refused" \
  test "$code" -ne 0 -a -n "$(grep -F 'no certificate' <<<"$out")"
out=$(ctl cert revoke "$serial" --reason because 2>&1)
check "an unknown reason is refused" grep -q 'use keyCompromise' <<<"$out"

# -- the CRL goes bad: nobody is locked out, revocation stays ----------------------------------

cp "$ca/crl.pem" "$tmp/good-crl.pem"
echo garbage >"$ca/crl.pem"
sleep 2.5
metrics() { curl -s --max-time 5 "http://127.0.0.1:$HERALD_METRICS_PORT/metrics"; }
check "a corrupt CRL is reported (herald_crl_current 0)" \
  grep -q '^herald_crl_current 0' <<<"$(metrics)"
check "with a corrupt CRL valid clients still submit" test "$(submit_as globex)" = 202
check "the node audits the CRL it rejected (crl.reload failed)" \
  herald_wait_until 5 node_audited crl.reload "LIKE '%crl.pem'" failed
check "with a corrupt CRL the revoked certificate stays refused (certificate revoked)" \
  refused
rm -f "$ca/crl.pem"
sleep 2.5
check "with the CRL gone valid clients still submit" test "$(submit_as globex)" = 202
check "crl publishes a fresh CRL" ctl crl
current() { grep -q '^herald_crl_current 1' <<<"$(metrics)"; }
check "the fresh CRL is picked up (herald_crl_current 1)" herald_wait_until 5 current
m=$(metrics)
check "metrics count certificates by status" \
  grep -q '^herald_certificates{status="revoked"} 1' <<<"$m"
check "metrics report the earliest client certificate expiry" \
  grep -Eq '^herald_client_certificate_expiry_seconds [0-9.e+]+$' <<<"$m"
check "metrics report the CRL age" grep -q '^herald_crl_age_seconds ' <<<"$m"
# expiry_of PURPOSE: seconds until the node's certificate for PURPOSE expires.
expiry_of() {
  sed -n "s/^herald_tls_certificate_expiry_seconds{certificate=\"$1\"} //p" <<<"$m"
}
check "metrics report when the listener's certificate expires (days ahead)" \
  awk -v s="$(expiry_of ingress)" 'BEGIN { exit !(s > 86400 && s <= 3660 * 86400) }'
check "... and its CA's, later" \
  awk -v s="$(expiry_of ingress-ca)" -v l="$(expiry_of ingress)" \
  'BEGIN { exit !(s + 0 >= l + 0 && l > 0) }'

# -- a passphrase-protected CA ----------------------------------------------------------------

sed "s#^ca-dir=.*#ca-dir=\"$tmp/locked-ca\"#; s#^crl-file=.*#crl-file=\"$tmp/locked-ca/crl.pem\"#" \
  "$ini" >"$tmp/locked.ini"
(umask 077 && echo 'right passphrase' >"$tmp/pass" && echo 'wrong one' >"$tmp/wrong")
check "ca init with a passphrase file" \
  "$HERALDCTL" ca init --config-file "$tmp/locked.ini" --passphrase-file "$tmp/pass"
check "the encrypted CA key is mode 0600" test "$(mode_of "$tmp/locked-ca/ca.key")" = 600
check "the CA key is encrypted" grep -q 'ENCRYPTED PRIVATE KEY' "$tmp/locked-ca/ca.key"
out=$("$HERALDCTL" cert issue --client locked --out "$tmp/locked-out" \
  --config-file "$tmp/locked.ini" --passphrase-file "$tmp/wrong" 2>&1)
code=$?
check "a wrong passphrase fails clearly" \
  test "$code" -ne 0 -a -n "$(grep -F 'wrong passphrase' <<<"$out")"
check "... and changes nothing" \
  test "$(sql "SELECT COUNT(*) FROM clients WHERE name = 'locked'")" = 0 -a ! -e "$tmp/locked-out/locked.key"
check "the right passphrase from the environment works" \
  env HERALD_CA_PASSPHRASE='right passphrase' "$HERALDCTL" cert issue \
  --client locked --out "$tmp/locked-out" --config-file "$tmp/locked.ini"

# -- the audit chain ----------------------------------------------------------------------------

check "every operation is in the audit log" \
  test "$(sql "SELECT COUNT(*) FROM audit_log WHERE action IN ('ca.init', 'cert.issue', 'cert.revoke', 'cert.renew', 'crl.publish')")" -ge 6
check "audit verify finds the chain intact" ctl audit verify
sql "UPDATE audit_log SET target = 'mallory' WHERE id = 3"
out=$(ctl audit verify)
code=$?
check "audit verify reports an edited row" \
  test "$code" -ne 0 -a -n "$(grep -F 'BROKEN at row 3' <<<"$out")"

check "SIGTERM stops the node with exit code 0" stop_node
e2e_finish
