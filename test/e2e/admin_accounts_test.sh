#!/usr/bin/env bash
# End to end: the portal's admin pages and admin API for users, clients
# and certificates, with curl against a real node. An admin creates users
# (typed and generated passwords), disables one (their session ends),
# resets a password, changes a role; issues client certificates on the
# page (one-time download) and through the API, submits a message over
# mutual TLS with each, revokes them (the ingress refuses them within
# 5 s). Forms without CSRF change nothing; users get 403 on every admin
# route, no session goes to the login page (HTML) or gets 401 (API);
# names with markup are inert; every change is audited with the admin as
# actor. A user changes their own password on /account.
# Usage: admin_accounts_test.sh HERALDD HERALDCTL
set -uo pipefail

HERALDD=$1
HERALDCTL=$2
source "$(dirname "$0")/lib.sh"

ctl() { "$HERALDCTL" "$@" --config-file "$ini"; }

source "$root/test/e2e/portal_lib.sh"
prepare_portal_node '["ingress", "delivery", "receiver", "portal"]'
printf '%s\n' 'Amber-Harbor-Quartz-2026' >"$tmp/root.pw"
chmod 600 "$tmp/root.pw"
must "admin root is added" quietly ctl user add root --role admin --password-file "$tmp/root.pw"
must "the health check's client is registered" \
  quietly ctl client add probe --certificate "$pki/client.crt"
must "the node starts" start_node

web() {
  local jar=$1
  shift
  curl -s --max-time 15 --cacert "$pki/ca.crt" -b "$tmp/$jar" -c "$tmp/$jar" \
    -D "$tmp/headers" "$@"
}
code_of() { local jar=$1; shift; web "$jar" -o "$tmp/body" -w '%{http_code}' "$@"; }
csrf_in() { sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1; }
login() {
  local csrf
  csrf=$(web "$1" "$portal/login" | csrf_in)
  code_of "$1" --data-urlencode "csrf=$csrf" --data-urlencode "username=$2" \
    --data-urlencode "password=$3" "$portal/login"
}
csrf_of() { web "$1" "$portal/account" | csrf_in; }
# post JAR PATH FIELDS...: a form POST with the jar's CSRF token; the status.
post() {
  local jar=$1 path=$2
  shift 2
  local args=(--data-urlencode "csrf=$(csrf_of "$jar")")
  for field in "$@"; do args+=(--data-urlencode "$field"); done
  code_of "$jar" "${args[@]}" "$portal$path"
}
redirects_to_login() {
  [[ "$(code_of "$1" "${@:2}")" == 303 ]] &&
    grep -qi '^location: /login' "$tmp/headers"
}
signed_in() { [[ "$(code_of "$1" "$portal/messages")" == 200 ]]; }
signed_out() { redirects_to_login "$1" "$portal/messages"; }
# audited_by ADMIN ACTION TARGET: an ok row with that actor within 5 s.
audit_row() {
  [[ "$(sql "SELECT COUNT(*) FROM audit_log WHERE actor = '$1' AND action = '$2'
             AND target = '$3' AND outcome = 'ok'")" -ge 1 ]]
}
audited_by() { herald_wait_until 5 audit_row "$@"; }
status_in_db() { sql "SELECT status FROM users WHERE username = '$1'"; }
api() {
  curl -s --max-time 15 --cacert "$pki/ca.crt" -D "$tmp/headers" "$@"
}
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

check "root logs in" test "$(login root root "$(cat "$tmp/root.pw")")" = 303

# -- users --------------------------------------------------------------------------

check "root creates carol with a typed password" \
  test "$(post root /admin/users name=carol role=user password=Velvet-Orchard-Piano-2026)" = 200
check "... the page lists her" grep -q '<td class="text-break">carol</td>' "$tmp/body"
check "... audited with root as actor" audited_by root user.add carol
check "carol logs in" test "$(login carol carol Velvet-Orchard-Piano-2026)" = 303
check "root creates dave with a generated password" \
  test "$(post root /admin/users name=dave role=user password=)" = 200
dave_pw=$(sed -n 's/.*id="generated-password">\([^<]*\)<.*/\1/p' "$tmp/body")
check "... shown once on the page" test -n "$dave_pw"
check "... on a page that is not cached" grep -qi '^cache-control: no-store' "$tmp/headers"
check "... and dave logs in with it" test "$(login dave dave "$dave_pw")" = 303
check "a weak password is refused with the rule" \
  test "$(post root /admin/users name=erin role=user password=password123)" = 400
check "... and said on the page" grep -q 'id="problem"' "$tmp/body"

