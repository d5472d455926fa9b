#!/usr/bin/env bash
# Delivered msg/s with 1, 2 and 3 delivery nodes in a cluster, against a
# downstream that takes --delay-ms (20) per request, so that the downstream's
# latency and each node's delivery concurrency, not this machine's cores,
# set the pace. Starts its own MariaDB, Redis, an ingress node (cluster
# seed) and a test downstream (test/e2e/downstream.py); per round it starts
# K delivery nodes that join the cluster, submits --messages through the
# ingress node at --rate, and reports how fast they were delivered (first
# attempt to last delivery). Stops everything at the end.
#
# Each delivery node runs --workers (1) delivery actors with --connections
# (8) concurrent requests each: 8 / 20 ms = 400 msg/s at most per node.
#
# Usage: bench/cluster_bench.sh [--nodes "1 2 3"] [--messages N] [--rate R]
#        [--delay-ms MS] [--workers W] [--connections C]
# Build first: cmake --build build -j2
set -euo pipefail

nodes="1 2 3"
messages=6000
rate=2000
delay_ms=20
workers=1
connections=8
while (($#)); do
  case $1 in
    --nodes) nodes=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --delay-ms) delay_ms=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --help|-h) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument $1; see --help" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source ops/lib/services.sh
source ops/lib/pki.sh
source ops/lib/config.sh

tmp=$(mktemp -d /tmp/herald-cluster-bench.XXXXXX)
mysql_port=$(herald_free_port)
redis_port=$(herald_free_port)
downstream_port=$(herald_free_port)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  herald_stop_redis "$tmp/redis" "$redis_port"
  herald_stop_mariadb "$tmp/mariadb"
  rm -rf "$tmp"
}
trap cleanup EXIT

herald_start_mariadb "$tmp/mariadb" "$mysql_port"
herald_start_redis "$tmp/redis" "$redis_port"
herald_pki_ca "$tmp/pki" ca
for leaf in server:server client:client n0:server d1:server d2:server d3:server d4:server; do
  herald_pki_leaf "$tmp/pki" ca "${leaf%%:*}" "${leaf##*:}"
done
herald_pki_crl "$tmp/pki" ca
export HERALD_ROLES='["ingress"]'
export HERALD_NODE_NAME=n0 HERALD_PKI="$tmp/pki" HERALD_SECRETS="$tmp/secrets"
export HERALD_HTTPS_PORT=$(herald_free_port) HERALD_METRICS_PORT=$(herald_free_port)
export HERALD_MYSQL_PORT=$mysql_port HERALD_MYSQL_DATABASE=herald
export HERALD_MYSQL_PASSWORD_FILE="$HERALD_SECRETS/mysql-password"
export HERALD_REDIS_PORT=$redis_port HERALD_LOG_FILE="$tmp/n0.log"
export HERALD_DELIVERY_URL="https://localhost:$downstream_port/internal/v1/deliver"
ini="$tmp/herald.ini"
herald_write_config "$ini"
herald_write_secrets "$HERALD_SECRETS" build/heraldctl "$ini"
herald_create_database "$tmp/mariadb" herald herald "$(cat "$HERALD_MYSQL_PASSWORD_FILE")"
build/heraldctl db migrate --config-file "$ini" >/dev/null
build/heraldctl client add bench --config-file "$ini" \
  --certificate "$tmp/pki/client.crt" >/dev/null
for name in server n0 d1 d2 d3 d4; do
  build/heraldctl cert register --config-file "$ini" "$tmp/pki/$name.crt" >/dev/null
done
sql() {
  mariadb --no-defaults --socket="$tmp/mariadb/mysql.sock" -uroot -N herald -e "$1"
}

python3 test/e2e/downstream.py --port "$downstream_port" --cert "$tmp/pki/server.crt" \
  --key "$tmp/pki/server.key" --ca "$tmp/pki/ca.crt" --log /dev/null \
  --delay-ms "$delay_ms" &
