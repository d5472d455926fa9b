#!/usr/bin/env bash
# The portal in a real browser: headless Chromium (Debian's) driven by
# playwright-core runs test/browser/portal.spec.mjs against a real node
# with the portal role. Alice logs in through the form, sees her own
# messages and not bob's, searches by sender, opens a message whose body
# is HTML and script and finds it inert, logs out; a wrong password shows
# the error; a phone-sized screen does not scroll sideways. The admin
# root sees the overview's chart drawn, requeues a failed message (it is
# delivered), reveals a body and finds the reveal in the audit log,
# issues a client certificate, downloads its key once (a second download
# is gone), submits a message over mutual TLS with it, revokes it (the
# ingress refuses it then), and sees the users. Every page has a CSP that
# forbids scripts and no console errors or CSP violations.
# Screenshots of every page go to $HERALD_ARTEFACTS (default
# build/test-artefacts/browser); with HERALD_UPDATE_SCREENSHOTS=1 the ones
# the user and admin manuals show are copied to docs/screenshots as well.
# Needs ops/setup (chromium, test/browser/node_modules). Nothing is
# downloaded here.
# Usage: portal_browser_test.sh HERALDD HERALDCTL
set -uo pipefail

HERALDD=$1
HERALDCTL=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../e2e/lib.sh"

chromium=/usr/bin/chromium
artefacts=${HERALD_ARTEFACTS:-$root/build/test-artefacts/browser}
spec_pid=""

# process_tree PID: PID and every process below it, parents first.
process_tree() {
  local pid=$1 child
  echo "$pid"
  for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
    process_tree "$child"
  done
}

# pid_gone PID: the process has ended (a zombie counts as ended).
pid_gone() {
  [[ ! -r /proc/$1/stat || "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" == Z ]]
}

# The spec (node) and its Chromium end with the test, whatever ends it:
# node closes its browser on SIGTERM; what is still there after 5 s is
# killed by id. Then lib.sh's cleanup (node, Redis, database, temp folder:
# Chromium's profile is in it).
browser_cleanup() {
  local pids
  if [[ -n "$spec_pid" ]]; then
    echo "--- browser interrupted; its output so far:"
    cat "$tmp/spec.out" 2>/dev/null
    pids=$(process_tree "$spec_pid")
    kill -TERM "$spec_pid" 2>/dev/null
    herald_wait_until 5 pid_gone "$spec_pid"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    spec_pid=""
  fi
  e2e_cleanup
}
trap browser_cleanup EXIT
trap 'exit 143' TERM INT HUP

ctl() { "$HERALDCTL" "$@" --config-file "$ini"; }

must "Chromium is installed (ops/setup: apt chromium)" test -x "$chromium"
must "Node.js 20 or newer is installed (ops/setup)" \
  node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'
must "playwright-core 1.64.1 is in test/browser/node_modules (ops/setup)" \
  grep -q '"version": "1.64.1"' "$here/node_modules/playwright-core/package.json"

source "$root/test/e2e/portal_lib.sh"
prepare_portal_node '["ingress", "delivery", "receiver", "portal"]'
printf '%s\n' 'Quiet-Harbor-Lantern-2026' >"$tmp/alice.pw"
printf '%s\n' 'Copper-Meadow-Violin-2026' >"$tmp/bob.pw"
printf '%s\n' 'Amber-Falcon-Ledger-2026' >"$tmp/root.pw"
chmod 600 "$tmp"/*.pw
must "user alice is added" quietly ctl user add alice --password-file "$tmp/alice.pw"
must "user bob is added" quietly ctl user add bob --password-file "$tmp/bob.pw"
must "admin root is added" \
  quietly ctl user add root --role admin --password-file "$tmp/root.pw"
must "alice owns client app-a" \
  quietly ctl client add app-a --certificate "$pki/client.crt" --user alice
must "bob owns client app-b" \
  quietly ctl client add app-b --certificate "$pki/other-client.crt" --user bob

# submit CERT SENDER BODY_JSON: the new message's id (BODY_JSON is the
# body as a JSON string literal, quotes included).
submit() {
  as "$1" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: $(date +%s%N)" \
    -d "{\"sender_number\":\"$2\",\"message_body\":$3}" \
    "$base/api/v1/messages" | sed -n 's/.*"message_id":"\([^"]*\)".*/\1/p'
}
status_of_message() { sql "SELECT status FROM messages WHERE id = UNHEX('${1//-/}')"; }
is_status() { [[ "$(status_of_message "$1")" == "$2" ]]; }

