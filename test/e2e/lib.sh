# Shared set-up of the end-to-end tests: a temp folder with a PKI, a Redis of
# the test's own, a fresh database in the MariaDB that ops/test started, the
# secrets and a node configuration. Source it with HERALDD and HERALDCTL set.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$root/ops/lib/services.sh"
source "$root/ops/lib/pki.sh"
source "$root/ops/lib/config.sh"
: "${HERALD_TEST_MARIADB_DIR:?run through ops/test, which starts MariaDB}"
: "${HERALD_TEST_MYSQL_PORT:?run through ops/test}"

tmp=$(mktemp -d /tmp/herald-e2e.XXXXXX)
redis_port=$(herald_free_port)
db="herald_e2e_$$"
node_pid=""
passed=0
failed=0

e2e_cleanup() {
  [[ -n "$node_pid" ]] && kill -9 "$node_pid" 2>/dev/null
  herald_stop_redis "$tmp/redis" "$redis_port"
  herald_mariadb_sql "$HERALD_TEST_MARIADB_DIR" "DROP DATABASE IF EXISTS \`$db\`" \
    >/dev/null 2>&1
  rm -rf "$tmp"
}
trap e2e_cleanup EXIT

# check NAME COMMAND...: one test step.
check() {
  local name=$1
  shift
  if "$@"; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    failed=$((failed + 1))
  fi
}

# e2e_finish: prints the node's output on failure and the closing line.
e2e_finish() {
  if ((failed > 0)) && [[ -f "$tmp/heraldd.out" ]]; then
    echo "--- heraldd output"
    tail -40 "$tmp/heraldd.out"
  fi
  echo "$passed passed, $failed failed"
  ((failed == 0))
}

pki="$tmp/pki"
herald_pki_ca "$pki" ca
herald_pki_leaf "$pki" ca server server
herald_pki_leaf "$pki" ca client client
herald_pki_leaf "$pki" ca other-client client
herald_pki_leaf "$pki" ca stranger client
herald_pki_ca "$pki" rogue-ca
herald_pki_leaf "$pki" rogue-ca rogue-client client
# Nodes do not start without a CRL.
herald_pki_crl "$pki" ca
herald_start_redis "$tmp/redis" "$redis_port"

export HERALD_NODE_NAME=e2e HERALD_PKI="$pki" HERALD_SECRETS="$tmp/secrets"
export HERALD_HTTPS_PORT=$(herald_free_port) HERALD_METRICS_PORT=$(herald_free_port)
export HERALD_MYSQL_PORT=$HERALD_TEST_MYSQL_PORT HERALD_MYSQL_DATABASE=$db
export HERALD_MYSQL_PASSWORD_FILE="$HERALD_SECRETS/mysql-password"
export HERALD_REDIS_PORT=$redis_port HERALD_LOG_FILE="$tmp/heraldd.log"
ini="$tmp/herald.ini"
herald_write_config "$ini"
sed -i "s/^user=\"herald\"/user=\"e2e_$$\"/" "$ini"
herald_write_secrets "$HERALD_SECRETS" "$HERALDCTL" "$ini"
herald_create_database "$HERALD_TEST_MARIADB_DIR" "$db" "e2e_$$" \
  "$(cat "$HERALD_MYSQL_PASSWORD_FILE")"
base="https://localhost:$HERALD_HTTPS_PORT"

# as NAME CURL_ARGS...: curl with client certificate NAME.
as() {
  local name=$1
  shift
  curl -s --max-time 10 --cacert "$pki/ca.crt" --cert "$pki/$name.crt" \
    --key "$pki/$name.key" "$@"
}
client_curl() { as client "$@"; }
status_of() { client_curl -o /dev/null -w '%{http_code}' "$@"; }
healthy() { [[ "$(status_of "$base/api/v1/health")" == 200 ]]; }

# register_node: after db migrate, registers server.crt as a node
# certificate: the node delivers to its own receiver with it, and only
# registered certificates get an answer at all.
register_node() {
  "$HERALDCTL" cert register --config-file "$ini" "$pki/server.crt" >/dev/null
}

# start_node [ARGS...]: heraldd in the background, waits until healthy.
start_node() {
  "$HERALDD" --config-file="$ini" "$@" >>"$tmp/heraldd.out" 2>&1 &
  node_pid=$!
  herald_wait_until 20 healthy
}

# stop_node: SIGTERM and wait; returns the exit code.
stop_node() {
  local code=0
  kill -TERM "$node_pid"
  wait "$node_pid" || code=$?
  node_pid=""
  return "$code"
}

# sql QUERY: runs QUERY in the test database as root, tab-separated output.
sql() {
  mariadb --no-defaults --socket="$HERALD_TEST_MARIADB_DIR/mysql.sock" -uroot \
    -N -B "$db" -e "$1"
}
