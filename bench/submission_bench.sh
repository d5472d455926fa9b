#!/usr/bin/env bash
# Measures message submission end to end on this machine: starts its own
# MariaDB (durable commits) and Redis (AOF everysec) in a temp folder, a
# heraldd without rate limit, and runs herald_loadgen against it. Prints the
# loadgen reports; stops everything at the end.
#
# With --deliver the node also delivers every message to its own receiver
# role, and the script reports delivered msg/s and accept->delivered
# latency once the queue is empty.
#
# With --drain the node only accepts during the load; then a node with the
# delivery and receiver roles alone starts and the script reports how fast
# it empties the backlog (delivery capacity without ingress competing).
#
# --heraldd FILE runs that node binary instead of build/heraldd (a build of
# another commit, for before/after pairs).
#
# Usage: bench/submission_bench.sh [--duration S] [--rate R] [--connections N]
#        [--new-connection] [--deliver | --drain] [--node-arg ARG]...
#        [--heraldd FILE]
# Build first: cmake --build build -j2
set -euo pipefail

duration=60
rate=0
connections=64
loadgen_extra=()
node_extra=()
deliver=0
drain=0
heraldd=build/heraldd
while (($#)); do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --new-connection) loadgen_extra+=(--new-connection); shift ;;
    --node-arg) node_extra+=("$2"); shift 2 ;;
    --deliver) deliver=1; shift ;;
    --drain) drain=1; shift ;;
    --heraldd) heraldd=$2; shift 2 ;;
    --help|-h) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "unknown argument $1; see --help" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source ops/lib/services.sh
source ops/lib/pki.sh
source ops/lib/config.sh

tmp=$(mktemp -d /tmp/herald-bench.XXXXXX)
mysql_port=$(herald_free_port)
redis_port=$(herald_free_port)
node_pid=""
cleanup() {
  [[ -n "$node_pid" ]] && kill -TERM "$node_pid" 2>/dev/null && wait "$node_pid"
  herald_stop_redis "$tmp/redis" "$redis_port"
  herald_stop_mariadb "$tmp/mariadb"
  rm -rf "$tmp"
}
trap cleanup EXIT

herald_start_mariadb "$tmp/mariadb" "$mysql_port"
herald_start_redis "$tmp/redis" "$redis_port"
herald_pki_ca "$tmp/pki" ca
herald_pki_leaf "$tmp/pki" ca server server
herald_pki_leaf "$tmp/pki" ca client client
herald_pki_crl "$tmp/pki" ca
if ((deliver)); then
  export HERALD_ROLES='["ingress", "delivery", "receiver"]'
else
  export HERALD_ROLES='["ingress"]'
fi
export HERALD_NODE_NAME=bench HERALD_PKI="$tmp/pki" HERALD_SECRETS="$tmp/secrets"
export HERALD_HTTPS_PORT=$(herald_free_port) HERALD_METRICS_PORT=$(herald_free_port)
export HERALD_MYSQL_PORT=$mysql_port HERALD_MYSQL_DATABASE=herald
export HERALD_MYSQL_PASSWORD_FILE="$HERALD_SECRETS/mysql-password"
export HERALD_REDIS_PORT=$redis_port HERALD_LOG_FILE="$tmp/heraldd.log"
herald_write_config "$tmp/herald.ini"
herald_write_secrets "$HERALD_SECRETS" build/heraldctl "$tmp/herald.ini"
herald_create_database "$tmp/mariadb" herald herald "$(cat "$HERALD_MYSQL_PASSWORD_FILE")"
build/heraldctl db migrate --config-file "$tmp/herald.ini" >/dev/null
build/heraldctl client add bench --config-file "$tmp/herald.ini" \
  --certificate "$tmp/pki/client.crt" >/dev/null
# The node delivers to its own receiver, which wants a registered node
# certificate.
build/heraldctl cert register --config-file "$tmp/herald.ini" \
  "$tmp/pki/server.crt" >/dev/null

start_node() {
  "$heraldd" --config-file="$tmp/herald.ini" --ingress.rate-limit=0 \
    --log.level='"warn"' "$@" "${node_extra[@]}" >>"$tmp/heraldd.out" 2>&1 &
  node_pid=$!
  herald_wait_until 20 healthy || { cat "$tmp/heraldd.out"; exit 1; }
}
healthy() {
  curl -sf --cacert "$tmp/pki/ca.crt" --cert "$tmp/pki/client.crt" \
    --key "$tmp/pki/client.key" "https://localhost:$HERALD_HTTPS_PORT/api/v1/health"
}
start_node

echo "== node $(git rev-parse --short HEAD), $(nproc) cores; loadgen: $connections connections, ${duration}s, rate ${rate}"
build/bench/herald_loadgen --cacert "$tmp/pki/ca.crt" --cert "$tmp/pki/client.crt" \
  --key "$tmp/pki/client.key" \
  --url "https://127.0.0.1:$HERALD_HTTPS_PORT/api/v1/messages" \
  --connections "$connections" --duration "$duration" --rate "$rate" \
  "${loadgen_extra[@]}" 2>/dev/null
echo "== server side"
curl -s "http://127.0.0.1:$HERALD_METRICS_PORT/metrics" |
  grep -E '^herald_store_batch_size_(sum|count)|^herald_http_requests_total|^process_cpu_seconds_total|^herald_rejections_total'
