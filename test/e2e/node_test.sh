#!/usr/bin/env bash
# End to end: the real heraldd and heraldctl against the MariaDB that
# ops/test started and a Redis of this test's own (it is stopped midway),
# with curl and openssl as clients.
# Usage: node_test.sh HERALDD HERALDCTL
set -uo pipefail

HERALDD=$1
HERALDCTL=$2
source "$(dirname "$0")/lib.sh"

# -- configuration and schema ---------------------------------------------------------

must "config check accepts the node configuration" \
  "$HERALDCTL" config check "$ini"
check "heraldd --version and heraldctl --version name the same version" \
  bash -c "[[ \"\$('$HERALDD' --version)\" =~ ^heraldd\ ([^ ]+\ \(.*\))$ ]] &&
           [[ \"\$('$HERALDCTL' --version)\" == \"heraldctl \${BASH_REMATCH[1]}\" ]]"
out=$("$HERALDD" --config-file="$ini" --ingress.certificate="$tmp/missing.crt" 2>&1)
code=$?
check "an unreadable certificate stops the node with the setting named" \
  test "$code" -ne 0 -a -n "$(grep -F 'ingress.certificate' <<<"$out")"
out=$("$HERALDD" --config-file="$ini" --ingress.port=70000 2>&1)
code=$?
check "a bad port stops the node with the setting named" \
  test "$code" -ne 0 -a -n "$(grep -F 'ingress.port' <<<"$out")"
out=$("$HERALDD" --config-file="$ini" 2>&1)
code=$?
check "a node refuses an unmigrated database and says how to migrate" \
  test "$code" -ne 0 -a -n "$(grep -F 'heraldctl db migrate' <<<"$out")"
must "heraldctl db migrate applies the schema" \
  "$HERALDCTL" db migrate --config-file "$ini"
# Only registered certificates get an answer, health included.
must "client e2e is registered" "$HERALDCTL" client add e2e \
  --config-file "$ini" --certificate "$pki/client.crt"
must "the node certificate is registered" register_node
check "heraldctl db status agrees" \
  bash -c "'$HERALDCTL' db status --config-file '$ini' | grep -q 'this build knows'"
out=$("$HERALDD" --config-file="$ini" --mysql.port=1 --mysql.connect-timeout=1s 2>&1)
code=$?
check "an unreachable MariaDB stops the node after a bounded wait" \
  test "$code" -ne 0 -a -n "$(grep -F 'mysql.port' <<<"$out")"
# Fail closed: no node serves without a CRL it can enforce.
mv "$pki/crl.pem" "$pki/crl.pem.away"
out=$("$HERALDD" --config-file="$ini" 2>&1)
code=$?
check "a node whose CRL is missing refuses to start, naming pki.crl-file" \
  test "$code" -ne 0 -a -n "$(grep -F 'pki.crl-file' <<<"$out")"
echo "not a CRL" >"$pki/crl.pem"
out=$("$HERALDD" --config-file="$ini" 2>&1)
code=$?
check "a node whose CRL is unparsable refuses to start" \
  test "$code" -ne 0 -a -n "$(grep -F 'holds no PEM CRL' <<<"$out")"
mv "$pki/crl.pem.away" "$pki/crl.pem"
out=$("$HERALDCTL" client add sneaky --config-file "$ini" \
  --certificate "$pki/server.crt" 2>&1)
code=$?
check "client add refuses a node certificate (serverAuth)" \
  test "$code" -ne 0 -a -n "$(grep -F 'serverAuth' <<<"$out")"

# -- a running node ----------------------------------------------------------------------------

# The pepper comes from the environment this time, which the node must
# take out of its environment.
pepper=$(cat "$HERALD_SECRETS/sender-pepper")
export HERALD_SENDER_PEPPER=$pepper
must "the node becomes healthy" \
  start_node --ingress.read-timeout=2s --ingress.idle-timeout=3s
unset HERALD_SENDER_PEPPER
check "the node's environment no longer holds the pepper" \
  bash -c "test -r /proc/$node_pid/environ && ! grep -qaF '$pepper' /proc/$node_pid/environ"
check "the node writes no core dumps" \
  grep -Eq '^Max core file size +0 +0 ' "/proc/$node_pid/limits"

body=$(client_curl "$base/api/v1/health")
check "health reports MariaDB and Redis up" \
  grep -q '"mysql":{"status":"up".*"redis":{"status":"up"' <<<"$body"
target="127.0.0.1:$HERALD_HTTPS_PORT"
check "a client without a certificate is refused in the handshake (certificate required)" \
  refused_with "alert certificate required" "$target" -CAfile "$pki/ca.crt"
check "curl without a certificate is refused (certificate required)" \
  curl_refused "alert certificate required" "$base/api/v1/health" \
  --cacert "$pki/ca.crt"
check "a certificate from another CA is refused in the handshake (unknown ca)" \
  refused_with "alert unknown ca" "$target" -CAfile "$pki/ca.crt" \
  -cert "$pki/rogue-client.crt" -key "$pki/rogue-client.key"
check "TLS 1.1 is refused (protocol version)" \
  tls11_refused "$target" "$pki/ca.crt" "$pki/client.crt" "$pki/client.key"
body=$(client_curl "$base/api/v1/nowhere")
check "unknown paths get problem+json 404" \
  grep -q '"type":"urn:herald:problem:not-found"' <<<"$body"
check "oversized headers get 431" \
  test "$(status_of -H "X-Padding: $(head -c 20000 /dev/zero | tr '\0' a)" "$base/api/v1/health")" = 431

# Half a request, then silence: the node must hang up, not the client, after
# the read timeout (2 s here).
check "a slowloris request is cut off after the read timeout" \
  slow_request_cut_off "$target" 1 4 -CAfile "$pki/ca.crt" \
  -cert "$pki/client.crt" -key "$pki/client.key"

metrics=$(curl -s --max-time 5 "http://127.0.0.1:$HERALD_METRICS_PORT/metrics")
check "metrics expose build info" grep -q '^herald_build_info{.*node="e2e"' <<<"$metrics"
check "metrics expose process metrics" grep -q '^process_resident_memory_bytes ' <<<"$metrics"
check "metrics count health requests" \
  grep -q '^herald_http_requests_total{code="200",route="GET /api/v1/health"}' <<<"$metrics"
check "metrics count failed handshakes" \
  grep -q '^herald_tls_handshakes_total{outcome="failed"}' <<<"$metrics"

herald_stop_redis "$tmp/redis" "$redis_port"
unhealthy() { [[ "$(status_of "$base/api/v1/health")" == 503 ]]; }
check "health turns 503 within 5 s when Redis stops" herald_wait_until 5 unhealthy
body=$(client_curl "$base/api/v1/health")
check "health names Redis as down" grep -q '"redis":{"status":"down"' <<<"$body"
herald_start_redis "$tmp/redis" "$redis_port"
check "health recovers when Redis is back" herald_wait_until 5 healthy

kill -HUP "$node_pid"
reloaded() { grep -q "received SIGHUP: reloading" "$tmp"/heraldd_*.log; }
check "SIGHUP makes the node reload (systemctl reload)" herald_wait_until 5 reloaded
check "... and it keeps serving" healthy
check "SIGTERM stops the node with exit code 0" stop_node
# Its audit actor wrote the start and the stop into heraldctl's chain.
node_audit() {
  sql "SELECT action, outcome FROM audit_log WHERE source = 'heraldd@e2e' ORDER BY id" |
    tr '\t\n' ': '
}
check "the node audited its start and its stop" \
  grep -q 'node.start:ok node.stop:ok $' <<<"$(node_audit)"
check "heraldctl audit verify accepts the chain the node extended" \
  "$HERALDCTL" audit verify --config-file "$ini"
# The daily log file carries the date in its name.
logs=("$tmp"/heraldd_*.log)
check "the node writes its daily log file" test -s "${logs[0]}"
no_secret_in_logs() {
  local password
  need_files "$HERALD_MYSQL_PASSWORD_FILE" "${logs[0]}" "$tmp/heraldd.out" || return 1
  password=$(cat "$HERALD_MYSQL_PASSWORD_FILE")
  ((${#password} >= 16)) || { echo "     the password is too short to search for"; return 1; }
  ! grep -qF "$password" "${logs[0]}" "$tmp/heraldd.out"
}
check "the logs hold no secrets" no_secret_in_logs

e2e_finish