# A failed message for the admin to requeue: a first run of the node
# delivers to a port where nothing listens and allows one attempt, so the
# message fails for good at once. The second run delivers to the node's
# own receiver, as the test's other messages are.
dead_port=$(herald_free_port)
must "the node starts (delivering nowhere, one attempt)" start_node \
  "--delivery.url=https://localhost:$dead_port/internal/v1/deliver" \
  --delivery.max-attempts=1
failed_id=$(submit client +4915155500077 '"Parcel 7 waits at the depot."')
must "a message is accepted" test -n "$failed_id"
must "... and fails (nobody takes it)" herald_wait_until 10 is_status "$failed_id" failed
must "the node stops" stop_node
must "the node starts again (delivering to its own receiver)" start_node

script_id=$(submit client +4915112345678 '"<script>alert(1)</script>"')
img_id=$(submit client +4917012345699 '"\"><img src=x onerror=alert(2)>"')
code_id=$(submit client +4930123456789 '"Your Herald sign-in code is 482913."')
bob_id=$(submit other-client +4915199999999 '"bob only"')
must "four messages are accepted (three of alice's clients, one of bob's)" \
  test -n "$script_id" -a -n "$img_id" -a -n "$code_id" -a -n "$bob_id"
all_delivered() {
  local id
  for id in "$@"; do is_status "$id" delivered || return 1; done
}
# The pages then show the same statuses and counts on every run.
must "... and delivered" \
  herald_wait_until 10 all_delivered "$script_id" "$img_id" "$code_id" "$bob_id"

# The browser trusts exactly the portal's certificate (its public key's
# SHA-256), not every certificate.
spki=$(openssl x509 -in "$pki/server.crt" -pubkey -noout |
  openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
must "the portal certificate's key hash is computed" test -n "$spki"
must "the artefact folder exists" mkdir -p "$artefacts"

# Everything the spec needs, in one file of the test's own (mode 0600).
(umask 077 && cat >"$tmp/fixture.json" <<JSON
{
  "portal": "https://localhost:$HERALD_PORTAL_PORT",
  "ingress": "$base",
  "ca": "$pki/ca.crt",
  "scratch": "$tmp",
  "chromium": "$chromium",
  "spki": "$spki",
  "artefacts": "$artefacts",
  "users": {
    "alice": {"password": "$(cat "$tmp/alice.pw")"},
    "bob": {"password": "$(cat "$tmp/bob.pw")"},
    "root": {"password": "$(cat "$tmp/root.pw")"}
  },
  "messages": {
    "script": {"id": "$script_id", "sender": "+4915112345678",
               "body": "<script>alert(1)</script>"},
    "img": {"id": "$img_id", "sender": "+4917012345699",
            "body": "\"><img src=x onerror=alert(2)>"},
    "code": {"id": "$code_id", "sender": "+4930123456789",
             "body": "Your Herald sign-in code is 482913."},
    "bob": {"id": "$bob_id", "sender": "+4915199999999"},
    "failed": {"id": "$failed_id", "sender": "+4915155500077"}
  }
}
JSON
)

# The spec runs in the background so that a signal reaches the traps at
# once; Chromium's temporary profile goes to the test's folder (TMPDIR).
# It ends itself after 90 s; `timeout` makes sure of it.
echo "--- browser (test/browser/portal.spec.mjs)"
TMPDIR=$tmp timeout -k 5 120 node "$here/portal.spec.mjs" "$tmp/fixture.json" \
  >"$tmp/spec.out" 2>&1 &
spec_pid=$!
spec_code=0
wait "$spec_pid" || spec_code=$?
spec_pid=""
cat "$tmp/spec.out"
echo "--- end of browser"

# The spec's checks count here too: its last line is "N passed, N failed".
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/spec.out" | tail -1)
if [[ -n "$summary" ]]; then
  passed=$((passed + $(cut -d' ' -f1 <<<"$summary")))
  failed=$((failed + $(cut -d' ' -f3 <<<"$summary")))
fi
check "the browser spec ran to its end (exit code $spec_code)" \
  test -n "$summary" -a "$spec_code" = 0

# Only the screenshots of a run without failures go into the manual.
if [[ "${HERALD_UPDATE_SCREENSHOTS:-0}" == 1 ]] && ((failed == 0)); then
  mkdir -p "$root/docs/screenshots"
  for shot in login messages message messages-phone admin-overview \
    admin-message-revealed admin-failed admin-audit admin-users \
    admin-clients admin-issued; do
    check "docs/screenshots/$shot.png is updated" \
      cp "$artefacts/$shot.png" "$root/docs/screenshots/$shot.png"
  done
fi

check "the node stops cleanly" stop_node
e2e_finish
