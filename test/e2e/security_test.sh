#!/usr/bin/env bash
# End to end: regression tests for the holes of the security review, against
# the real heraldd with Herald's own CA (heraldctl) and a published CRL:
#   a. revocation reaches kept-alive connections and saved TLS sessions on
#      every route within 5 s, without a restart;
#   b. the receiver refuses empty and pre-1970 deliveries (422);
#   c. submissions refuse lone surrogates; deep nesting is a 4xx;
#   f. health answers registered clients only and echoes no dependency error;
#   e. a downstream's error body (echoing the request, or cut mid-character)
#      is never stored, and never makes a batch fail again and again;
#   d. 1,100 idle TCP sockets do not lock a valid client out.
# Usage: security_test.sh HERALDD HERALDCTL
set -uo pipefail

HERALDD=$1
HERALDCTL=$2
downstream_port=$(
  source "$(dirname "$0")/../../ops/lib/services.sh"
  herald_free_port
)
export HERALD_ROLES='["ingress", "receiver"]'
source "$(dirname "$0")/lib.sh"
# The node (started from here) and idle_sockets.py each hold 1,100 sockets.
(($(ulimit -n) >= 4096)) || ulimit -n 4096 || ulimit -n "$(ulimit -Hn)"

downstream_pid=""
keepalive_pid=""
stop_downstream() {
  [[ -n "$downstream_pid" ]] && kill "$downstream_pid" 2>/dev/null &&
    wait "$downstream_pid" 2>/dev/null
  downstream_pid=""
}
trap 'stop_downstream; [[ -n "$keepalive_pid" ]] && kill "$keepalive_pid" 2>/dev/null; e2e_cleanup' EXIT

# -- set-up: Herald's CA, a published CRL, the node ------------------------------------------

ca="$tmp/ca"
issued="$tmp/issued"
# As ops/quickstart: the CRL file is configured (refresh at its default).
cat >>"$ini" <<INI

[pki]
ca-dir="$ca"
crl-file="$ca/crl.pem"
INI
ctl() { "$HERALDCTL" "$@" --config-file "$ini"; }
must "the configuration names the CA and its CRL" \
  grep -q "^crl-file=\"$ca/crl.pem\"" "$ini"
must "heraldctl db migrate applies the schema" \
  "$HERALDCTL" db migrate --config-file "$ini"
must "ca init creates the CA" ctl ca init
must "cert server issues the node's certificate" \
  ctl cert server --dns localhost --ip 127.0.0.1 --name server --out "$issued"
must "cert server issues a second node certificate (peer, to be revoked)" \
  ctl cert server --dns localhost --ip 127.0.0.1 --name peer --out "$issued"
must "cert issue issues client acme (to be revoked)" \
  ctl cert issue --client acme --out "$issued"
must "cert issue issues client globex" ctl cert issue --client globex --out "$issued"
# A client certificate of this CA that is not registered (openssl, not
# heraldctl, so the registry never hears of it).
must "a key and request for an unregistered client" \
  quietly openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$issued/stranger.key" -subj "/O=Herald/CN=stranger" \
  -out "$tmp/stranger.csr"
printf '%s\n' "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth" >"$tmp/client.ext"
must "the CA signs the unregistered client's certificate" \
  quietly openssl x509 -req -in "$tmp/stranger.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" \
  -set_serial "0x$(openssl rand -hex 16)" -days 30 -sha256 \
  -extfile "$tmp/client.ext" -out "$issued/stranger.crt"
must "every issued certificate and key exists" need_files \
  "$ca"/ca.{crt,key} "$issued"/{server,peer,acme,globex,stranger}.{crt,key}
must "the node configuration switches to the CA's certificates" \
  sed -i -e "s#^certificate=.*#certificate=\"$issued/server.crt\"#" \
  -e "s#^key=.*#key=\"$issued/server.key\"#" \
  -e "s#^ca=.*#ca=\"$ca/ca.crt\"#" "$ini"
must "... every TLS setting names them" \
  test "$(grep -c -e "^certificate=\"$issued/server.crt\"" -e "^key=\"$issued/server.key\"" -e "^ca=\"$ca/ca.crt\"" "$ini")" = 6
