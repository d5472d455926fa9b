#!/usr/bin/env bash
# End to end: message submission through the real heraldd, with curl as the
# client — every error case, idempotency, client identity, encryption at
# rest, Redis failure, and kill -9 right after a burst of 202s.
# Usage: submission_test.sh HERALDD HERALDCTL
set -uo pipefail

HERALDD=$1
HERALDCTL=$2
# Ingress only: nothing is delivered, so statuses stay "queued".
export HERALD_ROLES='["ingress"]'
source "$(dirname "$0")/lib.sh"

must "heraldctl db migrate applies the schema" \
  "$HERALDCTL" db migrate --config-file "$ini"
must "client acme is registered" "$HERALDCTL" client add acme \
  --config-file "$ini" --certificate "$pki/client.crt"
must "client globex is registered" "$HERALDCTL" client add globex \
  --config-file "$ini" --certificate "$pki/other-client.crt"
must "the node certificate is registered" register_node
must "the node starts" start_node --recovery.clients-refresh=500ms
messages="$base/api/v1/messages"
number="+4915112345678"
secret_text="Secret meeting at 7 $(openssl rand -hex 4)"

# post [CURL_ARGS...] BODY: submits as the registered client; prints the
# status line "CODE" then the body.
post() {
  local body=${!#}
  client_curl -D "$tmp/headers" -w '\n%{http_code}' \
    -H 'Content-Type: application/json' \
    "${@:1:$#-1}" -d "$body" "$messages"
}
code_of() { tail -n 1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$2"; }
message() { printf '{"sender_number":"%s","message_body":"%s"}' "$1" "$2"; }

# -- accept and read back ---------------------------------------------------------------

out=$(client_curl -D "$tmp/headers" -w '\n%{http_code}' \
  -H 'Content-Type: application/json' -d "$(message "$number" "$secret_text")" \
  "$messages")
id=$(json_field message_id "$(body_of "$out")")
check "a valid message gets 202 with its id" test "$(code_of "$out")" = 202 -a -n "$id"
check "the 202 says queued" grep -q '"status":"queued"' <<<"$(body_of "$out")"
check "the 202 has a Location" grep -qi "^location: /api/v1/messages/$id" "$tmp/headers"
out=$(client_curl "$messages/$id")
check "the client reads its message's status" grep -q '"status":"queued"' <<<"$out"
check "another client gets 404 for it" \
  test "$(as other-client -o /dev/null -w '%{http_code}' "$messages/$id")" = 404
check "a malformed id gets 404" test "$(status_of "$messages/not-an-id")" = 404

# -- bad input ---------------------------------------------------------------------------------

valid=$(message "$number" "hello")
check "an unregistered certificate gets 403" \
  test "$(as stranger -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$valid" "$messages")" = 403
check "a wrong content type gets 415" \
  test "$(client_curl -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' -d "$valid" "$messages")" = 415
out=$(post '{"sender_number": ')
check "malformed JSON gets 400 problem+json" \
  test "$(code_of "$out")" = 400 -a -n "$(grep -F 'urn:herald:problem:malformed-json' <<<"$out")"
out=$(post "$(message "0049151" "hi")")
check "a bad number gets 422 naming sender_number" \
  test "$(code_of "$out")" = 422 -a -n "$(grep -F '"name":"sender_number"' <<<"$out")"
out=$(post '{"sender_number":"+4915112345678","message_body":"x","priority":1}')
check "an unknown field gets 422" \
  test "$(code_of "$out")" = 422 -a -n "$(grep -F '"name":"priority"' <<<"$out")"
out=$(post "$(message "$number" "$(head -c 1601 /dev/zero | tr '\0' a)")")
check "a body over 1600 characters gets 422" test "$(code_of "$out")" = 422
out=$(post "$(message "$number" "$(head -c 20000 /dev/zero | tr '\0' a)")")
check "a request over 16 KiB gets 413" test "$(code_of "$out")" = 413
check "a wrong method gets 405" \
  test "$(client_curl -o /dev/null -w '%{http_code}' -X DELETE "$messages")" = 405
out=$(post -H 'Idempotency-Key: has space' "$valid")
check "a bad Idempotency-Key gets 400" test "$(code_of "$out")" = 400

# -- idempotency ------------------------------------------------------------------------------

first=$(post -H 'Idempotency-Key: order-1' "$valid")
again=$(post -H 'Idempotency-Key: order-1' "$valid")
check "a replay gets 202 with the same message id" \
  test "$(code_of "$again")" = 202 -a \
  "$(json_field message_id "$first")" = "$(json_field message_id "$again")"
other=$(post -H 'Idempotency-Key: order-1' "$(message "$number" "changed")")
check "the same key with another payload gets 422" \
  test "$(code_of "$other")" = 422 -a -n "$(grep -F 'idempotency-key-reused' <<<"$other")"
check "the replay stored no second message" \
  test "$(sql "SELECT COUNT(*) FROM idempotency_keys")" = 1

# -- nothing in plain text at rest ------------------------------------------------------------

sleep 1.5 # Redis writes its AOF every second
must "mariadb-dump dumps the test database" \
  mariadb-dump --no-defaults --socket="$HERALD_TEST_MARIADB_DIR/mysql.sock" \
  -uroot --hex-blob=false --result-file="$tmp/dump.sql" "$db"
# The dump and the AOF must hold the message (its id, its masked number)
# for "holds no plain text" to mean anything.
must "the dump holds the messages table" grep -q 'CREATE TABLE `messages`' "$tmp/dump.sql"
check "the masked number is stored" grep -aqF '+49****78' "$tmp/dump.sql"
check "the database dump holds no message body" \
  bash -c "! grep -aqF '$secret_text' '$tmp/dump.sql'"
check "the database dump holds no sender number" \
  bash -c "! grep -aqF '$number' '$tmp/dump.sql'"
must "Redis wrote the message id to its AOF" grep -raqF "$id" "$tmp/redis"
check "Redis holds no body or number" \
  bash -c "! grep -raqF -e '$secret_text' -e '$number' '$tmp/redis'"
check "Redis holds the message id" \
  test "$(redis-cli -p "$redis_port" SISMEMBER herald:live "$id")" = 1

# -- client management takes effect live -------------------------------------------------------

"$HERALDCTL" client disable acme --config-file "$ini" >/dev/null
refused() { [[ "$(code_of "$(post "$valid")")" == 403 ]]; }
check "a disabled client is refused within seconds" herald_wait_until 5 refused
"$HERALDCTL" client enable acme --config-file "$ini" >/dev/null
accepted() { [[ "$(code_of "$(post "$valid")")" == 202 ]]; }
check "an enabled client is accepted again" herald_wait_until 5 accepted

# -- Redis down: 503 and nothing deliverable ---------------------------------------------------

deliverable_before=$(sql "SELECT COUNT(*) FROM messages WHERE status = 'queued'")
herald_stop_redis "$tmp/redis" "$redis_port"
out=$(post -H 'Idempotency-Key: during-outage' "$(message "$number" "during outage")")
check "with Redis down a submission gets 503 problem+json" \
  test "$(code_of "$out")" = 503 -a -n "$(grep -F 'urn:herald:problem:unavailable' <<<"$out")"
check "the 503 says when to retry" grep -qi '^retry-after: 1' "$tmp/headers"
check "with Redis down no message became deliverable" \
  test "$(sql "SELECT COUNT(*) FROM messages WHERE status = 'queued'")" = "$deliverable_before"
herald_start_redis "$tmp/redis" "$redis_port"
back() { [[ "$(code_of "$(post -H 'Idempotency-Key: during-outage' "$(message "$number" "during outage")")")" == 202 ]]; }
check "after Redis returns the same key is accepted" herald_wait_until 10 back

# -- kill -9 right after a burst of 202s ---------------------------------------------------------

burst() {
  for i in $(seq 1 200); do
    echo "$i"
  done | xargs -P 16 -I{} curl -s --max-time 10 --cacert "$pki/ca.crt" \
    --cert "$pki/client.crt" --key "$pki/client.key" \
    -H 'Content-Type: application/json' \
    -d "{\"sender_number\":\"$number\",\"message_body\":\"burst {}\"}" \
    -o - -w '\n' "$messages" | sed -n 's/.*"message_id":"\([^"]*\)".*/\1/p'
}
burst >"$tmp/accepted" &
burst_pid=$!
sleep 1.5
kill -9 "$node_pid"
wait "$burst_pid"
node_pid=""
accepted_count=$(wc -l <"$tmp/accepted")
check "some submissions were accepted before the crash ($accepted_count)" \
  test "$accepted_count" -gt 0
must "the node restarts after kill -9" start_node
missing=0
while read -r mid; do
  hex=${mid//-/}
  in_db=$(sql "SELECT status FROM messages WHERE id = UNHEX('$hex')")
  in_redis=$(redis-cli -p "$redis_port" SISMEMBER herald:live "$mid")
  if [[ "$in_db" != queued || "$in_redis" != 1 ]]; then
    missing=$((missing + 1))
  fi
done <"$tmp/accepted"
check "every accepted message is in MariaDB and Redis after the crash" \
  test "$missing" -eq 0

# -- rate limit ---------------------------------------------------------------------------------------

stop_node
must "the node starts with a tight rate limit" \
  start_node --ingress.rate-limit=1.0 --ingress.rate-burst=2.0
codes=""
for i in 1 2 3 4; do
  codes+="$(client_curl -D "$tmp/headers" -o /dev/null -w '%{http_code} ' \
    -H 'Content-Type: application/json' -d "$valid" "$messages")"
done
check "a client over its rate gets 429 ($codes)" grep -q 429 <<<"$codes"
check "a 429 says when to retry" grep -qi '^retry-after: [0-9]' "$tmp/headers"
metrics=$(curl -s --max-time 5 "http://127.0.0.1:$HERALD_METRICS_PORT/metrics")
check "rejections are counted by reason" \
  grep -q '^herald_rejections_total{reason="rate_limited"}' <<<"$metrics"
check "SIGTERM stops the node with exit code 0" stop_node

e2e_finish
