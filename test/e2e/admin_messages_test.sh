#!/usr/bin/env bash
# End to end: the admin pages and the JSON admin API on messages against a
# real node, with curl. Messages fail (the downstream refuses connections,
# one attempt allowed); an admin sees every user's messages with their
# owner, reveals a body only through an audited, CSRF-protected POST (the
# audit row is there when the body is), peeks at a failed message without
# changing it, requeues one, several and "all matching" (HTML and API) and
# they are delivered once the downstream accepts; the audit page shows
# those events and a verified chain; the overview counts them. A user
# session gets 403 on every admin route, no session 303 (pages) or 401
# (API); message bodies stay inert text.
# Usage: admin_messages_test.sh HERALDD HERALDCTL
set -uo pipefail

HERALDD=$1
HERALDCTL=$2
downstream_port=$(
  source "$(dirname "$0")/../../ops/lib/services.sh"
  herald_free_port
)
export HERALD_DELIVERY_URL="https://localhost:$downstream_port/internal/v1/deliver"
source "$(dirname "$0")/lib.sh"

downstream_pid=""
start_downstream() {
  python3 "$root/test/e2e/downstream.py" --port "$downstream_port" \
    --cert "$pki/server.crt" --key "$pki/server.key" --ca "$pki/ca.crt" \
    --log "$tmp/downstream.log" &
  downstream_pid=$!
  herald_wait_until 5 bash -c ": >/dev/tcp/127.0.0.1/$downstream_port"
}
trap '[[ -n "$downstream_pid" ]] && kill "$downstream_pid" 2>/dev/null; e2e_cleanup' EXIT

ctl() { "$HERALDCTL" "$@" --config-file "$ini"; }

source "$root/test/e2e/portal_lib.sh"
prepare_portal_node '["ingress", "delivery", "portal"]'
printf '%s\n' 'Amber-Falcon-Ledger-2026' >"$tmp/root.pw"
printf '%s\n' 'Quiet-Harbor-Lantern-2026' >"$tmp/alice.pw"
printf '%s\n' 'Copper-Meadow-Violin-2026' >"$tmp/bob.pw"
chmod 600 "$tmp"/*.pw
must "admin root is added" \
  quietly ctl user add root --role admin --password-file "$tmp/root.pw"
must "user alice is added" quietly ctl user add alice --password-file "$tmp/alice.pw"
must "user bob is added" quietly ctl user add bob --password-file "$tmp/bob.pw"
must "alice owns client app-a" \
  quietly ctl client add app-a --certificate "$pki/client.crt" --user alice
must "bob owns client app-b" \
  quietly ctl client add app-b --certificate "$pki/other-client.crt" --user bob
# No downstream yet: every first attempt fails, and one attempt is all a
# message gets, so it fails for good at once.
must "the node starts" start_node --delivery.max-attempts=1 \
  --delivery.retry-interval=1s

submit() {
  as "$1" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: $(date +%s%N)" \
    -d "{\"sender_number\":\"$2\",\"message_body\":\"$3\"}" \
    "$base/api/v1/messages" | sed -n 's/.*"message_id":"\([^"]*\)".*/\1/p'
}
script_id=$(submit client +4915112345678 '<script>alert(1)</script>')
img_id=$(submit client +4917012345699 '\"><img src=x onerror=alert(1)>')
third_id=$(submit client +4917012345699 'third of alice')
bob_id=$(submit other-client +4915199999999 'bob secret one')
bob2_id=$(submit other-client +4915199999999 'bob secret two')
must "five messages are accepted" \
  test -n "$script_id" -a -n "$img_id" -a -n "$third_id" -a -n "$bob_id" -a -n "$bob2_id"
hex() { echo "${1//-/}"; }
status() { sql "SELECT status FROM messages WHERE id = UNHEX('$(hex "$1")')"; }
failed_count() { sql "SELECT COUNT(*) FROM messages WHERE status = 'failed'"; }
all_failed() { [[ "$(failed_count)" == 5 ]]; }
must "all five fail (the downstream refuses connections)" \
  herald_wait_until 20 all_failed

audit_rows() {
  sql "SELECT COUNT(*) FROM audit_log WHERE action = '$1' AND target = '$2'
       AND actor = 'root' AND outcome = 'ok'"
}
row_of() {
  sql "SELECT status, attempts, updated_at, next_attempt_at, requeued_at,
              last_error FROM messages WHERE id = UNHEX('$(hex "$1")')"
}
lacks() { ! grep -q "$@"; }

html_gets=(/admin /admin/overview.json /admin/messages "/admin/messages/$script_id"
           /admin/failed "/admin/failed/$bob_id" /admin/audit)