must "heraldctl crl publishes the CRL" ctl crl
must "the CRL exists" grep -q 'BEGIN X509 CRL' "$ca/crl.pem"

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
healthy() { ca_healthy; } # the liveness probe of checks.sh
start_ca_node() {
  "$HERALDD" --config-file="$ini" "$@" >>"$tmp/heraldd.out" 2>&1 &
  node_pid=$!
  herald_wait_until 20 ca_healthy
}
must "the node starts (roles ingress, receiver)" start_ca_node
target="127.0.0.1:$HERALD_HTTPS_PORT"
messages="$base/api/v1/messages"
number="+4915112345678"
code_of() { tail -n 1 <<<"$1"; }
# post_as NAME BODY: POST /api/v1/messages; prints the body, then the code.
post_as() {
  as_cert "$1" -D "$tmp/headers" -w '\n%{http_code}' \
    -H 'Content-Type: application/json' --data-binary "$2" "$messages"
}
# deliver_as NAME BODY: POST /internal/v1/deliver; body, then the code.
deliver_as() {
  as_cert "$1" -w '\n%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$2" "$base/internal/v1/deliver"
}
still_serves() {
  e2e_alive || return 1
  echo "     the node still serves a valid client"
}

# -- b. receiver input -------------------------------------------------------------------------

echo "-- b. receiver input"
out=$(deliver_as server '{"message_id":"","sender_number":"","message_body":"x","created_at":"","attempt":1}')
echo "     empty message_id, sender_number, created_at: $(code_of "$out") $(sed '$d' <<<"$out" | head -c 200)"
check "b1 a delivery with empty message_id, sender_number and created_at gets 422" \
  test "$(code_of "$out")" = 422
out=$(deliver_as server "{\"message_id\":\"$(cat /proc/sys/kernel/random/uuid)\",\"sender_number\":\"$number\",\"message_body\":\"x\",\"created_at\":\"1969-12-31T23:59:59Z\",\"attempt\":1}")
echo "     created_at 1969-12-31T23:59:59Z: $(code_of "$out") $(sed '$d' <<<"$out" | head -c 200)"
check "b2 a delivery created 1969-12-31T23:59:59Z gets 422" test "$(code_of "$out")" = 422
check "b3 the node stays healthy" still_serves

# -- c. submission input -----------------------------------------------------------------------

echo "-- c. submission input"
is_problem_4xx() { # OUT [CODES...]: the code is one of CODES, problem+json
  local out=$1 code
  shift
  code=$(code_of "$out")
  for c in "$@"; do
    if [[ "$code" == "$c" ]]; then
      grep -qi '^content-type: application/problem+json' "$tmp/headers" && return 0
      echo "     $code without problem+json"
      return 1
    fi
  done
  return 1
}
out=$(post_as globex "{\"sender_number\":\"$number\",\"message_body\":\"\\udc00\"}")
echo "     message_body \"\\udc00\": $(code_of "$out") $(sed '$d' <<<"$out" | head -c 200)"
check "c1 a lone low surrogate (\\udc00) gets 400 or 422 problem+json" \
  is_problem_4xx "$out" 400 422
out=$(post_as globex "{\"sender_number\":\"$number\",\"message_body\":\"a\\ud800b\"}")
echo "     message_body \"a\\ud800b\": $(code_of "$out") $(sed '$d' <<<"$out" | head -c 200)"
check "c2 a lone high surrogate (\\ud800) gets 400 or 422 problem+json" \
  is_problem_4xx "$out" 400 422
