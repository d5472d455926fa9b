#!/usr/bin/env bash
# End to end: delivery through the real heraldd to a test downstream
# (downstream.py: fails "flaky" messages twice, refuses "permanent" ones),
# then to Herald's own receiver role, and kill -9 in the middle of a burst.
# Usage: delivery_test.sh HERALDD HERALDCTL LOADGEN
set -uo pipefail

HERALDD=$1
HERALDCTL=$2
LOADGEN=$3
downstream_port=$(
  source "$(dirname "$0")/../../ops/lib/services.sh"
  herald_free_port
)
export HERALD_ROLES='["ingress", "delivery"]'
export HERALD_DELIVERY_URL="https://localhost:$downstream_port/internal/v1/deliver"
source "$(dirname "$0")/lib.sh"

downstream_pid=""
start_downstream() {
  python3 "$root/test/e2e/downstream.py" --port "$downstream_port" \
    --cert "$pki/server.crt" --key "$pki/server.key" --ca "$pki/ca.crt" \
    --log "$tmp/downstream.log" --fail-first 2 &
  downstream_pid=$!
  herald_wait_until 5 bash -c ": >/dev/tcp/127.0.0.1/$downstream_port"
}
stop_downstream() {
  kill "$downstream_pid" 2>/dev/null
  wait "$downstream_pid" 2>/dev/null
  downstream_pid=""
}
trap 'stop_downstream; e2e_cleanup' EXIT

must "heraldctl db migrate applies the schema" \
  "$HERALDCTL" db migrate --config-file "$ini"
must "client acme is registered" "$HERALDCTL" client add acme \
  --config-file "$ini" --certificate "$pki/client.crt"
must "the node certificate is registered" register_node
must "the test downstream listens" start_downstream
must "the node starts" start_node --delivery.retry-interval=1s

messages="$base/api/v1/messages"
submit() {
  client_curl -H 'Content-Type: application/json' \
    -d "{\"sender_number\":\"+4915112345678\",\"message_body\":\"$1\"}" \
    "$messages" | sed -n 's/.*"message_id":"\([^"]*\)".*/\1/p'
}
status() { client_curl "$messages/$1" | sed -n 's/.*"status":"\([^"]*\)".*/\1/p'; }
attempts() { client_curl "$messages/$1" | sed -n 's/.*"attempts":\([0-9]*\).*/\1/p'; }
rows() { sql "SELECT COUNT(*) FROM delivery_attempts WHERE message_id = UNHEX('${1//-/}')"; }
is_status() { [[ "$(status "$1")" == "$2" ]]; }

# -- outcomes ---------------------------------------------------------------------------

ok=$(submit "hello")
check "a message is delivered" herald_wait_until 5 is_status "$ok" delivered
check "the downstream got sender, body and the id as Idempotency-Key" \
  grep -q "^$ok 1 200$" "$tmp/downstream.log"
# Workers often take an id before its submission's commit lands; they look
# again within milliseconds instead of waiting for the retry schedule.
latency=$(sql "SELECT TIMESTAMPDIFF(MICROSECOND, created_at, delivered_at) DIV 1000 FROM messages WHERE id = UNHEX('${ok//-/}')")
check "it was delivered within 500 ms of its acceptance (${latency:-?} ms)" \
  test "${latency:-999999}" -lt $((500 * ${HERALD_TEST_SLOWDOWN:-1}))

flaky=$(submit "flaky one")
check "a message failing twice is delivered on the third attempt" \
  herald_wait_until 8 is_status "$flaky" delivered
check "it took 3 attempts" test "$(attempts "$flaky")" = 3
check "each attempt has a row" test "$(rows "$flaky")" = 3
check "retries came about 1 s apart" \
  test "$(sql "SELECT TIMESTAMPDIFF(MICROSECOND, MIN(attempted_at), MAX(attempted_at)) DIV 1000 FROM delivery_attempts WHERE message_id = UNHEX('${flaky//-/}')")" -ge 1800

bad=$(submit "permanent failure")
check "a 4xx fails the message" herald_wait_until 5 is_status "$bad" failed
sleep 2.5
check "a failed message is not retried" test "$(rows "$bad")" = 1
check "the failure reason is recorded" \
  bash -c "'$HERALDCTL' --help >/dev/null; curl -s --cacert '$pki/ca.crt' --cert '$pki/client.crt' --key '$pki/client.key' '$messages/$bad' | grep -q 'HTTP 400'"

# -- downstream down, then back -----------------------------------------------------------

stop_downstream
ids=()
for i in $(seq 1 10); do ids+=("$(submit "while down $i")"); done
sleep 2.5
check "while the downstream is down messages wait queued with attempts" \
  test "$(status "${ids[0]}")" = queued -a "$(attempts "${ids[0]}")" -ge 1