api_gets=(/admin/api/v1/messages "/admin/api/v1/messages/$script_id"
          /admin/api/v1/failed /admin/api/v1/audit /admin/api/v1/audit/verify
          /admin/api/v1/overview)

# -- no session, a user's session --------------------------------------------------

for route in "${html_gets[@]}"; do
  check "GET $route without a session goes to the login page" \
    redirects_to_login anon "$portal$route"
done
for route in "/admin/messages/$script_id/reveal" /admin/failed/requeue; do
  check "POST $route without a session goes to the login page" \
    redirects_to_login anon -d csrf=x -d id0="$bob_id" "$portal$route"
done
for route in "${api_gets[@]}"; do
  check "GET $route without a token is 401" \
    test "$(api_code "" "$portal$route")" = 401
done
check "POST .../reveal without a token is 401" \
  test "$(api_code "" -X POST "$portal/admin/api/v1/messages/$script_id/reveal")" = 401
check "POST .../failed/requeue without a token is 401" \
  test "$(api_code "" -H 'Content-Type: application/json' \
           -d "{\"ids\":[\"$bob_id\"]}" "$portal/admin/api/v1/failed/requeue")" = 401

check "alice (a user) logs in" test "$(login alice alice "$(cat "$tmp/alice.pw")")" = 303
alice_csrf=$(web alice "$portal/messages" | csrf_in)
for route in "${html_gets[@]}"; do
  check "GET $route is 403 for a user" test "$(code_of alice "$portal$route")" = 403
done
check "a user cannot reveal a body (403), even with her CSRF token" \
  test "$(code_of alice --data-urlencode "csrf=$alice_csrf" \
           "$portal/admin/messages/$script_id/reveal")" = 403
check "... nor requeue (403)" \
  test "$(code_of alice --data-urlencode "csrf=$alice_csrf" \
           --data-urlencode "id0=$bob_id" "$portal/admin/failed/requeue")" = 403
alice_token=$(api_token alice "$(cat "$tmp/alice.pw")")
must "alice gets an API token" test -n "$alice_token"
for route in "${api_gets[@]}"; do
  check "GET $route is 403 for a user's token" \
    test "$(api_code "$alice_token" "$portal$route")" = 403
done
check "POST .../reveal is 403 for a user's token" \
  test "$(api_code "$alice_token" -X POST "$portal/admin/api/v1/messages/$script_id/reveal")" = 403
check "POST .../failed/requeue is 403 for a user's token" \
  test "$(api_code "$alice_token" -H 'Content-Type: application/json' \
           -d "{\"ids\":[\"$bob_id\"]}" "$portal/admin/api/v1/failed/requeue")" = 403
check "nothing was revealed or requeued by them" \
  test "$(sql "SELECT COUNT(*) FROM audit_log WHERE action IN ('message.reveal', 'message.requeue')") $(failed_count)" = "0 5"

# -- all messages, reveal -------------------------------------------------------------

check "root (an admin) logs in" test "$(login root root "$(cat "$tmp/root.pw")")" = 303
page=$(web root "$portal/admin/messages")
check "all messages: alice's and bob's" \
  bash -c 'grep -q "$1" <<<"$3" && grep -q "$2" <<<"$3"' _ "$script_id" "$bob_id" "$page"
check "... with their owners" \
  test "$(grep -c -e '<td>alice</td>' -e '<td>bob</td>' <<<"$page")" -ge 5
check "... the senders masked, never in full" \
  test "$(grep -c '4915112345678' <<<"$page")" = 0
check "... and never cached" grep -qi '^cache-control: no-store' "$tmp/headers"
page=$(web root "$portal/admin/messages?sender=%2B4915199999999")
check "a search by sender finds bob's two" \
  test "$(grep -c -e "$bob_id" -e "$bob2_id" <<<"$page") $(grep -c "$script_id" <<<"$page")" = "2 0"
client_b=$(sql "SELECT id FROM clients WHERE name = 'app-b'")
page=$(web root "$portal/admin/messages?client=$client_b&status=failed")
check "a search by client and status finds bob's only" \
  test "$(grep -c -e "$bob_id" -e "$bob2_id" <<<"$page") $(grep -c "$img_id" <<<"$page")" = "2 0"
check "a malformed search is a 400" \
  test "$(code_of root "$portal/admin/messages?sender=12")" = 400
detail=$(web root "$portal/admin/messages/$script_id")
check "the detail page hides the body" lacks 'alert(1)' <<<"$detail"
check "... offers a Reveal body form" grep -q 'id="reveal"' <<<"$detail"
check "... and lists the attempt" grep -q '<td>expired</td>\|<td>retry</td>\|<td>failed</td>' <<<"$detail"
check "an unknown message is a 404" \
  test "$(code_of root "$portal/admin/messages/00000000-0000-7000-8000-000000000000")" = 404