pids+=($!)
seed_port=$(herald_free_port)
# node NAME ROLES LINK_PORT [ARGS...]: a cluster member in the background.
node() {
  local name=$1 roles=$2 link=$3
  shift 3
  build/heraldd --config-file="$ini" --node.name="$name" --node.roles="$roles" \
    --ingress.rate-limit=0 --log.level='"warn"' --log.file="$tmp/$name.log" \
    --cluster.listen="127.0.0.1:$link" \
    --cluster.seeds="[\"127.0.0.1:$seed_port\"]" \
    --cluster.certificate="$tmp/pki/$name.crt" --cluster.key="$tmp/pki/$name.key" \
    --cluster.ca="$tmp/pki/ca.crt" "$@" >>"$tmp/$name.out" 2>&1 &
  pids+=($!)
}
members() {
  curl -s "http://127.0.0.1:$HERALD_METRICS_PORT/metrics" |
    awk '$1 == "herald_cluster_members" {print $2 + 0}'
}
node n0 '["ingress"]' "$seed_port"
herald_wait_until 20 bash -c "[[ \$(curl -s http://127.0.0.1:$HERALD_METRICS_PORT/metrics | grep -c '^herald_cluster_members 1') == 1 ]]"

echo "== node $(git rev-parse --short HEAD), $(nproc) cores; downstream ${delay_ms} ms per request;" \
  "per delivery node ${workers} workers x ${connections} connections; ${messages} messages per round"
declare -A result
for k in $nodes; do
  round_pids=()
  for i in $(seq 1 "$k"); do
    node "d$i" '["delivery"]' "$(herald_free_port)" --metrics.port="$(herald_free_port)" \
      --delivery.workers="$workers" --delivery.connections="$connections"
    round_pids+=("${pids[-1]}")
  done
  herald_wait_until 30 bash -c "[[ \$(curl -s http://127.0.0.1:$HERALD_METRICS_PORT/metrics | awk '\$1 == \"herald_cluster_members\" {print \$2 + 0}') == $((k + 1)) ]]" ||
    { echo "the delivery nodes did not join"; tail "$tmp"/d1*.log; exit 1; }
  since=$(sql "SELECT UTC_TIMESTAMP(6)")
  build/bench/herald_loadgen --cacert "$tmp/pki/ca.crt" --cert "$tmp/pki/client.crt" \
    --key "$tmp/pki/client.key" \
    --url "https://127.0.0.1:$HERALD_HTTPS_PORT/api/v1/messages" \
    --connections 32 --rate "$rate" --duration $(((messages + rate - 1) / rate)) \
    --warmup 0 >"$tmp/loadgen.out" 2>/dev/null
  for _ in $(seq 1 600); do
    left=$(sql "SELECT COUNT(*) FROM messages WHERE created_at >= '$since' AND status <> 'delivered'")
    ((left == 0)) && break
    sleep 0.5
  done
  read -r count seconds <<<"$(sql "SELECT COUNT(*), TIMESTAMPDIFF(MICROSECOND,
      (SELECT MIN(a.attempted_at) FROM delivery_attempts a JOIN messages m ON m.id = a.message_id
        WHERE m.created_at >= '$since'), MAX(delivered_at)) / 1e6
      FROM messages WHERE created_at >= '$since' AND status = 'delivered'")"
  per_node=$(sql "SELECT GROUP_CONCAT(CONCAT(node, '=', n) ORDER BY node) FROM (SELECT a.node, COUNT(*) n
      FROM delivery_attempts a JOIN messages m ON m.id = a.message_id
      WHERE m.created_at >= '$since' GROUP BY a.node) t")
  result[$k]=$(awk "BEGIN {printf \"%.1f\", $count / $seconds}")
  echo "$k delivery node(s): $count delivered in ${seconds} s: ${result[$k]} msg/s ($left left; attempts by node: $per_node)"
  for pid in "${round_pids[@]}"; do kill -TERM "$pid"; done
  for pid in "${round_pids[@]}"; do wait "$pid" || true; done
done
if [[ -n "${result[1]:-}" ]]; then
  for k in $nodes; do
    echo "scaling: $k node(s) = $(awk "BEGIN {printf \"%.2f\", ${result[$k]} / ${result[1]}}") x one node"
  done
fi