head -c 100000 /dev/zero | tr '\0' '[' >"$tmp/nested-100k.json"
# Ten times: the node answers 413 while the body still streams in, and the
# answer must reach the client before the connection closes (once it did
# not: 1 in 40 got no answer before the fix).
codes=""
for _ in $(seq 10); do
  out=$(as_cert globex -w '\n%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@$tmp/nested-100k.json" "$messages")
  codes+="$(code_of "$out") "
done
echo "     100000 '[', ten times: $codes"
check "c3 100000 nested '[' get a 4xx, every time" \
  grep -qE '^(4[0-9][0-9] ){10}$' <<<"$codes"
# Within the 16 KiB body limit, so the JSON parser itself meets the nesting.
head -c 16000 /dev/zero | tr '\0' '[' >"$tmp/nested-16k.json"
out=$(as_cert globex -w '\n%{http_code}' -H 'Content-Type: application/json' \
  --data-binary "@$tmp/nested-16k.json" "$messages")
echo "     16000 '[' (under the body limit): $(code_of "$out")"
check "c4 16000 nested '[' get a 4xx" grep -q '^4[0-9][0-9]$' <<<"$(code_of "$out")"
check "c5 the node survives deep nesting" still_serves

# -- f. health -----------------------------------------------------------------------------------

echo "-- f. health"
code=$(as_cert stranger -o "$tmp/stranger-health" -w '%{http_code}' "$base/api/v1/health")
echo "     unregistered certificate of Herald's CA: $code $(head -c 120 "$tmp/stranger-health")"
check "f1 an unregistered certificate of Herald's CA gets 403 from health" test "$code" = 403

# -- a. revocation on every route, kept-alive and resumed --------------------------------------

echo "-- a. revocation"
out=$(post_as acme "{\"sender_number\":\"$number\",\"message_body\":\"before revocation\"}")
acme_id=$(sed -n 's/.*"message_id":"\([^"]*\)".*/\1/p' <<<"$out")
must "acme submits a message before the revocation" test "$(code_of "$out")" = 202 -a -n "$acme_id"

# request METHOD PATH [BODY]: a raw HTTP/1.1 request that closes after it.
request() {
  local body=${3:-}
  if [[ -n "$body" ]]; then
    printf '%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
      "$1" "$2" "${#body}" "$body"
  else
    printf '%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$1" "$2"
  fi
}
# resumed NAME VERSION METHOD PATH [BODY]: the request over a connection
# that resumes the session saved by save_session NAME VERSION; prints
# "Reused|New <status, alert or closed>" ("none no-connection" when no TCP
# connection opened).
resumed() {
  local name=$1 version=$2 out how answer
  shift 2
  out=$(request "$@" | timeout 10 openssl s_client "$version" -ign_eof \
    -connect "$target" -servername localhost -CAfile "$ca/ca.crt" \
    -cert "$issued/$name.crt" -key "$issued/$name.key" \
    -sess_in "$tmp/$name$version.sess" 2>&1)
  if ! grep -q '^CONNECTED' <<<"$out"; then
    echo "none no-connection" # a dead node is no refusal
    return
  fi
  how=$(grep -m1 -oE '^(Reused|New),' <<<"$out" | tr -d ,)
  answer=$(grep -m1 -oE 'HTTP/1\.1 [0-9]{3}' <<<"$out" | cut -d' ' -f2)
  [[ -z "$answer" ]] && answer=$(grep -m1 -oE 'alert [a-z ]+' <<<"$out" | tr ' ' _)
  echo "${how:-none} ${answer:-closed}"
}
# A node certificate is no registered client: health may well answer it
# 403 (see f1), so for peer any HTTP answer shows the connection works, and
# its delivery (200) shows what the revocation must take away.
delivery() {
  printf '{"message_id":"%s","sender_number":"%s","message_body":"%s","created_at":"%s","attempt":1}' \
    "$(cat /proc/sys/kernel/random/uuid)" "$number" "$1" "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)"
}
must "peer delivers before the revocation (200)" \
  test "$(code_of "$(deliver_as peer "$(delivery 'before revocation')")")" = 200
declare -A before_codes=([acme]='200' [peer]='200|403')
# save_session NAME VERSION: a health request (answered) over TLS VERSION
# (-tls1_2 or -tls1_3) that saves its session, if the server offers one, to
# $tmp/NAME-VERSION.sess.
save_session() {
  request GET /api/v1/health |
    timeout 10 openssl s_client "$2" -ign_eof -connect "$target" \
      -servername localhost -CAfile "$ca/ca.crt" -cert "$issued/$1.crt" \
      -key "$issued/$1.key" -sess_out "$tmp/$1$2.sess" 2>&1 |
    grep -qE "HTTP/1.1 (${before_codes[$1]})"
}
# Sessions, saved with a request before the revocation. The node must hand
# out none that can be resumed: no TLS 1.3 tickets, no TLS 1.2 session id
# (s_client writes no file then). Sessions it did hand out (before the fix)
# must still be refused after the revocation, on every route.
for name in acme peer; do
  for version in -tls1_3 -tls1_2; do
    must "$name makes a ${version#-} health request (${before_codes[$name]})" \
      save_session "$name" "$version"
    check "a5 the node gives $name no resumable ${version#-} session" \
      test ! -s "$tmp/$name$version.sess"
    [[ -s "$tmp/$name$version.sess" ]] &&
      echo "     $name resumes ${version#-} before the revocation: $(resumed "$name" "$version" GET /api/v1/health)"
  done
done
# Kept-alive connections, one request each before the revocation.
python3 "$root/test/e2e/keepalive_probe.py" --port "$HERALD_HTTPS_PORT" \
  --ca "$ca/ca.crt" --as "acme:$issued/acme.crt:$issued/acme.key" \
  --as "peer:$issued/peer.crt:$issued/peer.key" --go-file "$tmp/revoked" \
  --message-id "$acme_id" --deadline 5 >"$tmp/keepalive.out" 2>&1 &
keepalive_pid=$!
both_ready() { [[ "$(grep -c '^before ' "$tmp/keepalive.out")" == 2 ]]; }
must "kept-alive connections of acme and peer are open" herald_wait_until 10 both_ready
echo "     $(grep '^before ' "$tmp/keepalive.out" | tr '\n' ' ')"
must "peer's kept-alive connection got health ${before_codes[peer]}" \
  grep -qE "^before peer (${before_codes[peer]})$" "$tmp/keepalive.out"
must "acme's kept-alive connection got health 200" grep -q "^before acme 200$" "$tmp/keepalive.out"

serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
must "cert revoke revokes acme" ctl cert revoke "$(serial_of "$issued/acme.crt")" --reason keyCompromise
must "cert revoke revokes peer" ctl cert revoke "$(serial_of "$issued/peer.crt")" --reason keyCompromise
revoked_at=$SECONDS
touch "$tmp/revoked"

# Fresh handshakes must fail within 5 s.
for name in acme peer; do
  fresh_refused() {
    refused_with "alert certificate revoked" "$target" -CAfile "$ca/ca.crt" \
      -cert "$issued/$1.crt" -key "$issued/$1.key" >/dev/null
  }
  check "a0 a fresh handshake with the revoked $name certificate fails within 5 s (certificate revoked)" \
    herald_wait_until 5 fresh_refused "$name"
done
# At +5 s: every route over the saved sessions.
wait_s=$((revoked_at + 5 - SECONDS))
((wait_s > 0)) && sleep "$wait_s"
body_msg="{\"sender_number\":\"$number\",\"message_body\":\"after revocation\"}"
for name in acme peer; do
  for version in -tls1_3 -tls1_2; do
    [[ -s "$tmp/$name$version.sess" ]] || continue
    for route in "GET /api/v1/health" "POST /api/v1/messages" \
      "GET /api/v1/messages/$acme_id" "POST /internal/v1/deliver"; do
      case $route in
        "POST /api/v1/messages") body=$body_msg ;;
        "POST /internal/v1/deliver") body=$(delivery 'after revocation') ;;
        *) body="" ;;
      esac
      # shellcheck disable=SC2086
      result=$(resumed "$name" "$version" $route "$body")
      echo "     +$((SECONDS - revoked_at)) s saved ${version#-} session of $name, $route: $result"
      answer=${result#* }
      # Refused: 403, or a handshake the server fails (any TLS alert, or it
      # closes the opened connection without an answer).
      check "a1 the revoked $name's saved ${version#-} session is refused on $route" \
        grep -qE '^(403|alert_[a-z_]+|closed)$' <<<"$answer"
    done
  done
done
wait "$keepalive_pid"
keepalive_pid=""
while read -r _ name route result; do
  echo "     kept-alive connection of $name, ${route/_/ }: $result"
  check "a2 the revoked $name's kept-alive connection is refused on ${route/_/ }" \
    test "$result" = 403 -o "${result%%(*}" = closed
done < <(grep '^after ' "$tmp/keepalive.out")
check "a3 exactly 8 kept-alive requests were made after the revocation" \
  test "$(grep -c '^after ' "$tmp/keepalive.out")" = 8
check "a4 the node still serves a valid client" still_serves

# -- f. health with Redis down -----------------------------------------------------------------

herald_stop_redis "$tmp/redis" "$redis_port"
unhealthy() { [[ "$(as_cert globex -o /dev/null -w '%{http_code}' "$base/api/v1/health")" == 503 ]]; }
must "health turns 503 within 5 s when Redis stops" herald_wait_until 5 unhealthy
body=$(as_cert globex "$base/api/v1/health")
echo "     health with Redis down: $body"
check "f2 health with Redis down says down" grep -q '"status":"down"' <<<"$body"
no_error_text() {
  local hit
  hit=$(grep -oiE '[a-z ]*(refused|connect|errno|hiredis|mysql_|timed out|can.t|server closed)[a-z ]*' <<<"$1" | head -1)
  [[ -z "$hit" ]] || { echo "     error detail in the body: $hit"; return 1; }
}
check "f3 health echoes no dependency error text" no_error_text "$body"
must "Redis starts again" herald_start_redis "$tmp/redis" "$redis_port"
must "health recovers" herald_wait_until 10 ca_healthy

# -- e. downstream error bodies ------------------------------------------------------------------

echo "-- e. downstream error bodies"
must "SIGTERM stops the node" stop_node
python3 "$root/test/e2e/downstream.py" --port "$downstream_port" \
  --cert "$issued/server.crt" --key "$issued/server.key" --ca "$ca/ca.crt" \
  --log "$tmp/downstream.log" --fail-first 0 >>"$tmp/downstream.out" 2>&1 &
downstream_pid=$!
must "the test downstream listens" \
  herald_wait_until 5 bash -c ": >/dev/tcp/127.0.0.1/$downstream_port"
must "the node becomes a delivery node for the test downstream" \
  sed -i "s|^roles=.*|roles=[\"ingress\", \"delivery\"]|; s|^url=.*|url=\"https://localhost:$downstream_port/internal/v1/deliver\"|" "$ini"
must "... roles and url changed" \
  test "$(grep -c -e '^roles=\["ingress", "delivery"\]' -e "^url=\"https://localhost:$downstream_port/" "$ini")" = 2
