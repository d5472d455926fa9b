#!/usr/bin/env bash
# End to end: the portal against a real node, with curl and a cookie jar
# as the browser. Every page without a session goes to the login page;
# the login form needs its CSRF token; a login sets an HttpOnly, Secure,
# SameSite=Strict session cookie; a user sees the messages of their own
# clients only (another user's message is a 404), searches by sender
# (exact), status and date, exports CSV, sees a message's body inert
# (<script>, "><img onerror>); logout needs its CSRF token and revokes the
# session on the server, as a password change does; a tampered cookie is
# refused; failed logins lock the account, then the address; every login,
# failure, lockout and logout is audited.
# Usage: portal_test.sh HERALDD HERALDCTL
set -uo pipefail

HERALDD=$1
HERALDCTL=$2
source "$(dirname "$0")/lib.sh"

ctl() { "$HERALDCTL" "$@" --config-file "$ini"; }

source "$root/test/e2e/portal_lib.sh"
prepare_portal_node '["ingress", "delivery", "receiver", "portal"]'
printf '%s\n' 'Quiet-Harbor-Lantern-2026' >"$tmp/alice.pw"
printf '%s\n' 'Copper-Meadow-Violin-2026' >"$tmp/bob.pw"
printf '%s\n' 'Silver-Canyon-Teapot-2027' >"$tmp/bob2.pw"
chmod 600 "$tmp"/*.pw
must "user alice is added" quietly ctl user add alice --password-file "$tmp/alice.pw"
must "user bob is added" quietly ctl user add bob --password-file "$tmp/bob.pw"
must "alice owns client app-a" \
  quietly ctl client add app-a --certificate "$pki/client.crt" --user alice
must "bob owns client app-b" \
  quietly ctl client add app-b --certificate "$pki/other-client.crt" --user bob
must "the node starts" start_node

messages="$base/api/v1/messages"
# submit CERT SENDER BODY: the new message's id.
submit() {
  as "$1" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: $(date +%s%N)" \
    -d "{\"sender_number\":\"$2\",\"message_body\":\"$3\"}" \
    "$messages" | sed -n 's/.*"message_id":"\([^"]*\)".*/\1/p'
}
script_id=$(submit client +4915112345678 '<script>alert(1)</script>')
img_id=$(submit client +4917012345699 '\"><img src=x onerror=alert(1)>')
bob_id=$(submit other-client +4915199999999 'bob only')
must "three messages are accepted" test -n "$script_id" -a -n "$img_id" -a -n "$bob_id"

audit_rows() {
  sql "SELECT COUNT(*) FROM audit_log WHERE action = '$1' AND target = '$2'
       AND outcome = '$3'"
}
# audited ACTION TARGET OUTCOME: one such row, written within 5 s (the
# audit actor writes in batches).
one_audit_row() { [[ "$(audit_rows "$1" "$2" "$3")" == 1 ]]; }
audited() { herald_wait_until 5 one_audit_row "$@"; }

# -- without a session -------------------------------------------------------------

for route in / /messages /messages.csv "/messages/$script_id"; do
  check "GET $route without a session goes to the login page" \
    redirects_to_login anon "$portal$route"
done
check "POST /logout without a session goes to the login page" \
  redirects_to_login anon -d csrf=x "$portal/logout"
page=$(web anon "$portal/login")
check "the login page is served" grep -q 'name="password"' <<<"$page"
check "... with a strict Content-Security-Policy" \
  grep -qi "^content-security-policy: default-src 'none'; script-src 'self'; style-src 'self'" "$tmp/headers"
check "... and no script at all" test "$(grep -ci '<script' <<<"$page")" = 0
check "... and Referrer-Policy no-referrer" grep -qi '^referrer-policy: no-referrer' "$tmp/headers"
check "Bootstrap is served by the node (Debian's libjs-bootstrap5)" \
  test "$(code_of anon "$portal/static/bootstrap.min.css")" = 200
