# Writes a node configuration (INI). Used by ops/quickstart and the
# end-to-end tests so that both run the node the same way.
#
# herald_write_config FILE with these variables set:
#   HERALD_NODE_NAME, HERALD_PKI (folder with ca.crt, server.crt/.key),
#   HERALD_HTTPS_PORT, HERALD_METRICS_PORT, HERALD_MYSQL_PORT,
#   HERALD_MYSQL_DATABASE, HERALD_MYSQL_PASSWORD_FILE, HERALD_REDIS_PORT,
#   HERALD_LOG_FILE
herald_write_config() {
  cat >"$1" <<INI
; Herald node configuration; every key is explained in
; config/herald.example.ini. Secrets are files (mode 0600), never values.

[node]
name="$HERALD_NODE_NAME"
roles=["ingress"]
shutdown-timeout=10s

[ingress]
address="127.0.0.1"
port=$HERALD_HTTPS_PORT
certificate="$HERALD_PKI/server.crt"
key="$HERALD_PKI/server.key"
ca="$HERALD_PKI/ca.crt"

[metrics]
address="127.0.0.1"
port=$HERALD_METRICS_PORT

[mysql]
host="127.0.0.1"
port=$HERALD_MYSQL_PORT
user="herald"
database="$HERALD_MYSQL_DATABASE"
password-file="$HERALD_MYSQL_PASSWORD_FILE"

[redis]
host="127.0.0.1"
port=$HERALD_REDIS_PORT

[log]
level="info"
file="$HERALD_LOG_FILE"
INI
}