must "the node restarts (roles ingress, delivery; retry every 30 s)" start_ca_node
secret="secret-$(openssl rand -hex 6)"
submit() {
  post_as globex "{\"sender_number\":\"$number\",\"message_body\":\"$1 $secret\"}" |
    sed -n 's/.*"message_id":"\([^"]*\)".*/\1/p'
}
echo_id=$(submit echo422)
s4_id=$(submit straddle4xx)
s5_id=$(submit straddle5xx)
ok_id=$(submit fine)
must "four messages are accepted" test -n "$echo_id" -a -n "$s4_id" -a -n "$s5_id" -a -n "$ok_id"
status_json() { as_cert globex "$messages/$1"; }
no_plain_text() { ! grep -qF -e "$number" -e "$secret" -e 'xxxxxxxx' <<<"$1"; }
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$2"; }
is_status() { [[ "$(field status "$(status_json "$1")")" == "$2" ]]; }
retry_scheduled() {
  local j
  j=$(status_json "$1")
  [[ "$(field status "$j")" == queued && -n "$(field next_attempt_at "$j")" ]] &&
    grep -q '"attempts":1' <<<"$j"
}
check "e0 a message next to them is delivered" herald_wait_until 10 is_status "$ok_id" delivered
check "e1 the 422 echoing the request fails its message" \
  herald_wait_until 10 is_status "$echo_id" failed