csrf=$(csrf_in <<<"$detail")
check "a reveal without the CSRF token is refused (403)" \
  test "$(code_of root -d csrf=00 "$portal/admin/messages/$script_id/reveal")" = 403
check "... and audits nothing" test "$(audit_rows message.reveal "$script_id")" = 0
revealed=$(web root --data-urlencode "csrf=$csrf" "$portal/admin/messages/$script_id/reveal")
# Checked at once: the row is written before the page is sent.
check "reveal shows the body as text" \
  grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' <<<"$revealed"
check "... with the audit row already written (message.reveal, root)" \
  test "$(audit_rows message.reveal "$script_id")" = 1
check "... inert: no script element" test "$(grep -ci '<script' <<<"$revealed")" = 0
revealed=$(web root --data-urlencode "csrf=$csrf" "$portal/admin/messages/$img_id/reveal")
check "an attribute-breaking body stays text" \
  grep -qF '&quot;&gt;&lt;img src=x onerror=alert(1)&gt;' <<<"$revealed"
check "... no img element" test "$(grep -ci '<img' <<<"$revealed")" = 0

# -- failed messages: peek, requeue -------------------------------------------------------

page=$(web root "$portal/admin/failed")
check "failed messages: all five" \
  test "$(grep -c -e "$script_id" -e "$img_id" -e "$third_id" -e "$bob_id" -e "$bob2_id" <<<"$page")" -ge 5
page=$(web root "$portal/admin/failed?client=app-b")
check "... filtered by client: bob's two only" \
  test "$(grep -c 'name="id[0-9]*"' <<<"$page")" = 2
check "an unknown client is a 400" \
  test "$(code_of root "$portal/admin/failed?client=nobody")" = 400
before=$(row_of "$bob_id")
peek=$(web root "$portal/admin/failed/$bob_id")
check "the peek shows status and last error" \
  bash -c 'grep -q "id=\"status\">failed<" <<<"$1" && grep -q "id=\"last-error\"" <<<"$1"' _ "$peek"
check "... never the body" lacks 'bob secret' <<<"$peek"
check "... and changes nothing in the database" test "$(row_of "$bob_id")" = "$before"
check "... nor audits anything" test "$(audit_rows message.requeue "$bob_id")" = 0

must "the downstream starts accepting" start_downstream
is_delivered() { [[ "$(status "$1")" == delivered ]]; }
check "a requeue without the CSRF token is refused (403)" \
  test "$(code_of root -d csrf=00 --data-urlencode "id0=$script_id" "$portal/admin/failed/requeue")" = 403
check "... and the message stays failed" test "$(status "$script_id")" = failed
page=$(web root --data-urlencode "csrf=$csrf" --data-urlencode "id0=$script_id" \
         "$portal/admin/failed/requeue")
check "requeue one: 1 requeued" grep -q 'id="requeued-count">1<' <<<"$page"
check "... audited (message.requeue, root)" test "$(audit_rows message.requeue "$script_id")" = 1
check "... and it is delivered" herald_wait_until 15 is_delivered "$script_id"
page=$(web root --data-urlencode "csrf=$csrf" --data-urlencode "id0=$img_id" \
         --data-urlencode "id1=$bob2_id" --data-urlencode "id2=$script_id" \
         "$portal/admin/failed/requeue")
check "requeue selected: 2 requeued, the delivered one skipped" \
  bash -c 'grep -q "id=\"requeued-count\">2<" <<<"$1" && grep -q "id=\"skipped\">1<" <<<"$1"' _ "$page"
both_delivered() { is_delivered "$1" && is_delivered "$2"; }
check "... both delivered" herald_wait_until 15 both_delivered "$img_id" "$bob2_id"
page=$(web root --data-urlencode "csrf=$csrf" -d all=1 --data-urlencode client=app-b \
         -d since= "$portal/admin/failed/requeue")
check "requeue all matching client app-b: bob's last one" \
  bash -c 'grep -q "id=\"requeued-count\">1<" <<<"$1" && grep -q "$2" <<<"$1"' _ "$page" "$bob_id"
check "... delivered" herald_wait_until 15 is_delivered "$bob_id"

# -- the JSON admin API -------------------------------------------------------------------

token=$(api_token root "$(cat "$tmp/root.pw")")
must "root gets an API token" test -n "$token"
listed=$(api "$token" "$portal/admin/api/v1/messages?status=failed")
check "API: the one failed message left" \
  bash -c 'grep -q "\"message_id\":\"$1\"" <<<"$2" && grep -q "\"owner\":\"alice\"" <<<"$2"' _ "$third_id" "$listed"
