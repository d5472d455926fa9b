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
# With --sink the node (roles ingress + delivery, no receiver) delivers to
# a sink instead: nginx from Debian on loopback with mutual TLS (the
# bench's demo PKI, client certificate verified) answering 200 with no
# work and no log, so the downstream costs next to nothing. Reported as
# with --deliver, plus the requests the sink answered.
#
# With --drain the node only accepts during the load; then a node with the
# delivery and receiver roles alone starts and the script reports how fast
# it empties the backlog (delivery capacity without ingress competing).
#
# --ab N drives the node with ApacheBench instead of herald_loadgen:
# `ab -k -c CONNECTIONS -n N` (HTTP/1.0 keep-alive, mTLS), the tool most
# people check a server with; prints ab's summary and its p99.
#
# --heraldd FILE runs that node binary instead of build/heraldd (a build of
# another commit, for before/after pairs).
#
# Usage: bench/submission_bench.sh [--duration S] [--rate R] [--connections N]
#        [--new-connection] [--deliver | --sink | --drain] [--ab N]
#        [--node-arg ARG]... [--heraldd FILE]
# Build first: cmake --build build -j2 (--sink and --ab need the Debian
# packages nginx and apache2-utils).
set -euo pipefail

duration=60
rate=0
connections=64
loadgen_extra=()
node_extra=()
deliver=0
sink=0
drain=0
ab_requests=0
heraldd=build/heraldd
while (($#)); do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --new-connection) loadgen_extra+=(--new-connection); shift ;;
    --node-arg) node_extra+=("$2"); shift 2 ;;
    --deliver) deliver=1; shift ;;
    --sink) sink=1; shift ;;
    --drain) drain=1; shift ;;
    --ab) ab_requests=$2; shift 2 ;;
    --heraldd) heraldd=$2; shift 2 ;;
    --help|-h) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    *) echo "unknown argument $1; see --help" >&2; exit 2 ;;
  esac
done

if ((deliver + sink + drain > 1)); then
  echo "--deliver, --sink and --drain exclude each other" >&2
  exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source ops/lib/services.sh
source ops/lib/pki.sh
source ops/lib/config.sh

tmp=$(mktemp -d /tmp/herald-bench.XXXXXX)
mysql_port=$(herald_free_port)
redis_port=$(herald_free_port)
node_pid=""
sink_pid=""
client_pid=""
cleanup() {
  # The load generator runs in the background so that an interrupted run
  # stops it too, instead of leaving it to hammer a node that is gone.
  [[ -n "$client_pid" ]] && kill -TERM "$client_pid" 2>/dev/null && { wait "$client_pid" || true; }
  [[ -n "$node_pid" ]] && kill -TERM "$node_pid" 2>/dev/null && wait "$node_pid"
  # The sink goes after the node, so no delivery is cut off mid-request.
  [[ -n "$sink_pid" ]] && kill -TERM "$sink_pid" 2>/dev/null && { wait "$sink_pid" || true; }
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

# The sink: nginx answering every request with 200 and nothing else. One
# worker is plenty for no work and leaves the cores to the node. The
# stub_status counter says how many requests it answered (no access log).
start_sink() {
  local dir=$tmp/sink port
  port=$(herald_free_port)
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp;
  fastcgi_temp_path $dir/tmp; uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
  # The delivery keeps its connections; nginx's default of 1000 requests
  # per connection would add a handshake every 1000 deliveries.
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $tmp/pki/server.crt;
    ssl_certificate_key $tmp/pki/server.key;
    ssl_client_certificate $tmp/pki/ca.crt;
    ssl_verify_client on;
    location = /sink-status { stub_status; }
    location / { return 200; }
  }
}
NGINX
  # -e: nginx opens its error log before it reads the configuration.
  nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" >"$dir/nginx.out" 2>&1 &
  sink_pid=$!
  sink_url="https://127.0.0.1:$port"
  herald_wait_until 10 sink_answers || { cat "$dir/error.log" "$dir/nginx.out"; exit 1; }
  # Mutual TLS for real: without a client certificate nginx answers 400.
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/pki/ca.crt" \
          "$sink_url/")" == 400 ]] || { echo "sink: client certificate not enforced"; exit 1; }
  sink_base=$(sink_requests)
}
sink_answers() {
  curl -sf --cacert "$tmp/pki/ca.crt" --cert "$tmp/pki/server.crt" \
    --key "$tmp/pki/server.key" "$sink_url/"
}
# Requests the sink has answered so far (this query included).
sink_requests() {
  curl -s --cacert "$tmp/pki/ca.crt" --cert "$tmp/pki/server.crt" \
    --key "$tmp/pki/server.key" "$sink_url/sink-status" | awk 'NR == 3 {print $3}'
}