check "... as text/css" grep -qi '^content-type: text/css' "$tmp/headers"
check "an unknown page is 404" test "$(code_of anon "$portal/nope")" = 404
check "the portal asks for no client certificate (curl has none: 303)" \
  test "$(code_of anon "$portal/")" = 303

# -- login ---------------------------------------------------------------------------

check "a login without the form's CSRF token is refused (403)" \
  test "$(code_of alice --data-urlencode username=alice \
           --data-urlencode "password=$(cat "$tmp/alice.pw")" "$portal/login")" = 403
check "a wrong password is refused (401)" \
  test "$(login alice alice wrong-password-123)" = 401
check "alice logs in (303)" test "$(login alice alice "$(cat "$tmp/alice.pw")")" = 303
check "... the session cookie is HttpOnly, Secure, SameSite=Strict, short-lived" \
  grep -qi '^set-cookie: __Host-herald_session=[^;]*; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=900' "$tmp/headers"
check "... and the login is audited" audited login.ok alice ok
check "... as is the failure" audited login.failed alice failed

# -- RBAC: own messages only ---------------------------------------------------------

page=$(web alice "$portal/messages")
check "alice sees her message" grep -q "$script_id" <<<"$page"
check "... and not bob's" test "$(grep -c "$bob_id" <<<"$page")" = 0
check "... with the sender masked" grep -q '+49\*\*\*\*78' <<<"$page"
check "... never in full" test "$(grep -c '4915112345678' <<<"$page")" = 0
check "bob's message is a 404 for alice" \
  test "$(code_of alice "$portal/messages/$bob_id")" = 404
check "... as is a malformed id" test "$(code_of alice "$portal/messages/x'--")" = 404
detail=$(web alice "$portal/messages/$script_id")
check "alice's message shows its body, escaped" \
  grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' <<<"$detail"
check "... inert: no script element" test "$(grep -ci '<script' <<<"$detail")" = 0
detail=$(web alice "$portal/messages/$img_id")
check "an attribute-breaking body stays text" \
  grep -qF '&quot;&gt;&lt;img src=x onerror=alert(1)&gt;' <<<"$detail"
check "... no img element" test "$(grep -ci '<img' <<<"$detail")" = 0

# -- search and export ---------------------------------------------------------------

page=$(web alice "$portal/messages?sender=%2B4915112345678")
check "a search by sender finds that sender's message" grep -q "$script_id" <<<"$page"
check "... and only it" test "$(grep -c "$img_id" <<<"$page")" = 0
page=$(web alice "$portal/messages?sender=%2B4915199999999")
check "bob's sender finds nothing for alice" grep -q 'id="no-messages"' <<<"$page"
today=$(date -u +%F)
page=$(web alice "$portal/messages?from=$today&to=$today")
check "a date range of today finds both of alice's messages" \
  grep -q "$img_id" <<<"$page"
page=$(web alice "$portal/messages?status=failed")
check "a status nothing has finds nothing" grep -q 'id="no-messages"' <<<"$page"
check "a malformed sender is a 400" \
  test "$(code_of alice "$portal/messages?sender=12345")" = 400
check "an unknown search field is a 400" \
  test "$(code_of alice "$portal/messages?order=1;drop")" = 400
csv=$(web alice "$portal/messages.csv")
check "the CSV export has a header and alice's two messages" \
  test "$(wc -l <<<"$csv")" = 3
check "... as an attachment" grep -qi '^content-disposition: attachment' "$tmp/headers"
check "... without bob's" test "$(grep -c "$bob_id" <<<"$csv")" = 0

# -- sessions end on the server ------------------------------------------------------

cp "$tmp/alice" "$tmp/alice-copy"
csrf=$(web alice "$portal/messages" | csrf_in)
check "logout without its CSRF token is refused (403)" \
  test "$(code_of alice -d csrf=0000 "$portal/logout")" = 403
check "logout with it goes to the login page" \
  redirects_to_login alice --data-urlencode "csrf=$csrf" "$portal/logout"