check "... as JSON" grep -qi '^content-type: application/json' "$tmp/headers"
check "API: a malformed search is 400 invalid-query" \
  grep -q 'urn:herald:problem:invalid-query' <<<"$(api "$token" "$portal/admin/api/v1/messages?status=lost")"
one=$(api "$token" "$portal/admin/api/v1/messages/$third_id")
check "API: a message without its body" \
  bash -c 'grep -q "\"attempt_log\":\[{" <<<"$1" && ! grep -q "message_body" <<<"$1"' _ "$one"
check "API: an unknown message is 404 message-not-found" \
  test "$(api_code "$token" "$portal/admin/api/v1/messages/00000000-0000-7000-8000-000000000000")" = 404
one=$(api "$token" -X POST "$portal/admin/api/v1/messages/$third_id/reveal")
check "API: reveal returns the body" grep -q '"message_body":"third of alice"' <<<"$one"
check "... audited" test "$(audit_rows message.reveal "$third_id")" = 1
failed_list=$(api "$token" "$portal/admin/api/v1/failed")
check "API: failed lists it" grep -q "\"message_id\":\"$third_id\"" <<<"$failed_list"
check "API: a requeue of no ids is 422 invalid-requeue" \
  test "$(api_code "$token" -H 'Content-Type: application/json' -d '{"ids":[]}' \
           "$portal/admin/api/v1/failed/requeue")" = 422
check "API: a requeue as a form is 415" \
  test "$(api_code "$token" -d "ids=$third_id" "$portal/admin/api/v1/failed/requeue")" = 415
requeued=$(api "$token" -H 'Content-Type: application/json' \
             -d "{\"ids\":[\"$third_id\"]}" "$portal/admin/api/v1/failed/requeue")
check "API: requeue by id" grep -q "\"requeued\":\[\"$third_id\"\]" <<<"$requeued"
check "... delivered" herald_wait_until 15 is_delivered "$third_id"
check "no failed message is left" test "$(failed_count)" = 0
events=$(api "$token" "$portal/admin/api/v1/audit?action=message.&actor=root")
occurrences() { grep -o "$1" <<<"$2" | wc -l; }
check "API: the audit log has the 3 reveals and 5 requeues" \
  test "$(occurrences '"action":"message.reveal"' "$events") $(occurrences '"action":"message.requeue"' "$events")" = "3 5"
verify=$(api "$token" "$portal/admin/api/v1/audit/verify")
check "API: the chain verifies" grep -q '"status":"verified"' <<<"$verify"
overview=$(api "$token" "$portal/admin/api/v1/overview")
sum() { grep -o "\"$1\":\[[0-9,]*\]" <<<"$overview" | grep -o '[0-9]*' | awk '{s+=$1} END {print s+0}'; }
check "API overview: 5 accepted in the last hour" test "$(sum accepted)" = 5
check "... 5 delivered" test "$(sum delivered)" = 5
check "... 60 minutes each" \
  test "$(grep -o '"failed":\[[0-9,]*\]' <<<"$overview" | tr -cd ',' | wc -c)" = 59
check "... an empty queue" grep -q '"queue_depth":0' <<<"$overview"

# -- audit page, overview page ---------------------------------------------------------------

page=$(web root "$portal/admin/audit?action=message.")
check "the audit page shows the reveals and requeues" \
  test "$(occurrences '<td>message.re[a-z]*</td>' "$page")" = 8
check "... and the chain verified" grep -q 'id="chain-status">Chain verified' <<<"$page"
page=$(web root "$portal/admin/audit?actor=nobody")
check "... a filter that matches nothing" grep -q 'id="no-events"' <<<"$page"
check "... a malformed filter is a 400" \
  test "$(code_of root "$portal/admin/audit?outcome=maybe")" = 400
page=$(web root "$portal/admin")
check "the overview page shows the totals without script" \
  grep -q 'id="accepted-total">5<' <<<"$page"
check "... and the cluster's nodes or says there are none" grep -q 'id="nodes"' <<<"$page"
check "... its scripts are files, none inline" \
  test "$(grep -ci '<script' <<<"$page") $(grep -ci '<script src="/static/' <<<"$page")" = "2 2"
check "Chart.js is served by the node (Debian's libjs-chart.js)" \
  test "$(code_of root "$portal/static/chart.min.js")" = 200
check "... as JavaScript" grep -qi '^content-type: text/javascript' "$tmp/headers"
check "the overview script is served" grep -q 'overview.json' <<<"$(web root "$portal/static/overview.js")"
check "the charts' JSON has the series" grep -q '"accepted":\[' <<<"$(web root "$portal/admin/overview.json")"

check "heraldctl audit verify agrees" ctl audit verify
check "the node stops cleanly" stop_node

e2e_finish
