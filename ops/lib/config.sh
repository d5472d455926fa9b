# Writes a node configuration (INI). Used by ops/quickstart and the
# end-to-end tests so that both run the node the same way.
#
# herald_write_config FILE with these variables set:
#   HERALD_NODE_NAME, HERALD_PKI (folder with ca.crt, server.crt/.key),
#   HERALD_HTTPS_PORT, HERALD_METRICS_PORT, HERALD_MYSQL_PORT,
#   HERALD_MYSQL_DATABASE, HERALD_MYSQL_PASSWORD_FILE, HERALD_REDIS_PORT,
#   HERALD_SECRETS (folder with data-keys and sender-pepper), HERALD_LOG_FILE,
#   and optionally HERALD_ROLES (default: all), HERALD_DELIVERY_URL
#   (default: this node's own receiver) and HERALD_CRL_FILE (default:
#   HERALD_PKI/crl.pem; see herald_pki_crl).
# The CA of heraldctl ca/cert is the demo CA in HERALD_PKI.
herald_write_config() {
  cat >"$1" <<INI
; Herald node configuration; every key is explained in
; config/herald.example.ini. Secrets are files (mode 0600), never values.

[node]
name="$HERALD_NODE_NAME"
roles=${HERALD_ROLES:-[\"ingress\", \"delivery\", \"receiver\"]}
shutdown-timeout=30s

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

[delivery]
url="${HERALD_DELIVERY_URL:-https://localhost:$HERALD_HTTPS_PORT/internal/v1/deliver}"
certificate="$HERALD_PKI/server.crt"
key="$HERALD_PKI/server.key"
ca="$HERALD_PKI/ca.crt"

[pki]
ca-dir="$HERALD_PKI"
crl-file="${HERALD_CRL_FILE:-$HERALD_PKI/crl.pem}"

[crypto]
keys-file="$HERALD_SECRETS/data-keys"
pepper-file="$HERALD_SECRETS/sender-pepper"
audit-key-file="$HERALD_SECRETS/audit-key"

[log]
level="info"
file="$HERALD_LOG_FILE"
INI
}

# herald_write_portal_config FILE: appends the [portal] section for a node
# with the portal role (add "portal" to HERALD_ROLES): its listener on
# HERALD_PORTAL_PORT with the server certificate of HERALD_PKI (browsers
# need no client certificate) and the session key of HERALD_SECRETS.
herald_write_portal_config() {
  cat >>"$1" <<INI

[portal]
address="127.0.0.1"
port=$HERALD_PORTAL_PORT
certificate="$HERALD_PKI/server.crt"
key="$HERALD_PKI/server.key"
session-key-file="$HERALD_SECRETS/portal-session-key"
INI
}

# herald_write_secrets DIR: the MariaDB password, the sender-hash pepper, the
# audit chain's key, the portal's session key and the first data key (through heraldctl), each mode
# 0600, unless present.
# HERALDCTL and the configuration file come as $1 and $2 for the data key.
herald_write_secrets() {
  local dir=$1 heraldctl=$2 ini=$3
  mkdir -p "$dir"
  chmod 700 "$dir"
  [[ -f "$dir/mysql-password" ]] ||
    (umask 077 && openssl rand -hex 24 >"$dir/mysql-password")
  [[ -f "$dir/sender-pepper" ]] ||
    (umask 077 && openssl rand -hex 32 >"$dir/sender-pepper")
  [[ -f "$dir/audit-key" ]] ||
    (umask 077 && openssl rand -hex 32 >"$dir/audit-key")
  [[ -f "$dir/portal-session-key" ]] ||
    (umask 077 && openssl rand -hex 32 >"$dir/portal-session-key")
  [[ -f "$dir/data-keys" ]] ||
    "$heraldctl" keys rotate --config-file "$ini" >/dev/null
}
