#!/usr/bin/env bash
# End to end: heraldctl user against the MariaDB that ops/test started:
# users and admins are created (password from a file, the environment, a
# terminal or generated), listed, disabled, enabled, given new passwords
# and roles; stored hashes are yescrypt and verify with the system's
# crypt(3); typed passwords are asked twice and never echoed; weak
# passwords, bad names, duplicates, unknown users and disabling the last
# admin are refused and change nothing; every change is audited; client
# add --user attaches a client to a user.
# Usage: users_test.sh HERALDD HERALDCTL
set -uo pipefail

HERALDD=$1
HERALDCTL=$2
source "$(dirname "$0")/lib.sh"

ctl() { "$HERALDCTL" "$@" --config-file "$ini"; }

# refused WHY COMMAND...: COMMAND exits non-zero and says WHY on stderr.
refused() {
  local why=$1 code=0
  shift
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || code=$?
  if ((code == 0)); then
    echo "     exit code 0: $(cat "$tmp/out")"
    return 1
  fi
  if ! grep -qF -- "$why" "$tmp/err"; then
    echo "     expected '$why' on stderr, got: $(cat "$tmp/err")"
    return 1
  fi
  echo "     refused (exit $code): $(head -1 "$tmp/err")"
}

# users_now: every user row as it stands, hashes included.
users_now() {
  sql "SELECT username, role, status, password_hash, session_generation,
       COALESCE(password_changed_at, '-') FROM users ORDER BY id"
}
unchanged() {
  [[ "$(users_now)" == "$before" ]] || { echo "     users changed"; return 1; }
}
field() { sql "SELECT $1 FROM users WHERE username = '$2'"; }
audited() {
  sql "SELECT COUNT(*) FROM audit_log
       WHERE action = '$1' AND target = '$2' AND outcome = '$3'"
}
# matches PASSWORD HASH: the system's crypt(3) (libxcrypt, through Python's
# crypt module) finds PASSWORD in HASH: no Herald code on this side.
matches() {
  printf '%s\n%s\n' "$1" "$2" | python3 -W ignore -c '
import crypt, sys
password, hash = sys.stdin.read().split("\n")[:2]
sys.exit(0 if hash and crypt.crypt(password, hash) == hash else 1)'
}
mismatches() { ! matches "$@"; }
# secret_file NAME PASSWORD: a password file, mode 0600.
secret_file() {
  printf '%s\n' "$2" >"$tmp/$1"
  chmod 600 "$tmp/$1"
  echo "$tmp/$1"
}

must "heraldctl db migrate applies the schema" ctl db migrate
check "migration 6 adds password_changed_at and session_generation" \
  test "$(sql "SELECT COUNT(*) FROM information_schema.columns
               WHERE table_schema = DATABASE() AND table_name = 'users'
               AND column_name IN ('password_changed_at', 'session_generation')")" = 2
check "migrating again changes nothing" ctl db migrate

# -- creating users ----------------------------------------------------------

out=$(ctl user add root-admin --role admin --generate)
code=$?
check "user add --generate succeeds (exit $code)" test "$code" = 0
check "... creating an active admin" \
  test "$(field role root-admin) $(field status root-admin)" = "admin active"
generated=$(sed -n 's/^password: //p' <<<"$out")
check "... prints a 24-character password" test "${#generated}" = 24
check "... once, saying it is not kept" grep -q "shown only now" <<<"$out"
hash=$(field password_hash root-admin)
check "... stores a yescrypt hash at cost 7" \
  test "${hash:0:7}" = '$y$jBT$'
check "... that the system's crypt(3) verifies" matches "$generated" "$hash"
check "... and nothing else verifies" mismatches "${generated}x" "$hash"
check "... and audits user.add" test "$(audited user.add root-admin ok)" = 1

alice_pw="orbit lantern zebra cactus"
alice_file=$(secret_file alice.pw "$alice_pw")
check "user add --password-file creates a user" \
  ctl user add alice --password-file "$alice_file"
check "... with role user by default" test "$(field role alice)" = user
check "... and the file's password (its newline dropped)" \
  matches "$alice_pw" "$(field password_hash alice)"
check "... and records when it was set" \
  test "$(field "password_changed_at IS NOT NULL" alice)" = 1

bob_pw="velvet-comet-harbor-9"
check "user add takes HERALD_USER_PASSWORD" \
  env HERALD_USER_PASSWORD="$bob_pw" "$HERALDCTL" user add bob --role admin \
  --config-file "$ini"
