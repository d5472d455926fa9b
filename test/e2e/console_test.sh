#!/usr/bin/env bash
# End to end: heraldctl's inspection console against a running 2-node
# cluster under light load (n1 ingress + delivery + receiver, n2 delivery).
# With an admin certificate, `inspect nodes --json` shows both members,
# `inspect actors --json` every member's actors of the graph with non-zero
# counts and rates, `inspect trace` a delivered message's hops in order, and
# the interactive console answers commands read from its input; a client
# certificate and a node certificate are refused.
# Usage: console_test.sh HERALDD HERALDCTL LOADGEN
set -uo pipefail

HERALDD=$1
HERALDCTL=$2
LOADGEN=$3
source "$(dirname "$0")/lib.sh"

declare -A pid https metrics link
for n in n1 n2; do
  https[$n]=$(herald_free_port)
  metrics[$n]=$(herald_free_port)
  link[$n]=$(herald_free_port)
done
roles_n1='["ingress", "delivery", "receiver"]'
roles_n2='["delivery"]'

stop_all() {
  if ((failed > 0)); then
    for n in n1 n2; do
      echo "--- $n log (tail)"
      cat "$tmp/$n"_*.log 2>/dev/null | tail -25
      tail -5 "$tmp/$n.out" 2>/dev/null
    done
  fi
  for n in "${!pid[@]}"; do
    [[ -n "${pid[$n]}" ]] && kill -9 "${pid[$n]}" 2>/dev/null
  done
  e2e_cleanup
}
trap stop_all EXIT

for name in node1 node2; do
  must "node certificate $name is issued" herald_pki_leaf "$pki" ca "$name" server
done
must "an admin certificate is issued" herald_pki_leaf "$pki" ca admin client
must "heraldctl db migrate applies the schema" \
  "$HERALDCTL" db migrate --config-file "$ini"
must "client acme is registered" "$HERALDCTL" client add acme \
  --config-file "$ini" --certificate "$pki/client.crt"
for name in server node1 node2; do
  must "$name is registered as a node" \
    "$HERALDCTL" cert register --config-file "$ini" "$pki/$name.crt"
done
must "the admin certificate is registered as one" \
  "$HERALDCTL" cert register --admin --config-file "$ini" "$pki/admin.crt"

start() { # NAME CERT [SEED_NODE]
  local n=$1 cert=$2 seeds='[]' roles_var="roles_$1"
  [[ -n "${3:-}" ]] && seeds="[\"127.0.0.1:${link[$3]}\"]"
  "$HERALDD" --config-file="$ini" --node.name="$n" --node.roles="${!roles_var}" \
    --ingress.port="${https[$n]}" --metrics.port="${metrics[$n]}" \
    --delivery.url="https://localhost:${https[n1]}/internal/v1/deliver" \
    --delivery.retry-interval=1s \
    --cluster.listen="127.0.0.1:${link[$n]}" --cluster.seeds="$seeds" \
    --cluster.certificate="$pki/$cert.crt" --cluster.key="$pki/$cert.key" \
    --cluster.ca="$pki/ca.crt" --log.file="$tmp/$n.log" \
    >>"$tmp/$n.out" 2>&1 &
  pid[$n]=$!
}
ready() { cat "$tmp/$1"_*.log 2>/dev/null | grep -q "node '$1' ready"; }
members() {
  curl -s --max-time 5 "http://127.0.0.1:${metrics[$1]}/metrics" |
    awk '$1 == "herald_cluster_members" { print $2 + 0 }'
}
has_members() { [[ "$(members "$1")" == "$2" ]]; }

start n1 node1
must "n1 starts" herald_wait_until 20 ready n1
start n2 node2 n1
must "n2 starts" herald_wait_until 20 ready n2
for n in n1 n2; do
  must "$n sees 2 members" herald_wait_until 10 has_members "$n" 2
done

