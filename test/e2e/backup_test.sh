#!/usr/bin/env bash
# End to end: heraldctl backup and restore against the MariaDB that ops/test
# started: a backup taken while a node runs brings back clients, messages
# and an intact audit log; a restore never overwrites messages unasked.
# Usage: backup_test.sh HERALDD HERALDCTL
set -uo pipefail

HERALDD=$1
HERALDCTL=$2
source "$(dirname "$0")/lib.sh"

ctl() { "$HERALDCTL" "$@" --config-file "$ini"; }
backups="$tmp/backups"

must "heraldctl db migrate applies the schema" ctl db migrate
must "client acme is registered" \
  ctl client add acme --certificate "$pki/client.crt"
must "the node certificate is registered" register_node
must "the node starts" start_node
id=$(client_curl -H 'Content-Type: application/json' \
  -d '{"sender_number":"+4915112345678","message_body":"kept"}' \
  "$base/api/v1/messages" | sed -n 's/.*"message_id":"\([^"]*\)".*/\1/p')
must "a message is accepted" test -n "$id"

check "backup --help names --keep and --out-dir" \
  bash -c "'$HERALDCTL' backup --help | grep -q -- '--keep' && '$HERALDCTL' backup --help | grep -q -- '--out-dir'"
options_before=$(ls -d /tmp/heraldctl-* 2>/dev/null | wc -l)
check "a backup is taken while the node runs" ctl backup --out-dir "$backups" --keep 2
file=$(ls "$backups"/herald-*.sql 2>/dev/null | head -1)
check "it is a file named by its UTC time" test -f "$file"
check "only its owner may read it (0600)" test "$(stat -c %a "$file")" = 600
check "it holds the schema and the message" \
  bash -c "grep -q 'CREATE TABLE \`messages\`' '$file' && grep -q 'CREATE TABLE \`audit_log\`' '$file'"
check "the database password is nowhere in it" \
  bash -c "! grep -qF \"\$(cat '$HERALD_MYSQL_PASSWORD_FILE')\" '$file'"
check "the client's option file (with the password) is gone" \
  test "$(ls -d /tmp/heraldctl-* 2>/dev/null | wc -l)" = "$options_before"
check "the backup is in the audit log" \
  test "$(sql "SELECT COUNT(*) FROM audit_log WHERE action = 'backup.create' AND outcome = 'ok'")" = 1
must "the node stops" stop_node
sleep 1.1
must "a second backup is taken" ctl backup --out-dir "$backups" --keep 2
sleep 1.1
must "a third backup is taken" ctl backup --out-dir "$backups" --keep 2
check "--keep 2 leaves the two newest" \
  test "$(ls "$backups"/herald-*.sql | wc -l)" = 2
check "... the oldest is gone" test ! -e "$file"
file=$(ls "$backups"/herald-*.sql | head -1)

# -- restore ------------------------------------------------------------------------------

must "a client added after the backup" \
  ctl client add later --certificate "$pki/other-client.crt"
out=$(ctl restore "$file" 2>&1)
code=$?
check "a restore over messages is refused without --replace (exit $code)" test "$code" -ne 0
check "... saying what to do" grep -q -- "--replace" <<<"$out"
check "... and changes nothing" \
  test "$(sql "SELECT COUNT(*) FROM clients WHERE name = 'later'")" = 1
out=$(ctl restore "$tmp/nowhere.sql" 2>&1)
code=$?
check "a missing backup is an error (exit $code)" test "$code" -ne 0
check "... that names it" grep -q "nowhere.sql" <<<"$out"
check "restore --replace loads the backup" ctl restore "$file" --replace
check "the client of the backup is back" \
  test "$(sql "SELECT COUNT(*) FROM clients WHERE name = 'acme'")" = 1
check "the later one is not" \
  test "$(sql "SELECT COUNT(*) FROM clients WHERE name = 'later'")" = 0
check "the message is back" \
  test "$(sql "SELECT COUNT(*) FROM messages WHERE id = UNHEX('${id//-/}')")" = 1
check "the audit log verifies" ctl audit verify
check "... and records the restore last" \
  test "$(sql "SELECT action FROM audit_log ORDER BY id DESC LIMIT 1")" = backup.restore
must "the node starts on the restored database" start_node
check "the restored message can be read" \
  bash -c "curl -s --cacert '$pki/ca.crt' --cert '$pki/client.crt' --key '$pki/client.key' '$base/api/v1/messages/$id' | grep -q '\"message_id\":\"$id\"'"
check "SIGTERM stops the node with exit code 0" stop_node

e2e_finish
