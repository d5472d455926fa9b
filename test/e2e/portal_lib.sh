# Shared set-up and helpers of the portal's end-to-end tests: a node with
# the portal role, curl as a browser with a cookie jar, the login form, the
# JSON admin API's bearer tokens. Source it after lib.sh with ctl defined.

export HERALD_PORTAL_PORT=$(herald_free_port)
portal="https://localhost:$HERALD_PORTAL_PORT"

# prepare_portal_node ROLES_JSON: the configuration (roles, the test's
# database user, a [portal] section), the secrets, the schema and the
# registered node certificate; the node is not started yet.
prepare_portal_node() {
  export HERALD_ROLES=$1
  must "the configuration gets the portal role" herald_write_config "$ini"
  must "... names the test's database user again" \
    sed -i "s/^user=\"herald\"/user=\"e2e_$$\"/" "$ini"
  must "... and a [portal] section" herald_write_portal_config "$ini"
  must "the portal's session key is written" \
    herald_write_secrets "$HERALD_SECRETS" "$HERALDCTL" "$ini"
  must "heraldctl db migrate applies the schema" quietly ctl db migrate
  register_node
}
# web JAR ARGS...: curl as a browser (no client certificate) with a cookie
# jar; headers to $tmp/headers, body to stdout.
web() {
  local jar=$1
  shift
  curl -s --max-time 10 --cacert "$pki/ca.crt" -b "$tmp/$jar" -c "$tmp/$jar" \
    -D "$tmp/headers" "$@"
}
code_of() { local jar=$1; shift; web "$jar" -o /dev/null -w '%{http_code}' "$@"; }
csrf_in() { sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1; }
# login JAR USER PASSWORD: the HTTP status of a login through the form.
login() {
  local csrf
  csrf=$(web "$1" "$portal/login" | csrf_in)
  code_of "$1" --data-urlencode "csrf=$csrf" --data-urlencode "username=$2" \
    --data-urlencode "password=$3" "$portal/login"
}
redirects_to_login() {
  [[ "$(code_of "$1" "${@:2}")" == 303 ]] &&
    grep -qi '^location: /login' "$tmp/headers"
}
# api TOKEN ARGS...: curl against the JSON admin API with a bearer token;
# headers to $tmp/headers.
api() {
  local token=$1
  shift
  curl -s --max-time 10 --cacert "$pki/ca.crt" -D "$tmp/headers" \
    -H "Authorization: Bearer $token" "$@"
}
api_code() { local token=$1; shift; api "$token" -o /dev/null -w '%{http_code}' "$@"; }
# api_token USER PASSWORD: a session token of the admin API's login.
api_token() {
  curl -s --max-time 10 --cacert "$pki/ca.crt" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$2\"}" "$portal/admin/api/v1/sessions" |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
}
