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

e2e_cleanup() {
  [[ -n "$node_pid" ]] && kill -9 "$node_pid" 2>/dev/null
  herald_stop_redis "$tmp/redis" "$redis_port"
  herald_mariadb_sql "$HERALD_TEST_MARIADB_DIR" "DROP DATABASE IF EXISTS \`$db\`" \
    >/dev/null 2>&1
  rm -rf "$tmp"
}
trap e2e_cleanup EXIT

source "$root/test/e2e/checks.sh"

pki="$tmp/pki"
must "the demo CA is created" herald_pki_ca "$pki" ca
for leaf in server:server client:client other-client:client stranger:client; do
  must "certificate ${leaf%%:*} is issued" \
    herald_pki_leaf "$pki" ca "${leaf%%:*}" "${leaf##*:}"
done
must "the rogue CA is created" herald_pki_ca "$pki" rogue-ca
must "the rogue CA's client certificate is issued" \
  herald_pki_leaf "$pki" rogue-ca rogue-client client
must "every certificate and key exists" need_files \
  "$pki"/{ca,server,client,other-client,stranger,rogue-ca,rogue-client}.{crt,key}
must "the first (empty) CRL is published" herald_pki_crl "$pki" ca
must "the test's Redis starts" herald_start_redis "$tmp/redis" "$redis_port"

export HERALD_NODE_NAME=e2e HERALD_PKI="$pki" HERALD_SECRETS="$tmp/secrets"
export HERALD_HTTPS_PORT=$(herald_free_port) HERALD_METRICS_PORT=$(herald_free_port)
export HERALD_MYSQL_PORT=$HERALD_TEST_MYSQL_PORT HERALD_MYSQL_DATABASE=$db
export HERALD_MYSQL_PASSWORD_FILE="$HERALD_SECRETS/mysql-password"
export HERALD_REDIS_PORT=$redis_port HERALD_LOG_FILE="$tmp/heraldd.log"
ini="$tmp/herald.ini"
must "the node configuration is written" herald_write_config "$ini"
must "the configuration names the test's database user" \
  sed -i "s/^user=\"herald\"/user=\"e2e_$$\"/" "$ini"
must "... and the substitution took" grep -q "^user=\"e2e_$$\"" "$ini"
must "the secrets are written" \
  herald_write_secrets "$HERALD_SECRETS" "$HERALDCTL" "$ini"
must "the secrets exist" need_files "$HERALD_SECRETS"/{mysql-password,sender-pepper,data-keys}
must "the test database and its user are created" \
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