check "root disables carol" test "$(post root /admin/users/carol/disable)" = 200
check "... she is disabled" test "$(status_in_db carol)" = disabled
check "... her session has ended" signed_out carol
check "... audited" audited_by root user.disable carol
check "root enables carol" test "$(post root /admin/users/carol/enable)" = 200
check "... audited" audited_by root user.enable carol
check "root resets carol's password (generated)" \
  test "$(post root /admin/users/carol/password password=)" = 200
carol_pw=$(sed -n 's/.*id="generated-password">\([^<]*\)<.*/\1/p' "$tmp/body")
check "... the old password no longer works" \
  test "$(login carol carol Velvet-Orchard-Piano-2026)" = 401
check "... the new one does" test "$(login carol carol "$carol_pw")" = 303
check "... audited" audited_by root user.passwd carol
check "root makes carol admin" test "$(post root /admin/users/carol/role role=admin)" = 200
check "... her session has ended" signed_out carol
check "... after a new login she sees the admin pages" \
  test "$(login carol carol "$carol_pw")" = 303 -a "$(code_of carol "$portal/admin/users")" = 200
check "... audited" audited_by root user.role carol
check "carol (admin) makes herself a user: refused" \
  test "$(post carol /admin/users/carol/role role=user)" = 400
check "... the page says why" grep -q 'cannot take the admin role from yourself' "$tmp/body"
check "root cannot disable root" test "$(post root /admin/users/root/disable)" = 400
check "... the page says why" grep -q 'cannot disable your own account' "$tmp/body"
check "... root is still active" test "$(status_in_db root)" = active
check "root makes carol a user again" test "$(post root /admin/users/carol/role role=user)" = 200

# -- CSRF, RBAC, no session ---------------------------------------------------------

check "a disable without the CSRF token is refused (403)" \
  test "$(code_of root -d x=1 "$portal/admin/users/dave/disable")" = 403
check "... and dave is still active" test "$(status_in_db dave)" = active
check "a disable with another session's CSRF token is refused (403)" \
  test "$(code_of root --data-urlencode "csrf=$(csrf_of dave)" "$portal/admin/users/dave/disable")" = 403
check "... and dave is still active" test "$(status_in_db dave)" = active
check "a client create without CSRF is refused (403)" \
  test "$(code_of root -d name=nocsrf -d format=pem "$portal/admin/clients")" = 403
check "... and no client was made" \
  test "$(sql "SELECT COUNT(*) FROM clients WHERE name = 'nocsrf'")" = 0

get_routes=(/admin/users /admin/clients)
post_routes=(/admin/users /admin/users/carol/disable /admin/users/carol/enable
  /admin/users/carol/password /admin/users/carol/role /admin/clients
  /admin/clients/x/certificates /admin/clients/x/disable /admin/clients/x/enable
  /admin/certificates/AB/revoke /admin/downloads/00)
for route in "${get_routes[@]}"; do
  check "user dave: GET $route is 403" test "$(code_of dave "$portal$route")" = 403
  check "no session: GET $route goes to the login page" redirects_to_login anon "$portal$route"
done
for route in "${post_routes[@]}"; do
  check "user dave: POST $route is 403" \
    test "$(post dave "$route" name=x role=admin password= reason=keyCompromise)" = 403
  check "no session: POST $route goes to the login page" \
    redirects_to_login anon -d csrf=x "$portal$route"
done
check "... and nothing changed for carol" test "$(status_in_db carol)" = active
check "no session: GET /account goes to the login page" \
  redirects_to_login anon "$portal/account"

dave_token=$(api -H 'Content-Type: application/json' \
  -d "{\"username\":\"dave\",\"password\":\"$dave_pw\"}" \
  "$portal/admin/api/v1/sessions" | json_field "['token']")
root_token=$(api -H 'Content-Type: application/json' \
  -d "{\"username\":\"root\",\"password\":\"$(cat "$tmp/root.pw")\"}" \
  "$portal/admin/api/v1/sessions" | json_field "['token']")
check "API tokens for dave and root" test -n "$dave_token" -a -n "$root_token"
api_get=(users clients certificates)
api_post=(users users/carol/disable users/carol/enable users/carol/password
  users/carol/role clients clients/x/certificates clients/x/disable
  clients/x/enable certificates/AB/revoke)
for route in "${api_get[@]}"; do
  check "API user dave: GET $route is 403" test "$(api -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $dave_token" "$portal/admin/api/v1/$route")" = 403
  check "API no token: GET $route is 401" test "$(api -o /dev/null -w '%{http_code}' \
    "$portal/admin/api/v1/$route")" = 401
done
for route in "${api_post[@]}"; do
  check "API user dave: POST $route is 403" test "$(api -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $dave_token" -H 'Content-Type: application/json' \
    -d '{"name":"x","role":"admin","reason":"keyCompromise"}' "$portal/admin/api/v1/$route")" = 403
  check "API no token: POST $route is 401" test "$(api -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/json' -d '{}' "$portal/admin/api/v1/$route")" = 401