mariadb --no-defaults --socket="$tmp/mariadb/mysql.sock" -uroot -N herald \
  -e "SELECT CONCAT('messages stored: ', COUNT(*)) FROM messages WHERE status = 'queued'"
echo "redis pending: $(redis-cli -p "$redis_port" LLEN herald:pending)"
# CPU seconds used so far by MariaDB, Redis and the node of this run.
cpu_seconds() {
  local tick pids
  tick=$(getconf CLK_TCK)
  pids="$(pgrep -f "datadir=$tmp/mariadb") $(pgrep -f "redis-server.*:$redis_port")"
  for pid in $pids $node_pid; do
    awk -v t="$tick" '{s += $14 + $15} END {printf "%s ", s / t}' "/proc/$pid/stat" 2>/dev/null || true
  done
}
sql() {
  mariadb --no-defaults --socket="$tmp/mariadb/mysql.sock" -uroot -N herald -e "$1"
}
if ((drain)); then
  kill -TERM "$node_pid" && wait "$node_pid" || true
  cpu_before=$(cpu_seconds)
  start_node --node.roles='["delivery", "receiver"]'
  echo "== draining $(redis-cli -p "$redis_port" LLEN herald:pending) queued messages with a delivery + receiver node"
  deliver=1
fi
if ((deliver)); then
  for _ in $(seq 1 1200); do
    left=$(sql "SELECT COUNT(*) FROM messages WHERE status IN ('accepting', 'queued', 'delivering')")
    ((left == 0)) && break
    sleep 0.5
  done
  echo "== delivery ($left not yet delivered)"
  sql "SELECT COUNT(*), TIMESTAMPDIFF(MICROSECOND, MIN(created_at), MAX(delivered_at)) / 1e6
       FROM messages WHERE status = 'delivered'" |
    awk '{printf "delivered        %d in %.1f s: %.1f msg/s (first accept to last delivery)\n", $1, $2, $1 / $2}'
  sql "SELECT TIMESTAMPDIFF(MICROSECOND, created_at, delivered_at) / 1000
       FROM messages WHERE status = 'delivered' ORDER BY 1" |
    awk '{v[NR] = $1} END {printf "accept->delivered ms: p50 %.1f p99 %.1f p99.9 %.1f max %.1f\n",
      v[int(NR * 0.5)], v[int(NR * 0.99)], v[int(NR * 0.999)], v[NR]}'
  sql "SELECT TIMESTAMPDIFF(MICROSECOND, created_at, delivered_at) / 1000
       FROM messages WHERE status = 'delivered'
         AND created_at >= (SELECT MIN(created_at) + INTERVAL 5 SECOND FROM messages) ORDER BY 1" |
    awk '{v[NR] = $1} END {if (NR) printf "  after the first 5 s: p50 %.1f p99 %.1f p99.9 %.1f max %.1f\n",
      v[int(NR * 0.5)], v[int(NR * 0.99)], v[int(NR * 0.999)], v[NR]}'
  sql "SELECT TIMESTAMPDIFF(MICROSECOND, m.created_at, a.attempted_at) / 1000
       FROM messages m JOIN delivery_attempts a ON a.message_id = m.id AND a.attempt = 1 ORDER BY 1" |
    awk '{v[NR] = $1} END {printf "accept->first attempt ms: p50 %.1f p99 %.1f max %.1f\n",
      v[int(NR * 0.5)], v[int(NR * 0.99)], v[NR]}'
  echo "attempts per message: $(sql "SELECT CONCAT(attempts, ': ', COUNT(*)) FROM messages GROUP BY attempts" | tr '\n' ' ')"
  sql "SELECT CONCAT('retried: ', COUNT(*), ' x ', LEFT(COALESCE(error, ''), 100)) FROM delivery_attempts
       WHERE outcome <> 'delivered' GROUP BY error"
  if ((drain)); then
    sql "SELECT COUNT(*), TIMESTAMPDIFF(MICROSECOND, (SELECT MIN(attempted_at) FROM delivery_attempts), MAX(delivered_at)) / 1e6
         FROM messages WHERE status = 'delivered'" |
      awk '{printf "drained          %d in %.1f s: %.1f msg/s (first attempt to last delivery)\n", $1, $2, $1 / $2}'
    read -r -a after <<<"$(cpu_seconds)"
    read -r -a before <<<"$cpu_before"
    echo "cpu seconds      mariadb $(awk "BEGIN {print ${after[0]} - ${before[0]}}"), redis $(awk "BEGIN {print ${after[1]} - ${before[1]}}"), node ${after[2]}"
    curl -s "http://127.0.0.1:$HERALD_METRICS_PORT/metrics" |
      grep -E '^herald_receiver_batch_size_(sum|count)|^herald_deliveries_total'
  fi
  echo "receiver stored: $(sql "SELECT COUNT(*) FROM received_messages"), duplicates $(sql "SELECT COALESCE(SUM(duplicates), 0) FROM received_messages")"
fi
if grep -q -E 'warn|error' "$tmp/heraldd.out"; then
  echo "== node warnings (first 5 of $(grep -c -E 'warn|error' "$tmp/heraldd.out"))"
  grep -E "warn|error" "$tmp/heraldd.out" | head -5
fi