must "the test downstream listens again" start_downstream
all_delivered() {
  for id in "${ids[@]}"; do is_status "$id" delivered || return 1; done
}
check "when it is back every message is delivered" herald_wait_until 10 all_delivered
metrics=$(curl -s --max-time 5 "http://127.0.0.1:$HERALD_METRICS_PORT/metrics")
check "deliveries are counted by outcome" \
  grep -q '^herald_deliveries_total{outcome="retry"}' <<<"$metrics"
check "the accept->delivered latency is measured" \
  grep -q '^herald_delivery_latency_seconds_count [1-9]' <<<"$metrics"
check "actor mailboxes are sampled" \
  grep -q '^herald_actor_mailbox_size{actor="store"}' <<<"$metrics"
check "the retry schedule size is exported" \
  grep -q '^herald_retry_schedule_size ' <<<"$metrics"
check "SIGTERM stops the node with exit code 0" stop_node

# -- the receiver role, and kill -9 during delivery ------------------------------------------------

stop_downstream
must "the configuration makes the node its own downstream" \
  sed -i "s|^roles=.*|roles=[\"ingress\", \"delivery\", \"receiver\"]|; s|^url=.*|url=\"$base/internal/v1/deliver\"|" "$ini"
must "... roles and url changed" \
  test "$(grep -c -e '^roles=.*"receiver"' -e "^url=\"$base/internal/v1/deliver\"" "$ini")" = 2
must "the node restarts as its own downstream" start_node
second_node() {
  "$HERALDD" --config-file="$ini" --ingress.port="$(herald_free_port)" \
    --metrics.port="$(herald_free_port)" >"$tmp/second.out" 2>&1
}
check "a second node under the same name refuses to start (exit 1)" \
  test "$(second_node; echo $?)" = 1
check "and says the name is in use" grep -q "another running node is named" "$tmp/second.out"

# -- the actor graph: its actors, and one message's path through them -----------------------------

traced=$(submit "traced")
check "a message passes the graph to the receiver" herald_wait_until 10 is_status "$traced" delivered
metrics=$(curl -s --max-time 5 "http://127.0.0.1:$HERALD_METRICS_PORT/metrics")
# "name=count" of every running actor, by herald_actors.
running() {
  sed -n 's/^herald_actors{actor="\([^"]*\)"} \([0-9]*\)$/\1=\2/p' <<<"$metrics" |
    grep -v '=0$' | sort | tr '\n' ' '
}
graph="audit=1 client-directory=1 delivery-worker=2 dependency-probe=1 health=1 ingress=1 \
pki-monitor=1 queue=1 receiver-store=4 receiver=1 recovery=1 retry-timer=1 schedule=1 \
store-writer=3 store=1 validator=2 "
check "the node runs exactly the actors of its three roles: $(running)" \
  test "$(running)" = "$graph"
stage() {
  sed -n "s/^herald_pipeline_messages_total{stage=\"$1\"} \([0-9]*\)$/\1/p" <<<"$metrics"
}
for s in ingress validator store queue; do
  check "the one submission since the start passed $s once ($(stage $s))" test "$(stage $s)" = 1
done
check "... then delivery and the receiver ($(stage delivery), $(stage receiver))" \
  test "$(stage delivery)" -ge 1 -a "$(stage receiver)" -ge 1
"$LOADGEN" --cacert "$pki/ca.crt" --cert "$pki/client.crt" --key "$pki/client.key" \
  --url "$messages" --connections 32 \
  --duration $((10 * ${HERALD_TEST_SLOWDOWN:-1})) --warmup 0 \
  >"$tmp/loadgen.out" 2>/dev/null &
loadgen_pid=$!
# Mid-burst, once 10,000 messages are in and delivery is under way (or
# after 9 s on a slow machine).
for _ in $(seq 1 $((45 * ${HERALD_TEST_SLOWDOWN:-1}))); do
  sleep 0.2
  (($(sql "SELECT COUNT(*) FROM messages") >= 10100)) && break
done
kill -9 "$node_pid"
node_pid=""
wait "$loadgen_pid"
accepted=$(sed -n 's/.*status_202=\([0-9]*\).*/\1/p' "$tmp/loadgen.out")
check "10,000 messages were accepted before the crash (${accepted:-0})" test "${accepted:-0}" -ge 10000
check "delivery was under way at the crash" \
  test "$(sql "SELECT COUNT(*) FROM received_messages")" -gt 0
must "the node restarts after kill -9" start_node
drained() {
  [[ "$(sql "SELECT COUNT(*) FROM messages WHERE status IN ('queued', 'delivering', 'accepting')")" == 0 ]]
}
check "every message is delivered after the restart" herald_wait_until 120 drained
stored=$(sql "SELECT COUNT(*) FROM received_messages")
sent=$(sql "SELECT COUNT(*) FROM messages WHERE status = 'delivered' AND id NOT IN (UNHEX('${ok//-/}'), UNHEX('${flaky//-/}'))")
check "the receiver stored each delivered message once ($stored of $sent)" \
  test "$stored" -eq "$((sent - ${#ids[@]}))"
