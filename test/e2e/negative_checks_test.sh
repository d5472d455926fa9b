#!/usr/bin/env bash
# The negative-check helpers of checks.sh must be able to fail. Each one is
# run against a deliberately wrong server (openssl s_server) and must report
# failure; against a right server it must pass (so it is no constant
# "fail" either). Needs openssl and curl only; no heraldd, MariaDB or Redis.
# Usage: negative_checks_test.sh
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/ops/lib/services.sh"
source "$root/ops/lib/pki.sh"
tmp=$(mktemp -d /tmp/herald-negative.XXXXXX)
node_pid=""
source "$root/test/e2e/checks.sh"

server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  server_pid=""
}
trap 'stop_server; rm -rf "$tmp"' EXIT

pki="$tmp/pki"
must "the test CA is created" herald_pki_ca "$pki" ca
must "the server certificate is issued" herald_pki_leaf "$pki" ca server server
must "the client certificate is issued" herald_pki_leaf "$pki" ca client client
must "the rogue CA is created" herald_pki_ca "$pki" rogue-ca
must "the rogue client certificate is issued" \
  herald_pki_leaf "$pki" rogue-ca rogue-client client
cat "$pki/ca.crt" "$pki/rogue-ca.crt" >"$tmp/both-cas.crt"
# An expired client certificate of the CA (openssl ca takes past dates).
mkdir -p "$tmp/openssl-ca"
touch "$tmp/openssl-ca/index.txt"
openssl rand -hex 16 >"$tmp/openssl-ca/serial"
printf '%s\n' "[ca]" "default_ca = d" "[d]" "database = $tmp/openssl-ca/index.txt" \
  "new_certs_dir = $tmp/openssl-ca" "serial = $tmp/openssl-ca/serial" \
  "default_md = sha256" "policy = p" "x509_extensions = ext" \
  "[p]" "commonName = supplied" "[ext]" "basicConstraints = critical,CA:FALSE" \
  "keyUsage = critical,digitalSignature" "extendedKeyUsage = clientAuth" \
  >"$tmp/openssl-ca/ca.cnf"
must "a key and request for an expired certificate" \
  quietly openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$pki/expired.key" -subj "/O=Herald/CN=expired" -out "$tmp/expired.csr"
must "openssl ca signs it for January 2020" \
  quietly openssl ca -batch -config "$tmp/openssl-ca/ca.cnf" -cert "$pki/ca.crt" \
  -keyfile "$pki/ca.key" -in "$tmp/expired.csr" -out "$pki/expired.crt" \
  -startdate 20200101000000Z -enddate 20200201000000Z -notext
must "every certificate and key exists" need_files \
  "$pki"/{ca,server,client,rogue-ca,rogue-client,expired}.{crt,key} "$tmp/both-cas.crt"
expired_client=(-CAfile "$pki/ca.crt" -cert "$pki/expired.crt" -key "$pki/expired.key")

port=$(herald_free_port)
target="127.0.0.1:$port"
valid_client=(-CAfile "$pki/ca.crt" -cert "$pki/client.crt" -key "$pki/client.key")
rogue_client=(-CAfile "$pki/ca.crt" -cert "$pki/rogue-client.crt" -key "$pki/rogue-client.key")
alive_args=()

# e2e_alive (overrides checks.sh): the s_server runs and answers a valid
# client with HTTP 200 (s_server -www).
e2e_alive() {
  [[ -n "$server_pid" && -r /proc/$server_pid/stat ]] &&
    [[ "$(awk '{print $3}' "/proc/$server_pid/stat")" != Z ]] || {
    echo "     the server process is not running"
    return 1
  }
  printf 'GET / HTTP/1.0\r\n\r\n' |
    timeout 5 openssl s_client -ign_eof -connect "$target" "${valid_client[@]}" \
      "${alive_args[@]}" 2>/dev/null | grep -q 'HTTP/1.0 200' || {
    echo "     the server does not serve a valid client"
    return 1
  }
}

# serve S_SERVER_ARGS...: an s_server with the server certificate on $port,
# answering each GET with a status page (-www) unless $www is empty.
# Its stdin never ends (echo mode reads it): a FIFO opened read-write.
www=-www
mkfifo "$tmp/stdin.fifo"
exec 9<>"$tmp/stdin.fifo"
serve() {
  stop_server
  openssl s_server -accept "$port" -cert "$pki/server.crt" \
    -key "$pki/server.key" $www "$@" <&9 >"$tmp/s_server.out" 2>&1 &
  server_pid=$!
  # s_server prints ACCEPT once it listens (probing the port would use up
  # the one connection of -naccept 1).
  herald_wait_until 5 grep -q '^ACCEPT' "$tmp/s_server.out"
}

# catches NAME HELPER ARGS...: HELPER must report failure.
catches() {
  local name=$1
  shift
  if "$@"; then
    echo "FAIL $name: the helper passed against a wrong server"
    failed=$((failed + 1))
  else
    echo "ok   $name: the helper reported failure"
    passed=$((passed + 1))
  fi
}

# -- controls: the helpers pass against a right server ---------------------------------

must "a right server starts (TLS 1.2+, client certificates of the CA required)" \
  serve -Verify 1 -verify_return_error -CAfile "$pki/ca.crt" -min_protocol TLSv1.2