check "... and stores it" matches "$bob_pw" "$(field password_hash bob)"
check "the audit log names no password" \
  test "$(sql "SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%${generated}%'
               OR detail LIKE '%${alice_pw}%' OR detail LIKE '%${bob_pw}%'")" = 0

# -- refusals that change nothing --------------------------------------------

before=$(users_now)
audit_rows=$(sql "SELECT COUNT(*) FROM audit_log")
check "a common password is refused" refused "common password followed by digits" \
  ctl user add carol --password-file "$(secret_file weak.pw 'Password1234!')"
check "a short one is refused" refused "has 9 characters; at least 12" \
  env HERALD_USER_PASSWORD=short-one "$HERALDCTL" user add carol --config-file "$ini"
check "one with the user name is refused" refused "contains the user name" \
  env HERALD_USER_PASSWORD=carol-loves-cactus "$HERALDCTL" user add carol --config-file "$ini"
check "one over 511 bytes is refused" refused "at most 511" \
  ctl user add carol --password-file "$(secret_file long.pw "$(printf 'x%.0s' {1..600})")"
check "a bad user name is refused" refused "only lower-case letters" \
  ctl user add Carol --password-file "$alice_file"
check "an overlong one too" refused "1 to 64 characters" \
  ctl user add "$(printf 'c%.0s' {1..65})" --password-file "$alice_file"
check "a role other than admin and user is refused" refused "--role" \
  ctl user add carol --role root --password-file "$alice_file"
chmod 644 "$alice_file"
check "a password file others can read is refused" refused "chmod 600" \
  ctl user add carol --password-file "$alice_file"
chmod 600 "$alice_file"
check "an empty password file is refused" refused "is empty" \
  ctl user add carol --password-file "$(secret_file empty.pw '')"
check "no password and no terminal is refused, naming the ways" \
  refused "pass --password-file FILE" ctl user add carol
check "--generate with --password-file is refused" refused "excludes" \
  ctl user add carol --generate --password-file "$alice_file"
check "none of them changed a user" unchanged
check "... nor wrote an audit row (nothing was attempted)" \
  test "$(sql "SELECT COUNT(*) FROM audit_log")" = "$audit_rows"

check "a second alice is refused" refused "user 'alice' exists already" \
  ctl user add alice --generate
check "... and the refusal is audited" test "$(audited user.add alice failed)" = 1
for verb in disable enable; do
  check "user $verb of an unknown user is refused" refused "no user 'nobody'" \
    ctl user "$verb" nobody
done
check "user passwd of an unknown user is refused" refused "no user 'nobody'" \
  ctl user passwd nobody --generate
check "user role of an unknown user is refused" refused "no user 'nobody'" \
  ctl user role nobody admin
check "... each refusal audited" \
  test "$(sql "SELECT COUNT(*) FROM audit_log WHERE target = 'nobody'
               AND outcome = 'failed'")" = 4
check "still no user changed" unchanged

# -- the last admin ------------------------------------------------------------

check "an admin (of two) is disabled" ctl user disable bob
check "... audited" test "$(audited user.disable bob ok)" = 1
before=$(users_now)
check "the last active admin cannot be disabled" \
  refused "'root-admin' is the last active admin" ctl user disable root-admin
check "... nor made a user" \
  refused "'root-admin' is the last active admin" ctl user role root-admin user
check "... which changed nothing" unchanged
check "... and both refusals are audited" \
  test "$(sql "SELECT COUNT(*) FROM audit_log WHERE target = 'root-admin'
               AND action IN ('user.disable', 'user.role') AND outcome = 'failed'")" = 2
check "the other admin is enabled again" ctl user enable bob
check "... audited" test "$(audited user.enable bob ok)" = 1
generation=$(field session_generation root-admin)
check "now the first admin can become a user" ctl user role root-admin user
check "... audited" test "$(audited user.role root-admin ok)" = 1
check "... which ends its sessions" \
  test "$(field session_generation root-admin)" = $((generation + 1))
check "and the remaining admin cannot be disabled" \
  refused "'bob' is the last active admin" ctl user disable bob
check "a user is disabled" ctl user disable alice
check "... and enabled" ctl user enable alice

# -- passwords ----------------------------------------------------------------------