done

# -- markup in names ----------------------------------------------------------------

for evil in '<script>alert(1)</script>' '"><img src=x onerror=alert(1)>'; do
  check "a user named $evil is refused" \
    test "$(post root /admin/users "name=$evil" role=user password=)" = 400
  check "... and shown inert" test "$(grep -c '<script>alert\|<img src=x' "$tmp/body")" = 0
  check "... escaped" grep -q '&lt;\|&quot;' "$tmp/body"
done
check "the API refuses it too (422 invalid-change)" \
  test "$(api -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $root_token" \
    -H 'Content-Type: application/json' -d '{"name":"<script>"}' \
    "$portal/admin/api/v1/users")" = 422
check "... as problem+json" grep -q 'urn:herald:problem:invalid-change' "$tmp/body"

# -- users through the API ----------------------------------------------------------

check "API: root creates frank (generated password, 201)" \
  test "$(api -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $root_token" \
    -H 'Content-Type: application/json' -d '{"name":"frank"}' \
    "$portal/admin/api/v1/users")" = 201
frank_pw=$(json_field "['password']" <"$tmp/body")
check "... frank logs in" test "$(login frank frank "$frank_pw")" = 303
check "API: root disables frank" test "$(api -o /dev/null -w '%{http_code}' \
  -H "Authorization: Bearer $root_token" -X POST "$portal/admin/api/v1/users/frank/disable")" = 200
check "... his session has ended" signed_out frank
check "API: an unknown user is 404 user-not-found" test "$(api -o "$tmp/body" -w '%{http_code}' \
  -H "Authorization: Bearer $root_token" -X POST "$portal/admin/api/v1/users/nobody/enable")" = 404
check "API: the user list has frank disabled" \
  test "$(api -H "Authorization: Bearer $root_token" "$portal/admin/api/v1/users" |
    python3 -c "import json,sys; print([u['status'] for u in json.load(sys.stdin) if u['name']=='frank'][0])")" = disabled

# -- clients and certificates -------------------------------------------------------

messages="$base/api/v1/messages"
# submit_with CERT KEY: the status of a submission with that certificate.
submit_with() {
  curl -s --max-time 10 --cacert "$pki/ca.crt" --cert "$1" --key "$2" \
    -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "Idempotency-Key: $(date +%s%N)" \
    -d '{"sender_number":"+4915112345678","message_body":"hello"}' "$messages"
}
refused_with() { [[ "$(submit_with "$1" "$2")" != 202 ]]; }
accepted_with() { [[ "$(submit_with "$1" "$2")" == 202 ]]; }

check "the clients page offers to issue (the node has the CA key)" \
  test "$(code_of root "$portal/admin/clients")" = 200
check "... with the create form" grep -q 'id="create-client"' "$tmp/body"
check "root creates client app-page for dave (PEM)" \
  test "$(post root /admin/clients name=app-page owner=dave days=30 format=pem)" = 201
token=$(sed -n 's|.*action="/admin/downloads/\([0-9a-f]*\)".*|\1|p' "$tmp/body")
serial=$(sed -n 's|.*id="serial">\([0-9A-F]*\)<.*|\1|p' "$tmp/body")
check "... the page offers one download" test -n "$token" -a -n "$serial"
check "... the key is not on the page" test "$(grep -c 'PRIVATE KEY' "$tmp/body")" = 0
check "... audited" audited_by root cert.issue app-page
check "... owned by dave" test "$(sql "SELECT u.username FROM clients c JOIN users u ON u.id = c.user_id WHERE c.name = 'app-page'")" = dave
check "root makes carol admin again" test "$(post root /admin/users/carol/role role=admin)" = 200
check "... and she logs in" test "$(login carol carol "$carol_pw")" = 303
check "another admin cannot take root's download (410)" \
  test "$(post carol "/admin/downloads/$token")" = 410
check "a download without CSRF is refused" \
  test "$(code_of root -d x=1 "$portal/admin/downloads/$token")" = 403
check "the download works once" test "$(post root "/admin/downloads/$token")" = 200
cp "$tmp/body" "$tmp/app-page.pem"
check "... a second download is gone (410)" test "$(post root "/admin/downloads/$token")" = 410
check "... it held the key" grep -q 'BEGIN PRIVATE KEY' "$tmp/app-page.pem"
check "... and the certificate" grep -q 'BEGIN CERTIFICATE' "$tmp/app-page.pem"
check "the downloaded key and certificate submit a message over mTLS (202)" \
  herald_wait_until 5 accepted_with "$tmp/app-page.pem" "$tmp/app-page.pem"
check "root creates app-p12 as PKCS#12" \
  test "$(post root /admin/clients name=app-p12 format=p12)" = 201