check "no accepted message is lost (${accepted:-0} accepted)" \
  test "$(sql "SELECT COUNT(*) FROM messages WHERE status = 'delivered'")" -ge "${accepted:-0}"
echo "duplicates dropped by the receiver: $(sql "SELECT COALESCE(SUM(duplicates), 0) FROM received_messages")"

# -- only nodes may deliver -----------------------------------------------------------------------

# deliver NAME: POSTs a valid delivery of a fresh id with certificate NAME;
# prints the status code and the body.
deliver() {
  as "$1" -w '\n%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"message_id\":\"$(cat /proc/sys/kernel/random/uuid)\",\"sender_number\":\"+4915112345678\",\"message_body\":\"injected\",\"created_at\":\"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)\",\"attempt\":1}" \
    "$base/internal/v1/deliver"
}
received() { sql "SELECT COUNT(*) FROM received_messages"; }
before=$(received)
answer=$(deliver client)
check "a client certificate may not deliver (403)" test "$(tail -1 <<<"$answer")" = 403
check "it is told it is not a node" grep -q '"type":"urn:herald:problem:not-a-node"' <<<"$answer"
check "nothing was stored for it" test "$(received)" = "$before"
answer=$(deliver server)
check "the node's own certificate may (200)" test "$(tail -1 <<<"$answer")" = 200
check "its delivery was stored" test "$(received)" = "$((before + 1))"
check "the refusal is counted" \
  bash -c "curl -s --max-time 5 'http://127.0.0.1:$HERALD_METRICS_PORT/metrics' | grep -q '^herald_received_total{result=\"forbidden\"} 1'"

# -- dead letters: heraldctl message list, show, requeue ------------------------------------------

# The 4xx "permanent failure" above is still failed; the node is now its
# own downstream, which accepts it.
message() { "$HERALDCTL" message "$@" --config-file "$ini"; }
requeue_audits() { sql "SELECT COUNT(*) FROM audit_log WHERE action = 'message.requeue' AND target = '$bad'"; }
listed=$(message list --status failed --json)
check "message list --status failed --json lists the refused message" \
  grep -q "\"message_id\":\"$bad\",\"status\":\"failed\"" <<<"$listed"
check "... with its client, its stored reason and the masked sender" \
  grep -q "\"message_id\":\"$bad\"[^}]*\"last_error\":\"HTTP 400\",\"client\":\"acme\",\"sender_masked\":\"+49\*" <<<"$listed"
lacks() { ! grep -q "$@"; }
check "... never the sender number or the body" \
  lacks -e 4915112345678 -e 'permanent failure' <<<"$listed"
shown=$(message show "$bad")
check "message show has status, client and reason" \
  test "$(grep -c -e '^status  *failed$' -e '^client  *acme$' -e '^last error  *HTTP 400$' <<<"$shown")" = 3
check "... and says how to requeue it" grep -q "heraldctl message requeue $bad" <<<"$shown"
check "message show --json has the attempt log" \
  grep -q '"attempt_log":\[{"attempt":1,' <<<"$(message show --json "$bad")"
fails() { ! "$@"; }
show_unknown() { message show 00000000-0000-7000-8000-000000000000 2>"$tmp/show.err"; }
check "message show of an unknown id exits non-zero" fails show_unknown
check "... and says what to do next" grep -q "message list --status failed" "$tmp/show.err"
requeue_delivered() { message requeue "$ok" 2>"$tmp/requeue.err"; }
check "message requeue refuses a delivered message (non-zero exit)" fails requeue_delivered
check "... and says why" grep -q "$ok: is delivered" "$tmp/requeue.err"
check "... which stays delivered" is_status "$ok" delivered
dry=$(message requeue --dry-run "$bad")
check "message requeue --dry-run names it" grep -q "^would requeue $bad " <<<"$dry"
check "... and changes nothing: still failed, one attempt, not audited" \
  test "$(status "$bad") $(rows "$bad") $(requeue_audits)" = "failed 1 0"
check "message requeue queues it again" message requeue "$bad"
check "the requeued message is delivered to a downstream that accepts it" \
  herald_wait_until 10 is_status "$bad" delivered
check "... on its second attempt, the first one kept" \
  test "$(attempts "$bad") $(rows "$bad")" = "2 2"
check "... and the receiver has it" \
  test "$(sql "SELECT COUNT(*) FROM received_messages WHERE message_id = UNHEX('${bad//-/}')")" = 1
check "the requeue is audited once" test "$(requeue_audits)" = 1
check "... and the audit chain verifies" \
  grep -q intact <<<"$("$HERALDCTL" audit verify --config-file "$ini")"
check "no failed message is left" test "$(message list --status failed --json)" = "[]"
check "SIGTERM stops the node with exit code 0" stop_node

e2e_finish
