#!/usr/bin/env bash
# Times the portal's "My messages" pages with a million stored messages
# (target: p95 <= 100 ms per page). Starts its own MariaDB (durable commits)
# and Redis in a temp folder, creates users and clients, submits a few real
# messages through the HTTPS API with mutual TLS (their bodies decrypt, for
# the detail page) and lets the node deliver them, then seeds --messages
# more with set-based SQL (MariaDB's SEQUENCE engine, INSERT ... SELECT in
# chunks), restarts the node with the portal role alone, logs in through
# the form and times each scenario with bench/portal_bench.py (one
# keep-alive HTTPS connection, one request at a time, rounds interleaved).
# Prints a table (scenario, n, rows on the page, p50/p95/p99/max ms, p95 <=
# target) and stops everything at the end, also on failure.
#
# The seeded data: user alice owns 60% of the messages through two clients
# (40% + 20%), bob 20% through one, carol 15% through two, dave 5%;
# created_at spread evenly over --days (90) up to a few minutes ago; 96.5%
# delivered, 3.4% failed, 0.1% rejected, and in the last two hours queued
# and delivering ones too; senders drawn from --senders (50,000) numbers,
# skewed (the busiest has ~0.45% of all messages), stored as the node's
# keyed hash. Seeded bodies are random bytes: list pages never decrypt.
# The timed user is alice.
#
# Usage: bench/portal_bench.sh [--messages N] [--requests N] [--warmup N]
#        [--rounds N] [--only NAME,...] [--explain] [--json FILE]
#        [--days D] [--senders N] [--chunk N] [--real N] [--target-ms MS]
#        [--buffer-pool SIZE] [--builds "DIR DIR..."]
#   --explain   after the table, ANALYZE of the SQL behind each scenario
#               (captured from MariaDB's general log, one request each)
#   --only      run only these scenarios (names as in the table, comma-
#               separated)
#   --buffer-pool  MariaDB's innodb_buffer_pool_size (256M, as ops/test)
#   --builds    compare the heraldd of these build folders on the same data:
#               per round a node of each in turn, then a table per build
#               from its rounds pooled (they must know the same schema;
#               the first folder's heraldctl and heraldd seed)
# Build first: cmake --build build -j2 (or set HERALD_BUILD_DIR).
set -euo pipefail

messages=1000000
requests=200
warmup=20
rounds=4
only=""
explain=0
json=""
days=90
senders=50000
chunk=50000
real=20
target_ms=100
buffer_pool=256M
builds=()
while (($#)); do
  case $1 in
    --messages) messages=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --explain) explain=1; shift ;;
    --json) json=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --senders) senders=$2; shift 2 ;;
    --chunk) chunk=$2; shift 2 ;;
    --real) real=$2; shift 2 ;;
    --target-ms) target_ms=$2; shift 2 ;;
    --buffer-pool) buffer_pool=$2; shift 2 ;;
    --builds) read -r -a builds <<<"$2"; shift 2 ;;
    --help|-h) awk 'NR > 1 && !/^#/ {exit} NR > 1' "$0"; exit 0 ;;
    *) echo "unknown argument $1; see --help" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${HERALD_BUILD_DIR:-$root/build}