check "... and is audited" audited logout alice ok
check "the logged-out session's cookie (kept elsewhere) no longer works" \
  redirects_to_login alice-copy "$portal/messages"
check "bob logs in" test "$(login bob bob "$(cat "$tmp/bob.pw")")" = 303
check "... sees his message" grep -q "$bob_id" <<<"$(web bob "$portal/messages")"
must "bob's password is changed" quietly ctl user passwd bob --password-file "$tmp/bob2.pw"
check "the password change ended bob's session" \
  redirects_to_login bob "$portal/messages"
sed -i 's/\(__Host-herald_session	.*\).$/\1!/' "$tmp/alice-copy"
check "a tampered cookie goes to the login page" \
  redirects_to_login alice-copy "$portal/messages"

# -- the admin API's sessions -------------------------------------------------------

api="$portal/admin/api/v1"
# api_login USER PASSWORD: the HTTP status; the body in $tmp/api.json.
api_login() {
  curl -s --max-time 10 --cacert "$pki/ca.crt" -o "$tmp/api.json" \
    -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$2\"}" "$api/sessions"
}
# api_logout TOKEN: the HTTP status of DELETE .../sessions/current.
api_logout() {
  curl -s --max-time 10 --cacert "$pki/ca.crt" -o "$tmp/api.json" \
    -w '%{http_code}' -X DELETE -H "Authorization: Bearer $1" \
    "$api/sessions/current"
}
check "an API login with a wrong password is refused (401)" \
  test "$(api_login bob not-the-password)" = 401
check "... as problem+json login-refused" \
  grep -q 'urn:herald:problem:login-refused' "$tmp/api.json"
check "an API login gives a bearer token (201)" \
  test "$(api_login bob "$(cat "$tmp/bob2.pw")")" = 201
token=$(sed -n 's/.*"token":"\([^"]*\)".*/\1/p' "$tmp/api.json")
check "... with bob's role" grep -q '"role":"user"' "$tmp/api.json"
check "the token ends its session (204)" test "$(api_logout "$token")" = 204
check "... and is refused afterwards (401)" test "$(api_logout "$token")" = 401
check "... as problem+json unauthorized" \
  grep -q 'urn:herald:problem:unauthorized' "$tmp/api.json"
check "an unknown admin API path is a 404..." \
  test "$(code_of bob "$api/nothing-here")" = 404
check "... as problem+json" \
  grep -qi '^content-type: application/problem+json' "$tmp/headers"
check "an unknown page is a 404..." test "$(code_of bob "$portal/nothing-here")" = 404
check "... as an HTML page" grep -qi '^content-type: text/html' "$tmp/headers"

# -- lockout -------------------------------------------------------------------------

for i in 1 2 3 4; do
  login carol alice "wrong-$i-password" >/dev/null
done
check "the 5th failed login locks the account (429)" \
  test "$(login carol alice wrong-5-password)" = 429
check "... with Retry-After" grep -qi '^retry-after: [0-9]' "$tmp/headers"
check "... and the right password no longer helps" \
  test "$(login carol alice "$(cat "$tmp/alice.pw")")" = 429
check "... the lockout is audited" audited login.lockout alice ok
# Failures from this address so far: alice's wrong password, the API login
# with a wrong one and the 5 above; 12 more and the next is the 20th.
for i in $(seq 1 12); do
  login dave "nobody$i" "wrong-password-$i" >/dev/null
done
check "the 20th failure from one address locks the address" \
  test "$(login dave nobody15 wrong-password)" = 429
check "... for every account, bob's too" \
  test "$(login dave bob "$(cat "$tmp/bob2.pw")")" = 429
check "... audited" audited login.lockout 127.0.0.1 ok
check "no password appears in the log" \
  test "$(grep -c 'Harbor-Lantern\|Meadow-Violin\|wrong-password' "$tmp/heraldd.log" "$tmp/heraldd.out" | awk -F: '{s+=$2} END {print s}')" = 0

check "the audit log verifies" ctl audit verify
check "the node stops cleanly" stop_node

e2e_finish