check "control: no client certificate is refused (certificate required)" \
  refused_with "alert certificate required" "$target" -CAfile "$pki/ca.crt"
check "control: curl without a client certificate is refused" \
  curl_refused "alert certificate required" "https://localhost:$port/" \
  --cacert "$pki/ca.crt"
check "control: another CA's certificate is refused (unknown ca)" \
  refused_with "alert unknown ca" "$target" "${rogue_client[@]}"
check "control: an expired certificate is refused (certificate expired)" \
  refused_with "alert certificate expired" "$target" "${expired_client[@]}"
check "control: a TLS 1.1 client is refused (protocol version)" \
  tls11_refused "$target" "$pki/ca.crt" "$pki/client.crt" "$pki/client.key"

# -- wrong servers: the helpers fail -------------------------------------------------------

must "a server that accepts TLS 1.1 starts" \
  serve -Verify 1 -verify_return_error -CAfile "$pki/ca.crt" -tls1_1 \
  -cipher 'DEFAULT:@SECLEVEL=0'
alive_args=(-tls1_1 -cipher 'DEFAULT:@SECLEVEL=0')
catches "tls11_refused vs a server accepting TLS 1.1" \
  tls11_refused "$target" "$pki/ca.crt" "$pki/client.crt" "$pki/client.key"
alive_args=()

must "a right server starts again" \
  serve -Verify 1 -verify_return_error -CAfile "$pki/ca.crt"
catches "refused_with vs a client that cannot offer TLS 1.1 (client-side refusal)" \
  refused_with "alert protocol version" "$target" -tls1_1 "${valid_client[@]}"

must "a server that does not require a client certificate starts" serve
catches "refused_with (certificate required) vs a server not asking for one" \
  refused_with "alert certificate required" "$target" -CAfile "$pki/ca.crt"
catches "curl_refused (certificate required) vs a server not asking for one" \
  curl_refused "alert certificate required" "https://localhost:$port/" \
  --cacert "$pki/ca.crt"

must "a server that trusts another CA too starts" \
  serve -Verify 1 -verify_return_error -CAfile "$tmp/both-cas.crt"
catches "refused_with (unknown ca) vs a server trusting the other CA" \
  refused_with "alert unknown ca" "$target" "${rogue_client[@]}"
catches "refused_with (certificate revoked) vs a server without a CRL" \
  refused_with "alert certificate revoked" "$target" "${valid_client[@]}"
catches "curl_refused (certificate revoked) vs a server without a CRL" \
  curl_refused "alert certificate revoked" "https://localhost:$port/" \
  --cacert "$pki/ca.crt" --cert "$pki/client.crt" --key "$pki/client.key"

must "a server that does not check validity dates starts" \
  serve -Verify 1 -verify_return_error -CAfile "$pki/ca.crt" -no_check_time
catches "refused_with (certificate expired) vs a server ignoring expiry" \
  refused_with "alert certificate expired" "$target" "${expired_client[@]}"

# Without -www s_server echoes what it reads and never hangs up.
www=""
must "a server that never closes a slow client starts" \
  serve -Verify 1 -verify_return_error -CAfile "$pki/ca.crt"
catches "slow_request_cut_off vs a server that never closes" \
  slow_request_cut_off "$target" 1 2 "${valid_client[@]}"
www=-www
must "a server that answers at once starts" \
  serve -Verify 1 -verify_return_error -CAfile "$pki/ca.crt"
catches "slow_request_cut_off vs a server that answers (not a cut-off)" \
  slow_request_cut_off "$target" 1 2 "${valid_client[@]}"
catches "slow_request_cut_off vs a handshake the server refuses (no certificate)" \
  slow_request_cut_off "$target" 1 2 -CAfile "$pki/ca.crt"

# Refuses correctly once, then is gone (-naccept 1): a crashed node.
must "a server that exits after its first connection starts" \
  serve -Verify 1 -verify_return_error -CAfile "$pki/ca.crt" -naccept 1
catches "refused_with vs a server that dies after refusing" \
  refused_with "alert certificate required" "$target" -CAfile "$pki/ca.crt"
stop_server
catches "refused_with vs no server at all" \
  refused_with "alert certificate required" "$target" -CAfile "$pki/ca.crt"
catches "slow_request_cut_off vs no server at all (the connection never opens)" \
  slow_request_cut_off "$target" 1 2 "${valid_client[@]}"
catches "curl_refused vs no server at all" \
  curl_refused "alert certificate required" "https://localhost:$port/" \
  --cacert "$pki/ca.crt"

must "a right server starts for the missing-file case" \
  serve -Verify 1 -verify_return_error -CAfile "$pki/ca.crt"
catches "refused_with with a missing certificate file" \
  refused_with "alert unknown ca" "$target" -CAfile "$pki/ca.crt" \
  -cert "$tmp/missing.crt" -key "$pki/client.key"
catches "curl_refused with a missing certificate file" \
  curl_refused "alert unknown ca" "https://localhost:$port/" \
  --cacert "$pki/ca.crt" --cert "$tmp/missing.crt" --key "$pki/client.key"

e2e_finish
