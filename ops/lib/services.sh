# Starts and stops private MariaDB and Redis instances on loopback, each in a
# folder of its own. Sourced by ops/quickstart, ops/test and the end-to-end
# tests; never touches the distribution's services.

# Returns whether the process in pidfile $1 runs (zombies count as gone).
herald_pid_alive() {
  local pid
  [[ -f "$1" ]] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ -n "$pid" && -r /proc/$pid/stat ]] || return 1
  [[ "$(awk '{print $3}' /proc/$pid/stat 2>/dev/null)" != "Z" ]]
}

# herald_wait_until SECONDS COMMAND...: polls COMMAND every 0.1 s. Tests
# of sanitizer builds, several times slower, set HERALD_TEST_SLOWDOWN to
# stretch every wait (and timing bound) by that factor.
herald_wait_until() {
  local deadline=$((SECONDS + $1 * ${HERALD_TEST_SLOWDOWN:-1}))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# herald_start_redis DIR PORT [TLS_PORT TLS_DIR]: Redis with AOF (fsync
# every second); with TLS_PORT also TLS there, with TLS_DIR/server.crt,
# server.key and ca.crt (client certificates optional).
herald_start_redis() {
  local dir=$1 port=$2 tls_port=${3:-} tls_dir=${4:-} tls=()
  mkdir -p "$dir"
  if herald_pid_alive "$dir/redis.pid"; then
    return 0
  fi
  if [[ -n "$tls_port" ]]; then
    tls=(--tls-port "$tls_port" --tls-cert-file "$tls_dir/server.crt"
      --tls-key-file "$tls_dir/server.key" --tls-ca-cert-file "$tls_dir/ca.crt"
      --tls-auth-clients optional)
  fi
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
    --appendonly yes --appendfsync everysec --save '' \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    --protected-mode yes "${tls[@]}" >/dev/null
  herald_wait_until 10 redis-cli -h 127.0.0.1 -p "$port" ping || {
    echo "redis on port $port did not start; see $dir/redis.log" >&2
    return 1
  }
}

# herald_pid_gone PIDFILE
herald_pid_gone() {
  ! herald_pid_alive "$1"
}

# herald_stop_redis DIR PORT
herald_stop_redis() {
  local dir=$1 port=$2 pid
  herald_pid_alive "$dir/redis.pid" || return 0
  pid=$(cat "$dir/redis.pid")
  redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 \
    || kill "$pid" 2>/dev/null || true
  herald_wait_until 10 herald_pid_gone "$dir/redis.pid" \
    || kill -9 "$pid" 2>/dev/null || true
}

# herald_free_port: a TCP port below 32768 that nothing listens on.
herald_free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 12000))
    if ! (: >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

# herald_start_mariadb DIR PORT [AUTH [TLS_DIR]]: a MariaDB server with
# durable commits. Initialises DIR/data on first use. AUTH is how root logs
# in over DIR/mysql.sock: "socket" (the OS user root, default) or "normal"
# (no password: throwaway test instances only). With TLS_DIR, TCP clients
# may use TLS with TLS_DIR/server.crt, server.key and ca.crt.
# HERALD_MARIADB_BUFFER_POOL sets innodb_buffer_pool_size (256M).
herald_start_mariadb() {
  local dir=$1 port=$2 auth=${3:-socket} tls_dir=${4:-} tls=()
  [[ -n "$tls_dir" ]] && tls=(--ssl-ca="$tls_dir/ca.crt"
    --ssl-cert="$tls_dir/server.crt" --ssl-key="$tls_dir/server.key")
  mkdir -p "$dir"
  if herald_pid_alive "$dir/mariadb.pid"; then
    return 0
  fi
  if [[ ! -d "$dir/data/mysql" ]]; then
    mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$dir/data" \
      --auth-root-authentication-method="$auth" --skip-test-db \
      --skip-name-resolve >"$dir/install.log" 2>&1 || {
      echo "mariadb-install-db failed; see $dir/install.log" >&2
      return 1
    }
  fi
  mariadbd --no-defaults --user="$(id -un)" --datadir="$dir/data" \
    --socket="$dir/mysql.sock" --port="$port" --bind-address=127.0.0.1 \
    --pid-file="$dir/mariadb.pid" --skip-name-resolve --skip-log-bin \
    --innodb-flush-log-at-trx-commit=1 --innodb-buffer-pool-size=${HERALD_MARIADB_BUFFER_POOL:-256M} \
    --log-error="$dir/mariadb.log" "${tls[@]}" >/dev/null 2>&1 &
  herald_wait_until 30 mariadb-admin --no-defaults --socket="$dir/mysql.sock" \
    -uroot ping || {
    echo "mariadb on port $port did not start; see $dir/mariadb.log" >&2
    return 1
  }
}

# herald_stop_mariadb DIR
herald_stop_mariadb() {
  local dir=$1 pid
  herald_pid_alive "$dir/mariadb.pid" || return 0
  pid=$(cat "$dir/mariadb.pid")
  kill "$pid" 2>/dev/null || true
  herald_wait_until 30 herald_pid_gone "$dir/mariadb.pid" \
    || kill -9 "$pid" 2>/dev/null || true
}

# herald_mariadb_sql DIR SQL: runs SQL as root over the socket.
herald_mariadb_sql() {
  mariadb --no-defaults --socket="$1/mysql.sock" -uroot -e "$2"
}

# herald_create_database DIR DB USER PASSWORD: an empty database and a user
# limited to it (loopback only).
herald_create_database() {
  local dir=$1 db=$2 user=$3 password=$4
  herald_mariadb_sql "$dir" "
    CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
    CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$password';
    CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$password';
    GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'127.0.0.1';
    GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'localhost';"
}