# inspect [CERT] ARGS...: heraldctl inspect against n1 with certificate CERT.
inspect_as() {
  local cert=$1
  shift
  "$HERALDCTL" inspect "$@" --node "127.0.0.1:${link[n1]}" --config-file "$ini" \
    --cert "$pki/$cert.crt" --key "$pki/$cert.key" --ca "$pki/ca.crt"
}
inspect() { inspect_as admin "$@"; }
# json_check FILE PYTHON: PYTHON (an expression over `x`, the parsed file)
# holds.
json_check() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
x = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}

# -- under light load ---------------------------------------------------------------------------

"$LOADGEN" --cacert "$pki/ca.crt" --cert "$pki/client.crt" --key "$pki/client.key" \
  --url "https://localhost:${https[n1]}/api/v1/messages" --connections 4 --rate 50 \
  --duration $((6 * ${HERALD_TEST_SLOWDOWN:-1})) --warmup 0 \
  >"$tmp/loadgen.out" 2>/dev/null &
loadgen_pid=$!
sleep 3

inspect nodes --json >"$tmp/nodes.json"
check "inspect nodes --json answers" test $? -eq 0
check "... listing both members, n1 first as the node that answered" json_check "$tmp/nodes.json" \
  "[n['name'] for n in x] == ['n1', 'n2'] and x[0]['answering'] and not x[1]['answering']"
check "... n2 with the TLS identity of its link (CN node2)" json_check "$tmp/nodes.json" \
  "x[1]['tls_identity'].startswith('node2 sha256:') and x[1]['heartbeat_age_ms'] >= 0"

inspect actors --json >"$tmp/actors.json"
check "inspect actors --json answers with both members' actors" json_check "$tmp/actors.json" \
  "{a['node'] for a in x} == {'n1', 'n2'}"
for type in ingress validator store store-writer queue delivery-worker retry-timer \
  schedule receiver audit cluster health recovery pki-monitor inspector; do
  check "... n1 runs a $type actor" json_check "$tmp/actors.json" \
    "any(a['node'] == 'n1' and a['type'] == '$type' and a['exited_ms'] == 0 for a in x)"
done
check "... n2 runs delivery workers but no ingress" json_check "$tmp/actors.json" \
  "any(a['node'] == 'n2' and a['type'] == 'delivery-worker' for a in x) and \
   not any(a['node'] == 'n2' and a['type'] == 'ingress' for a in x)"
for type in ingress validator store queue receiver; do
  check "... n1's $type actors handled messages at a non-zero rate" json_check "$tmp/actors.json" \
    "sum(a['handled'] for a in x if a['node'] == 'n1' and a['type'] == '$type') > 0 and \
     sum(a['rate'] for a in x if a['node'] == 'n1' and a['type'] == '$type') > 0"
done
check "... with processing times (mean <= p99 bound for the busiest)" json_check "$tmp/actors.json" \
  "all(a['mean_ns'] > 0 and a['p99_ns'] > 0 for a in x if a['handled'] > 10)"
check "... and the delivery workers of both nodes handled messages" json_check "$tmp/actors.json" \
  "all(sum(a['handled'] for a in x if a['node'] == n and a['type'] == 'delivery-worker') > 0 \
       for n in ('n1', 'n2'))"
inspect actors --sort rate --top 3 >"$tmp/top.txt"
check "inspect actors --sort rate --top 3 prints a header and 3 actors" \
  test "$(wc -l <"$tmp/top.txt")" = 4
some_id=$(python3 -c "import json; print(json.load(open('$tmp/actors.json'))[0]['id'])")
inspect actor "$some_id" --member n1 --json >"$tmp/actor.json"
check "inspect actor ID --json shows that actor" json_check "$tmp/actor.json" \
  "x['id'] == $some_id and x['node'] == 'n1'"
inspect queue --json >"$tmp/queue.json"
check "inspect queue --json answers" test $? -eq 0
check "... with the pending count and both nodes' processing lists" json_check "$tmp/queue.json" \
  "x['pending'] >= 0 and set(x['processing']) == {'n1', 'n2'} and x['failed'] == 0"
wait "$loadgen_pid"

# -- trace of a delivered message ---------------------------------------------------------------