if ((sink)); then
  start_sink
  export HERALD_ROLES='["ingress", "delivery"]'
  export HERALD_DELIVERY_URL="$sink_url/deliver"
elif ((deliver)); then
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

# ApacheBench: one fixed body, HTTP/1.0 with keep-alive, the certificate
# and its key in one file (ab -E). Bounded by `timeout`, so a server that
# never ends a keep-alive answer shows up as a failed run, not a hang.
run_ab() {
  local bundle=$tmp/pki/client-bundle.pem
  (umask 077 && cat "$tmp/pki/client.crt" "$tmp/pki/client.key" >"$bundle")
  printf '%s' '{"sender_number":"+4915112345678","message_body":"load test message"}' \
    >"$tmp/body.json"
  echo "== node $(git rev-parse --short HEAD), $(nproc) cores; ab -k: $connections connections, $ab_requests requests"
  local rc=0
  timeout -k 5 $((60 + ab_requests / 500)) \
    ab -q -k -E "$bundle" -p "$tmp/body.json" -T application/json \
    -c "$connections" -n "$ab_requests" -e "$tmp/ab.csv" \
    "https://127.0.0.1:$HERALD_HTTPS_PORT/api/v1/messages" >"$tmp/ab.txt" 2>&1 &
  client_pid=$!
  wait "$client_pid" || rc=$?
  grep -E '^(Complete|Failed|Non-2xx|Keep-Alive|Requests per|Time taken|SSL/TLS)' "$tmp/ab.txt" || true
  ((rc == 0)) || { echo "ab failed (exit $rc):"; tail -5 "$tmp/ab.txt"; }
  # One line for scripts, like the loadgen's RESULT line.
  awk -F': *' -v rc="$rc" '
    /^Complete requests/ {c = $2} /^Failed requests/ {f = $2}
    /^Non-2xx responses/ {x = $2} /^Keep-Alive requests/ {k = $2}
    /^Requests per second/ {split($2, a, " "); r = a[1]}
    END {printf "AB exit=%d complete=%d failed=%d non2xx=%d keepalive=%d rps=%s", rc, c, f, x, k, r}' \
    "$tmp/ab.txt"
  awk -F, '$1 == 50 {printf " p50=%s", $2} $1 == 99 {printf " p99=%s", $2}' "$tmp/ab.csv" 2>/dev/null || true
  echo
}

if ((ab_requests > 0)); then
  run_ab
else
  echo "== node $(git rev-parse --short HEAD), $(nproc) cores; loadgen: $connections connections, ${duration}s, rate ${rate}"
  build/bench/herald_loadgen --cacert "$tmp/pki/ca.crt" --cert "$tmp/pki/client.crt" \
    --key "$tmp/pki/client.key" \
    --url "https://127.0.0.1:$HERALD_HTTPS_PORT/api/v1/messages" \
    --connections "$connections" --duration "$duration" --rate "$rate" \
    "${loadgen_extra[@]}" 2>/dev/null &
  client_pid=$!
  wait "$client_pid"
fi
client_pid=""
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
if ((deliver || sink)); then
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
  if ((sink)); then
    # Less the checks before and this query. More than delivered: retries.
    echo "sink answered: $(($(sink_requests) - sink_base - 1)) requests"
  else
    echo "receiver stored: $(sql "SELECT COUNT(*) FROM received_messages"), duplicates $(sql "SELECT COALESCE(SUM(duplicates), 0) FROM received_messages")"
  fi
fi
if grep -q -E 'warn|error' "$tmp/heraldd.out"; then
  echo "== node warnings (first 5 of $(grep -c -E 'warn|error' "$tmp/heraldd.out"))"
  grep -E "warn|error" "$tmp/heraldd.out" | head -5
fi