check "e2 the 422 cut mid-character fails its message" \
  herald_wait_until 10 is_status "$s4_id" failed
check "e3 the 503 cut mid-character schedules a retry" \
  herald_wait_until 10 retry_scheduled "$s5_id"
sleep 3 # room for the repeated attempts a failing batch would make
for pair in "echo422:$echo_id:422" "straddle4xx:$s4_id:422" "straddle5xx:$s5_id:503"; do
  IFS=: read -r kind id want <<<"$pair"
  j=$(status_json "$id")
  last_error=$(sed -n 's/.*"last_error":\(null\|"\(\([^"\\]\|\\.\)*\)"\).*/\1/p' <<<"$j")
  echo "     $kind: $(head -c 400 <<<"$j")"
  check "e4 $kind: last_error is the short fixed reason 'HTTP $want' (got ${last_error:0:80})" \
    grep -qE "^\"HTTP $want( [A-Za-z ]{1,40})?\"$" <<<"$last_error"
  check "e5 $kind: last_error holds no sender number or body" \
    no_plain_text "$last_error"
  attempts=$(grep -c "^$id " "$tmp/downstream.log")
  check "e6 $kind: the downstream saw exactly 1 attempt in 3 s ($attempts)" test "$attempts" = 1
done
rows=$(sql "SELECT COUNT(*) FROM delivery_attempts WHERE message_id IN (UNHEX('${echo_id//-/}'), UNHEX('${s4_id//-/}'), UNHEX('${s5_id//-/}'))")
check "e7 MariaDB has exactly one attempt row per message ($rows)" test "$rows" = 3
leaks=$(sql "SELECT COUNT(*) FROM delivery_attempts WHERE error LIKE '%$number%' OR error LIKE '%$secret%' OR error LIKE '%xxxxxxxx%' OR error LIKE '%detail%'")
check "e8 MariaDB delivery_attempts.error holds no plain text ($leaks rows do)" test "$leaks" = 0
leaks=$(sql "SELECT COUNT(*) FROM messages WHERE last_error LIKE '%$number%' OR last_error LIKE '%$secret%' OR last_error LIKE '%xxxxxxxx%' OR last_error LIKE '%detail%'")
check "e9 MariaDB messages.last_error holds no plain text ($leaks rows do)" test "$leaks" = 0
echo "     stored errors: $(sql "SELECT DISTINCT LEFT(error, 60) FROM delivery_attempts WHERE error IS NOT NULL" | tr '\n' '|')"
stop_downstream