p12_pw=$(sed -n 's|.*id="p12-password">\([^<]*\)<.*|\1|p' "$tmp/body")
token=$(sed -n 's|.*action="/admin/downloads/\([0-9a-f]*\)".*|\1|p' "$tmp/body")
check "... its password is shown once" test -n "$p12_pw"
check "... the bundle downloads" test "$(post root "/admin/downloads/$token")" = 200
cp "$tmp/body" "$tmp/app-p12.p12"
check "... and opens with that password" \
  quietly openssl pkcs12 -in "$tmp/app-p12.p12" -passin "pass:$p12_pw" -nodes -out "$tmp/app-p12.pem"

check "API: root creates app-api for dave (201, key in the answer)" \
  test "$(api -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $root_token" \
    -H 'Content-Type: application/json' -d '{"name":"app-api","owner":"dave","days":30}' \
    "$portal/admin/api/v1/clients")" = 201
json_field "['key_pem']" <"$tmp/body" >"$tmp/app-api.key"
json_field "['certificate_pem']" <"$tmp/body" >"$tmp/app-api.crt"
api_serial=$(json_field "['certificate']['serial']" <"$tmp/body")
check "... the API's certificate submits a message (202)" \
  herald_wait_until 5 accepted_with "$tmp/app-api.crt" "$tmp/app-api.key"
check "... audited" audited_by root cert.issue app-api
check "API: renew app-api (201)" \
  test "$(api -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $root_token" \
    -X POST "$portal/admin/api/v1/clients/app-api/certificates")" = 201
check "... audited" audited_by root cert.renew app-api
check "API: renew of an unknown client is 404" \
  test "$(api -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $root_token" \
    -X POST "$portal/admin/api/v1/clients/nope/certificates")" = 404
check "API: the certificate list filters expiring within 31 days" \
  grep -q "$api_serial" <(api -H "Authorization: Bearer $root_token" \
    "$portal/admin/api/v1/certificates?status=active&expiring_days=31")
check "the clients page filters by owner" \
  test "$(code_of root "$portal/admin/clients?owner=dave")" = 200 -a \
    "$(grep -c 'app-p12' "$tmp/body")" = 0
check "... and shows app-page" grep -q 'app-page' "$tmp/body"

check "root revokes app-page's certificate on the page" \
  test "$(post root "/admin/certificates/$serial/revoke" reason=keyCompromise)" = 200
check "... a fresh CRL is published" grep -q 'fresh CRL is published' "$tmp/body"
check "... the ingress refuses the certificate within 5 s" \
  herald_wait_until 5 refused_with "$tmp/app-page.pem" "$tmp/app-page.pem"
check "... audited" audited_by root cert.revoke "$serial"
check "API: revoke app-api's first certificate (CRL published)" \
  test "$(api -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $root_token" \
    -H 'Content-Type: application/json' -d '{"reason":"superseded"}' \
    "$portal/admin/api/v1/certificates/$api_serial/revoke")" = 200 -a \
    "$(json_field "['crl_published']" <"$tmp/body")" = True
check "... the ingress refuses it within 5 s" \
  herald_wait_until 5 refused_with "$tmp/app-api.crt" "$tmp/app-api.key"
check "API: revoking it again is refused (422)" \
  test "$(api -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $root_token" \
    -H 'Content-Type: application/json' -d '{"reason":"superseded"}' \
    "$portal/admin/api/v1/certificates/$api_serial/revoke")" = 422
check "the PKCS#12 certificate submits a message (202)" \
  herald_wait_until 5 accepted_with "$tmp/app-p12.pem" "$tmp/app-p12.pem"
check "root disables client app-p12" test "$(post root /admin/clients/app-p12/disable)" = 200
check "... the ingress refuses it within 5 s" \
  herald_wait_until 5 refused_with "$tmp/app-p12.pem" "$tmp/app-p12.pem"
check "... audited" audited_by root client.disable app-p12

# -- own account --------------------------------------------------------------------

check "dave logs in on a second browser" test "$(login dave2 dave "$dave_pw")" = 303
check "dave's password change needs the current password" \
  test "$(post dave /account/password current_password=wrong-wrong-wrong \
    new_password=Granite-Willow-Lantern-2026 repeat_password=Granite-Willow-Lantern-2026)" = 400
check "dave changes his password" \
  test "$(post dave /account/password "current_password=$dave_pw" \
    new_password=Granite-Willow-Lantern-2026 repeat_password=Granite-Willow-Lantern-2026)" = 200
check "... this session goes on" signed_in dave
check "... the other one has ended" signed_out dave2
check "... the new password works" test "$(login dave3 dave Granite-Willow-Lantern-2026)" = 303
check "... audited with dave as actor" audited_by dave user.passwd dave

check "the audit log verifies" ctl audit verify
check "the node stops cleanly" stop_node

e2e_finish