answer=$(as client -H 'Content-Type: application/json' -H "Idempotency-Key: trace-$$" \
  -d '{"sender_number": "+4915112345678", "message_body": "trace me"}' \
  "https://localhost:${https[n1]}/api/v1/messages")
id=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["message_id"])' "$answer")
delivered() { inspect trace "$id" --json 2>/dev/null | grep -q '"status":"delivered"'; }
check "message $id is delivered" herald_wait_until 20 delivered
inspect trace "$id" --json >"$tmp/trace.json"
check "inspect trace lists accepted, queued, attempt, delivered in that order" \
  json_check "$tmp/trace.json" \
  "[h['stage'] for h in x['hops']] == ['accepted', 'queued', 'attempt', 'delivered']"
check "... with non-decreasing timestamps" json_check "$tmp/trace.json" \
  "all(a['at_ms'] <= b['at_ms'] for a, b in zip(x['hops'], x['hops'][1:])) and x['hops'][0]['at_ms'] > 0"
check "... the attempt naming the node that delivered it" json_check "$tmp/trace.json" \
  "x['hops'][2]['node'] in ('n1', 'n2') and 'HTTP 200' in x['hops'][2]['detail']"
check "... and nothing left of it in Redis" json_check "$tmp/trace.json" "x['live'] == 'none'"
inspect trace 01890a5d-ac96-774b-bcce-b302099a8057 >/dev/null 2>"$tmp/unknown.err"
check "inspect trace of an unknown id fails" test $? -ne 0

# -- the text views (docs/CONSOLE.md shows this output) -------------------------------------------

for view in "nodes" "actors --sort rate --top 12" "queue" "trace $id"; do
  echo "\$ heraldctl inspect $view"
  # shellcheck disable=SC2086 # the view's words are separate arguments
  inspect $view
  check "inspect $view prints its table" test $? -eq 0
done

inspect watch --count 2 >"$tmp/watch.out"
check "inspect watch --count 2 refreshes twice and stops" \
  test "$(grep -c 'refreshed every second' "$tmp/watch.out")" = 2
check "... showing the busiest actors and the queue" \
  grep -q 'retry schedule' "$tmp/watch.out"

# -- the interactive console ---------------------------------------------------------------------

printf 'nodes\nactors --member n2\nbogus\nhelp\nquit\n' |
  HOME="$tmp" "$HERALDCTL" console --node "127.0.0.1:${link[n1]}" --config-file "$ini" \
    --cert "$pki/admin.crt" --key "$pki/admin.key" --ca "$pki/ca.crt" >"$tmp/console.out" 2>&1
check "the console answers nodes" grep -q '^n2 ' "$tmp/console.out"
check "... actors of one member" grep -q "^n2 .* delivery-worker" "$tmp/console.out"
check "... says what to do with an unknown command" \
  grep -q "unknown command 'bogus'; type help" "$tmp/console.out"
check "... prints its help" grep -q 'trace MESSAGE_ID' "$tmp/console.out"
check "... and keeps a history in ~/.herald_history" grep -qx 'nodes' "$tmp/.herald_history"

# -- refusals ------------------------------------------------------------------------------------

inspect_as client nodes --json >"$tmp/refused.out" 2>&1
check "a client certificate is refused" test $? -ne 0
check "... and heraldctl says which certificate to use" \
  grep -q 'heraldctl cert admin' "$tmp/refused.out"
check "... and n1 logs the refusal" \
  sh -c "cat '$tmp'/n1_*.log | grep -q 'neither an allowed node certificate nor an admin one'"
check "the console with a client certificate refuses to start" \
  sh -c "! '$HERALDCTL' console --node 127.0.0.1:${link[n1]} --config-file '$ini' \
    --cert '$pki/client.crt' --key '$pki/client.key' --ca '$pki/ca.crt' </dev/null >/dev/null 2>&1"

for n in n1 n2; do
  kill -TERM "${pid[$n]}"
  check "$n stops with exit code 0 on SIGTERM" wait "${pid[$n]}"
  pid[$n]=""
done
e2e_finish