generation=$(field session_generation alice)
changed=$(field password_changed_at alice)
new_pw="granite meadow 47 sparrow"
check "user passwd sets a new password" \
  ctl user passwd alice --password-file "$(secret_file alice2.pw "$new_pw")"
check "... which verifies" matches "$new_pw" "$(field password_hash alice)"
check "... while the old one no longer does" \
  mismatches "$alice_pw" "$(field password_hash alice)"
check "... ends the user's sessions" \
  test "$(field session_generation alice)" = $((generation + 1))
check "... records the change" test "$(field password_changed_at alice)" != "$changed"
check "... audited" test "$(audited user.passwd alice ok)" = 1
before=$(users_now)
check "a weak new password is refused" refused "one of the most common passwords" \
  env HERALD_USER_PASSWORD=qwerty123456 "$HERALDCTL" user passwd alice --config-file "$ini"
check "... and the hash stays" unchanged
out=$(ctl user passwd alice --generate)
generated=$(sed -n 's/^password: //p' <<<"$out")
check "user passwd --generate prints a new password that verifies" \
  matches "$generated" "$(field password_hash alice)"

# -- listing -------------------------------------------------------------------------

json=$(ctl user list --json)
check "user list --json lists every user with role and status" \
  python3 -c '
import json, sys
users = {u["name"]: u for u in json.loads(sys.argv[1])}
assert sorted(users) == ["alice", "bob", "root-admin"], users
assert (users["bob"]["role"], users["bob"]["status"]) == ("admin", "active")
assert users["root-admin"]["role"] == "user"
assert users["alice"]["clients"] == 0
assert users["alice"]["password_changed_at"].endswith("Z")
assert all(set(u) == {"id", "name", "role", "status", "clients",
                      "password_changed_at", "created_at"} for u in users.values())
' "$json"
check "... and never a hash" test "$(grep -c 'jBT' <<<"$json")" = 0
check "user list prints a table" \
  bash -c "'$HERALDCTL' user list --config-file '$ini' | grep -Eq '^[0-9]+ +bob +admin +active '"

# -- clients of a user ---------------------------------------------------------------

check "client add --user attaches a client to a created user" \
  ctl client add acme --certificate "$pki/client.crt" --user alice
check "... client list names the owner" \
  bash -c "'$HERALDCTL' client list --json --config-file '$ini' | grep -q '\"name\":\"acme\",\"status\":\"active\",\"owner\":\"alice\"'"
check "... and user list counts it" \
  bash -c "'$HERALDCTL' user list --json --config-file '$ini' | grep -q '\"name\":\"alice\",\"role\":\"user\",\"status\":\"active\",\"clients\":1'"
check "client add --user with an unknown user is refused" \
  refused "no portal user 'nobody'" \
  ctl client add globex --certificate "$pki/other-client.crt" --user nobody
check "... and adds no client" \
  test "$(sql "SELECT COUNT(*) FROM clients WHERE name = 'globex'")" = 0

# -- on a terminal --------------------------------------------------------------------

# typed FIRST SECOND NAME: user add NAME on a pseudo-terminal, typing FIRST
# and SECOND when asked; prints what the terminal showed.
typed() {
  TTY_ANSWERS="$1"$'\n'"$2" timeout 30 "$root/test/e2e/tty_answer.py" \
    "password for $3: ,the same again: " \
    "$HERALDCTL" user add "$3" --config-file "$ini"
}
dave_pw="tundra-beacon-marble-41"
out=$(typed "$dave_pw" "$dave_pw" dave)
code=$?
check "a password typed twice on a terminal is taken (exit $code)" \
  matches "$dave_pw" "$(field password_hash dave)"
check "... after both prompts" grep -q "the same again" <<<"$out"
check "... and never shown" test "$(grep -cF "$dave_pw" <<<"$out")" = 0
out=$(typed "$dave_pw" "${dave_pw}2" erin)
code=$?
check "two different passwords are refused (exit $code)" \
  grep -q "the two passwords differ" <<<"$out"
check "... and add no user" \
  test "$(sql "SELECT COUNT(*) FROM users WHERE username = 'erin'")" = 0
out=$(typed qwerty123456 qwerty123456 erin)
code=$?
check "a weak typed password is refused (exit $code)" \
  grep -q "one of the most common passwords" <<<"$out"
check "... before the second prompt" test "$(grep -c "the same again" <<<"$out")" = 0

check "the audit log verifies" ctl audit verify

e2e_finish