((${#builds[@]} > 0)) && build=${builds[0]}
for dir in "$build" "${builds[@]}"; do
  for bin in heraldd heraldctl; do
    [[ -x "$dir/$bin" ]] || { echo "build $dir/$bin first" >&2; exit 2; }
  done
done
source ops/lib/services.sh
source ops/lib/pki.sh
source ops/lib/config.sh

tmp=$(mktemp -d /tmp/herald-portal-bench.XXXXXX)
mysql_port=$(herald_free_port)
redis_port=$(herald_free_port)
node_pid=""
stop_node() {
  [[ -n "$node_pid" ]] || return 0
  kill -TERM "$node_pid" 2>/dev/null || true
  wait "$node_pid" 2>/dev/null || true
  node_pid=""
}
cleanup() {
  stop_node
  herald_stop_redis "$tmp/redis" "$redis_port"
  herald_stop_mariadb "$tmp/mariadb"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '== %s\n' "$*" >&2; }
sql() {
  mariadb --no-defaults --socket="$tmp/mariadb/mysql.sock" -uroot -N -B \
    herald -e "SET SESSION time_zone = '+00:00'; $1"
}
ctl() { "$build/heraldctl" "$@" --config-file "$tmp/herald.ini"; }

say "MariaDB (innodb_buffer_pool_size=$buffer_pool) and Redis in $tmp"
HERALD_MARIADB_BUFFER_POOL=$buffer_pool herald_start_mariadb "$tmp/mariadb" "$mysql_port"
herald_start_redis "$tmp/redis" "$redis_port"

# name:owner:share of the seeded messages (percent)
clients=(app-alpha:alice:40 app-beta:alice:20 bob-app:bob:20 carol-a:carol:10
  carol-b:carol:5 dave-app:dave:5)
pki="$tmp/pki"
herald_pki_ca "$pki" ca
herald_pki_leaf "$pki" ca server server
for c in "${clients[@]}"; do
  herald_pki_leaf "$pki" ca "${c%%:*}" client
done
herald_pki_crl "$pki" ca

export HERALD_NODE_NAME=bench HERALD_PKI="$pki" HERALD_SECRETS="$tmp/secrets"
export HERALD_HTTPS_PORT=$(herald_free_port) HERALD_METRICS_PORT=$(herald_free_port)
export HERALD_PORTAL_PORT=$(herald_free_port)
export HERALD_MYSQL_PORT=$mysql_port HERALD_MYSQL_DATABASE=herald
export HERALD_MYSQL_PASSWORD_FILE="$HERALD_SECRETS/mysql-password"
export HERALD_REDIS_PORT=$redis_port HERALD_LOG_FILE="$tmp/heraldd.log"
export HERALD_ROLES='["ingress", "delivery", "receiver", "portal"]'
herald_write_config "$tmp/herald.ini"
herald_write_portal_config "$tmp/herald.ini"
herald_write_secrets "$HERALD_SECRETS" "$build/heraldctl" "$tmp/herald.ini"
herald_create_database "$tmp/mariadb" herald herald \
  "$(cat "$HERALD_MYSQL_PASSWORD_FILE")"
ctl db migrate >/dev/null
# The node delivers the real messages to its own receiver, which wants a
# registered node certificate.
ctl cert register "$pki/server.crt" >/dev/null
for user in alice bob carol dave; do
  (umask 077 && echo "Bench-$(openssl rand -hex 12)" >"$tmp/$user.pw")
  ctl user add "$user" --password-file "$tmp/$user.pw" >/dev/null
done
for c in "${clients[@]}"; do
  IFS=: read -r name owner _ <<<"$c"
  ctl client add "$name" --certificate "$pki/$name.crt" --user "$owner" >/dev/null
done

# start_node [--bin HERALDD] [ARGS...]
start_node() {
  local bin=$build/heraldd
  if [[ "${1:-}" == --bin ]]; then
    bin=$2
    shift 2
  fi
  "$bin" --config-file="$tmp/herald.ini" --log.level='"warn"' "$@" \
    >>"$tmp/heraldd.out" 2>&1 &
  node_pid=$!
  herald_wait_until 30 portal_up || {
    cat "$tmp/heraldd.out" >&2
    exit 1
  }
}
portal_up() {
  curl -sf -o /dev/null --cacert "$pki/ca.crt" \
    "https://localhost:$HERALD_PORTAL_PORT/login"
}

# -- real messages through the API (mTLS), delivered by the node itself ------

say "$real real messages through POST /api/v1/messages (mutual TLS)"
start_node
for i in $(seq 1 "$real"); do
  client=app-alpha
  ((i % 3 == 0)) && client=app-beta
  sender=$(printf '+49151%07d' $((i * 997 % senders)))
  curl -sf --max-time 10 --cacert "$pki/ca.crt" --cert "$pki/$client.crt" \
    --key "$pki/$client.key" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: bench-$i" \
    -d "{\"sender_number\":\"$sender\",\"message_body\":\"Your code is $((100000 + i * 7919 % 900000)); it expires in 10 minutes. Bench message $i.\"}" \
    "https://localhost:$HERALD_HTTPS_PORT/api/v1/messages" >/dev/null
done
all_delivered() {
  [[ "$(sql "SELECT COUNT(*) FROM messages WHERE status = 'delivered'")" == "$real" ]]
}
herald_wait_until 30 all_delivered || {
  echo "the real messages were not delivered within 30 s" >&2
  exit 1
}
stop_node

# -- seed ---------------------------------------------------------------------

say "seeding $messages messages in chunks of $chunk"
mariadb --no-defaults --socket="$tmp/mariadb/mysql.sock" -uroot \
  -e "CREATE DATABASE bench"
python3 bench/portal_bench.py senders --pepper-file "$HERALD_SECRETS/sender-pepper" \
  --count "$senders" |
  mariadb --no-defaults --socket="$tmp/mariadb/mysql.sock" -uroot
# The real messages' senders must hash as the seeded ones do: same pepper,
# same numbers.
[[ "$(sql "SELECT COUNT(*) FROM messages m JOIN bench.senders s
           ON s.hash = m.sender_hash")" == "$real" ]] || {
  echo "bench.senders' hashes differ from the node's" >&2
  exit 1
}
key_id=$(sql "SELECT MAX(body_key_id) FROM messages")
ids=()
for c in "${clients[@]}"; do
  ids+=("$(sql "SELECT id FROM clients WHERE name = '${c%%:*}'")")
done
# Shares as cumulative percent bounds for the client pick.
bounds=()
acc=0
for c in "${clients[@]}"; do
  acc=$((acc + ${c##*:}))
  bounds+=("$acc")
done
pick="CASE"
for i in "${!clients[@]}"; do
  pick+=" WHEN t.pick < ${bounds[$i]} THEN ${ids[$i]}"
done
pick+=" END"
# created_at runs from --days ago to 5 minutes ago in equal steps, each
# message jittered within its step; ids are UUIDv7 of that time (48-bit
# milliseconds, version 7, variant 10, then bits of the row number: unique).
now_us=$(sql "SELECT UNIX_TIMESTAMP(NOW(6)) * 1000000 DIV 1")
end_us=$((now_us - 300 * 1000000))
base_us=$((end_us - days * 86400 * 1000000))
step_us=$(((end_us - base_us) / messages))
recent_us=$((end_us - 7200 * 1000000))
seed_chunk() {
  local lo=$1 hi=$2
  sql "SET SESSION unique_checks = 0, foreign_key_checks = 0;
  INSERT INTO messages (id, client_id, sender_hash, sender_masked, body_key_id,
    body_nonce, body_ciphertext, status, attempts, created_at, updated_at,
    next_attempt_at, delivered_at, last_error)
  SELECT UNHEX(CONCAT(LPAD(HEX(t.us DIV 1000), 12, '0'), '7',
           LPAD(HEX(t.h1 % 4096), 3, '0'), HEX(8 + t.h1 DIV 4096 % 4),
           LPAD(HEX(t.h2), 8, '0'), LPAD(HEX(t.n), 7, '0'))),
         $pick, s.hash, s.masked, $key_id,
         LEFT(UNHEX(SHA2(CONCAT('nonce', t.n), 256)), 12),
         RANDOM_BYTES(60 + t.h1 % 120),
         t.status, t.attempts, t.created,
         t.created + INTERVAL t.latency MICROSECOND,
         IF(t.status = 'queued', t.created + INTERVAL t.latency MICROSECOND
              + INTERVAL 30 SECOND, NULL),
         IF(t.status = 'delivered', t.created + INTERVAL t.latency MICROSECOND,
            NULL),
         CASE WHEN t.status = 'failed' AND t.attempts = 1
                THEN 'downstream answered 400 Bad Request'
              WHEN t.status = 'failed' THEN 'expired after 10 attempts'
              WHEN t.status IN ('queued', 'delivering') AND t.attempts > 0
                THEN 'downstream answered 503 Service Unavailable'
              WHEN t.status = 'rejected' THEN 'not accepted'
              ELSE NULL END
  FROM (
    SELECT u.*,
           FROM_UNIXTIME(u.us DIV 1000000) + INTERVAL u.us % 1000000
             MICROSECOND AS created,
           u.h3 DIV 1000 % 100 AS pick,
           FLOOR($senders * POW((u.h2 % 1000003) / 1000003, 2)) AS sender,
           CASE WHEN u.attempts_base = 0 THEN 0
                ELSE 20000 + u.h1 % 200000
                     + (u.attempts_base - 1) * 30000000 END AS latency,
           u.attempts_base AS attempts
    FROM (
      SELECT v.*,
             CASE v.status
               WHEN 'delivered' THEN 1 + (v.h2 % 10 = 0) + (v.h2 % 50 = 0)
               WHEN 'failed' THEN IF(v.h2 % 3 = 0, 10, 1)
               WHEN 'rejected' THEN 0
               ELSE v.h2 % 3 END AS attempts_base
      FROM (
        SELECT w.*,
               CASE WHEN w.us > $recent_us THEN
                      CASE WHEN w.h3 % 1000 < 400 THEN 'queued'
                           WHEN w.h3 % 1000 < 500 THEN 'delivering'
                           WHEN w.h3 % 1000 < 950 THEN 'delivered'
                           ELSE 'failed' END
                    WHEN w.h3 % 1000 < 965 THEN 'delivered'
                    WHEN w.h3 % 1000 < 999 THEN 'failed'
                    ELSE 'rejected' END AS status
        FROM (
          SELECT seq AS n,
                 $base_us + (seq - 1) * $step_us
                   + CRC32(CONCAT('t', seq)) % $step_us AS us,
                 CRC32(CONCAT('a', seq)) AS h1, CRC32(CONCAT('b', seq)) AS h2,
                 CRC32(CONCAT('c', seq)) AS h3
          FROM seq_${lo}_to_${hi}) w) v) u) t
  JOIN bench.senders s ON s.n = t.sender"
}
seed_start=$SECONDS
for ((lo = 1; lo <= messages; lo += chunk)); do
  hi=$((lo + chunk - 1 < messages ? lo + chunk - 1 : messages))
  seed_chunk "$lo" "$hi"
  elapsed=$((SECONDS - seed_start))
  printf '   %8d / %d rows, %4d s, %6d rows/s\n' "$hi" "$messages" "$elapsed" \
    $((hi / (elapsed > 0 ? elapsed : 1))) >&2
done
sql "ANALYZE TABLE messages" >/dev/null
say "seeded in $((SECONDS - seed_start)) s; per user:"
sql "SELECT u.username, COUNT(*), SUM(m.status = 'failed'),
            SUM(m.status IN ('queued', 'delivering')), MIN(m.created_at)
     FROM messages m JOIN clients c ON c.id = m.client_id
     JOIN users u ON u.id = c.user_id GROUP BY u.username" |
  awk -F'\t' '{printf "   %-6s %8d messages (%d failed, %d queued or delivering), oldest %s\n", $1, $2, $3, $4, $5}' >&2
sql "SELECT ROUND(data_length / 1048576), ROUND(index_length / 1048576)
     FROM information_schema.tables WHERE table_schema = 'herald'
     AND table_name = 'messages'" |
  awk '{printf "   table messages: %d MiB data, %d MiB secondary indexes\n", $1, $2}' >&2

# -- scenarios ------------------------------------------------------------------

# A keyset cursor as the portal makes it: created_at's digits, '.', the id.
cursor_sql="CONCAT(DATE_FORMAT(created_at, '%Y%m%d%H%i%s%f'), '.',
  LOWER(CONCAT_WS('-', SUBSTR(HEX(id), 1, 8), SUBSTR(HEX(id), 9, 4),
  SUBSTR(HEX(id), 13, 4), SUBSTR(HEX(id), 17, 4), SUBSTR(HEX(id), 21))))"
# (A cursor is any position in time: one client's index finds it fast.)
deep_cursor=$(sql "SELECT $cursor_sql FROM messages
  FORCE INDEX (messages_client_created)
  WHERE client_id = ${ids[0]} AND created_at < NOW() - INTERVAL 60 DAY
  ORDER BY created_at DESC LIMIT 1")
# 50 cursors from 1 to 89 days back: pages anywhere in the history, most
# of them not in the buffer pool (256M by default, the table is ~520 MiB).
spread_cursors=$(for k in $(seq 0 49); do
  at=$(date -u -d "@$((now_us / 1000000 - 86400 - k * 88 * 86400 / 50 - k * 997))" '+%F %T')
  echo "SELECT $cursor_sql FROM messages FORCE INDEX (messages_client_created)
    WHERE client_id = ${ids[0]} AND created_at < '$at'
    ORDER BY created_at DESC LIMIT 1;"
done | mariadb --no-defaults --socket="$tmp/mariadb/mysql.sock" -uroot -N -B herald)
real_ids=$(sql "SELECT LOWER(CONCAT_WS('-', SUBSTR(HEX(id), 1, 8),
  SUBSTR(HEX(id), 9, 4), SUBSTR(HEX(id), 13, 4), SUBSTR(HEX(id), 17, 4),
  SUBSTR(HEX(id), 21))) FROM messages m JOIN received_messages r
  ON r.message_id = m.id")
busy=$(sql "SELECT number FROM bench.senders WHERE n = 0")
typical=$(sql "SELECT number FROM bench.senders WHERE n = $((senders / 2))")
day() { date -u -d "@$((now_us / 1000000 - $1 * 86400))" +%F; }
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
tab=$'\t'
{
  echo "first page${tab}get${tab}/messages"
  echo "pages 1-50 (after= cursors)${tab}walk${tab}/messages${tab}50"
  echo "deep: cursor 60 days back${tab}get${tab}/messages?after=$deep_cursor"
  printf 'deep: 50 cursors 1-89 days back%seach' "$tab"
  for c in $spread_cursors; do printf '\t/messages?after=%s' "$c"; done
  echo
  echo "status=delivered${tab}get${tab}/messages?status=delivered"
  echo "status=failed${tab}get${tab}/messages?status=failed"
  echo "status=failed pages 1-50${tab}walk${tab}/messages?status=failed${tab}50"
  echo "sender busiest (exact)${tab}get${tab}/messages?sender=$(enc "$busy")"
  echo "sender typical (exact)${tab}get${tab}/messages?sender=$(enc "$typical")"
  echo "client (the smaller one)${tab}get${tab}/messages?client=${ids[1]}"
  echo "date range 7 days a month ago${tab}get${tab}/messages?from=$(day 30)&to=$(day 24)"
  echo "few: status=queued${tab}get${tab}/messages?status=queued"
  echo "few: failed on one day 60 days ago${tab}get${tab}/messages?status=failed&from=$(day 60)&to=$(day 60)"
  echo "few: busiest sender + failed${tab}get${tab}/messages?sender=$(enc "$busy")&status=failed"
  echo "few: busiest sender + queued${tab}get${tab}/messages?sender=$(enc "$busy")&status=queued"
  echo "none: unknown sender${tab}get${tab}/messages?sender=%2B4915199999999"
  echo "none: client + date before any${tab}get${tab}/messages?client=${ids[0]}&to=$(day $((days + 30)))"
  printf 'message detail (decrypts)%seach' "$tab"
  for id in $real_ids; do printf '\t/messages/%s' "$id"; done
  echo
  echo "CSV export (10000 rows)${tab}get${tab}/messages.csv"
  echo "CSV export status=failed${tab}get${tab}/messages.csv?status=failed"
} >"$tmp/scenarios.tsv"

common=(--url "https://localhost:$HERALD_PORTAL_PORT" --ca "$pki/ca.crt"
  --user alice --password-file "$tmp/alice.pw" --scenarios "$tmp/scenarios.tsv")
[[ -n "$only" ]] && common+=(--only "$only")
code=0
version() { "$1/heraldd" --version | awk '{print $NF}' | tr -d '()'; }
echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $messages messages, innodb_buffer_pool_size=$buffer_pool"
if ((${#builds[@]} == 0)); then
  say "node with the portal role alone; timing as alice"
  start_node --node.roles='["portal"]'
  echo "== heraldd $(version "$build") of $build"
  args=(--requests "$requests" --warmup "$warmup" --rounds "$rounds"
    --target-ms "$target_ms")
  [[ -n "$json" ]] && args+=(--json "$json")
  python3 bench/portal_bench.py run "${common[@]}" "${args[@]}" || code=$?
else
  # The same data for every build, a node of each in turn per round.
  per_round=$(((requests + rounds - 1) / rounds))
  for ((r = 1; r <= rounds; r++)); do
    for i in "${!builds[@]}"; do
      say "round $r of $rounds: ${builds[$i]} ($(version "${builds[$i]}"))"
      start_node --bin "${builds[$i]}/heraldd" --node.roles='["portal"]'
      python3 bench/portal_bench.py run "${common[@]}" --requests "$per_round" \
        --warmup "$warmup" --rounds 1 --target-ms "$target_ms" \
        --json "$tmp/build$i-round$r.json" >>"$tmp/rounds.log" 2>&1 || true
      stop_node
    done
  done
  for i in "${!builds[@]}"; do
    echo "== heraldd $(version "${builds[$i]}") of ${builds[$i]}, $rounds rounds interleaved with the other builds"
    python3 bench/portal_bench.py merge --target-ms "$target_ms" \
      "$tmp"/build$i-round*.json || code=$?
    [[ -n "$json" ]] && python3 -c 'import json, sys; json.dump([r for f in sys.argv[2:] for r in json.load(open(f))], open(sys.argv[1], "w"))' "$json.build$i" "$tmp"/build$i-round*.json
  done
fi
echo "== load after $(cut -d' ' -f1-3 /proc/loadavg)"
if grep -q -E 'warn|error' "$tmp/heraldd.out"; then
  echo "== node warnings (first 5 of $(grep -c -E 'warn|error' "$tmp/heraldd.out"))"
  grep -E 'warn|error' "$tmp/heraldd.out" | head -5
fi
if ((explain)); then
  # MariaDB logs a prepared statement's executions with their parameters
  # only if the general log was on when it was prepared: a new node.
  stop_node
  sql "SET GLOBAL general_log_file = '$tmp/mariadb/general.log';
       SET GLOBAL log_output = 'FILE'; SET GLOBAL general_log = 1"
  start_node --node.roles='["portal"]'
  echo
  echo "== ANALYZE of the queries behind each scenario (one request each, general log on)"
  python3 bench/portal_bench.py explain "${common[@]}" \
    --socket "$tmp/mariadb/mysql.sock" --general-log "$tmp/mariadb/general.log" ||
    code=$?
fi
exit "$code"