# -- d. idle sockets before authentication -----------------------------------------------------

# The idle sockets come from 127.0.0.2, the valid client from 127.0.0.1: a
# stranger may take at most ingress.max-handshakes-per-ip handshake slots.
echo "-- d. 1,100 idle TCP sockets"
python3 "$root/test/e2e/idle_sockets.py" "$HERALD_HTTPS_PORT" 1100 12 \
  >"$tmp/idle.out" 2>&1 &
idle_pid=$!
opened() { grep -q '^opened\|^connect failed' "$tmp/idle.out"; }
must "1,100 idle sockets are opened" herald_wait_until 20 opened
echo "     $(head -2 "$tmp/idle.out" | tr '\n' ' ')"
started=$(date +%s%N)
code=$(as_cert globex -o /dev/null -w '%{http_code}' --max-time 5 \
  -H 'Content-Type: application/json' \
  -d "{\"sender_number\":\"$number\",\"message_body\":\"while idle sockets hang\"}" \
  "$messages" 2>&1)
rc=$?
took=$((($(date +%s%N) - started) / 1000000))
echo "     a valid client with 1,100 idle sockets open: HTTP $code, curl exit $rc, $took ms"
check "d1 a valid client gets 202 within 5 s while 1,100 idle sockets are open" \
  test "$code" = 202
wait "$idle_pid"
summary=$(grep '^closed' "$tmp/idle.out")
echo "     $summary"
closed=$(sed -n 's/^closed \([0-9]*\) of \([0-9]*\);.*/\1 \2/p' <<<"$summary")
all_closed() { read -r c n <<<"$1" && [[ -n "$n" && "$c" == "$n" ]] && ((n > 0)); }
check "d2 the server closed every idle socket within 12 s" all_closed "$closed"
last=$(sed -n 's/.*last close after \([0-9.]*\) s.*/\1/p' <<<"$summary")
check "d3 ... the last one after at most 12 s ($last s)" \
  awk -v t="${last:-99}" 'BEGIN { exit !(t >= 0 && t <= 12) }'
check "d4 the node still serves a valid client" still_serves

check "SIGTERM stops the node with exit code 0" stop_node
e2e_finish
