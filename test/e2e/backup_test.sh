#!/usr/bin/env bash
# End to end: heraldctl backup and restore (issue 14). A loaded system
# (messages in every state, received messages, a retry schedule in Redis,
# issued and revoked certificates, a portal user, audit rows) is backed up
# into one encrypted archive, wiped (database, Redis, keys, PKI) and
# restored: every message readable, every certificate and the audit chain
# verifying, the retry schedule back. Damaged archives, a wrong passphrase
# and a non-empty installation are refused without writing anything.
# Usage: backup_test.sh HERALDD HERALDCTL
set -uo pipefail

HERALDD=$1
HERALDCTL=$2
source "$(dirname "$0")/lib.sh"

ctl() { "$HERALDCTL" "$@" --config-file "$ini"; }
backups="$tmp/backups"
archive="$tmp/full.hbk"
passfile="$tmp/backup-passphrase"
(umask 077 && echo "a long backup passphrase, kept apart" >"$passfile")

# submit BODY: submits a message, prints its id.
submit() {
  client_curl -H 'Content-Type: application/json' \
    -d "{\"sender_number\":\"+4915112345678\",\"message_body\":\"$1\"}" \
    "$base/api/v1/messages" | sed -n 's/.*"message_id":"\([^"]*\)".*/\1/p'
}
# status_is ID STATUS: the database has the message in STATUS.
status_is() {
  [[ "$(sql "SELECT status FROM messages WHERE id = UNHEX('${1//-/}')")" == "$2" ]]
}
rcli() { redis-cli -p "$redis_port" "$@"; }
# nothing_restored: no secret, no PKI file, no table, no Redis key written.
nothing_restored() {
  [[ ! -e "$HERALD_SECRETS/data-keys" && ! -e "$HERALD_SECRETS/audit-key" &&
    ! -e "$HERALD_SECRETS/sender-pepper" && ! -e "$pki" ]] || return 1
  [[ "$(sql "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()")" == 0 ]] || return 1
  [[ "$(rcli DBSIZE)" == 0 ]]
}

# -- load a system ----------------------------------------------------------------

must "heraldctl db migrate applies the schema" ctl db migrate
must "a portal user exists" sql "INSERT INTO users (username) VALUES ('alice')"
must "client acme is registered, owned by alice" \
  ctl client add acme --certificate "$pki/client.crt" --user alice
must "the node certificate is registered" register_node
must "heraldctl issues a client certificate into the PKI folder" \
  quietly ctl cert issue --client globex --out "$pki"
must "... and another one" quietly ctl cert issue --client initech --out "$pki"
serial=$(openssl x509 -in "$pki/initech.crt" -noout -serial | cut -d= -f2)
must "... which is revoked (a fresh CRL)" \
  quietly ctl cert revoke "$serial" --reason keyCompromise

# delivered: the node delivers to its own receiver.
must "the node starts" start_node
ids_delivered=()
for i in 1 2 3; do ids_delivered+=("$(submit "delivered $i")"); done
must "three messages are accepted" test "${#ids_delivered[@]}" = 3 -a -n "${ids_delivered[2]}"
for id in "${ids_delivered[@]}"; do
  must "message $id is delivered" herald_wait_until 20 status_is "$id" delivered
done
must "the node stops" stop_node
# failed: a dead downstream and one attempt.
dead="--delivery.url=https://127.0.0.1:1/internal/v1/deliver"
must "the node starts with a dead downstream, one attempt" \
  start_node "$dead" --delivery.max-attempts=1
ids_failed=("$(submit "failed 1")" "$(submit "failed 2")")
for id in "${ids_failed[@]}"; do
  must "message $id fails" herald_wait_until 20 status_is "$id" failed
done
must "the node stops" stop_node
# queued with a retry due in 30 s (the schedule lives in Redis).
must "the node starts with a dead downstream, retrying" start_node "$dead"
ids_retry=("$(submit "retry 1")" "$(submit "retry 2")" "$(submit "retry 3")")
must "three retries are scheduled in Redis" \
  herald_wait_until 20 bash -c "[[ \$(redis-cli -p $redis_port ZCARD herald:retry) == 3 ]]"
must "the node stops" stop_node
# The states a running system passes through on its way.
must "one message is in delivery, one accepting, one rejected" \
  sql "UPDATE messages SET status = 'delivering' WHERE id = UNHEX('${ids_retry[1]//-/}');
       UPDATE messages SET status = 'accepting' WHERE id = UNHEX('${ids_retry[2]//-/}');
       UPDATE messages SET status = 'rejected' WHERE id = UNHEX('${ids_failed[1]//-/}')"
states_before=$(sql "SELECT status, COUNT(*) FROM messages GROUP BY status ORDER BY status")
check "messages in all six states" test "$(wc -l <<<"$states_before")" = 6
rows_before=$(sql "SELECT HEX(id), status, attempts, HEX(body_ciphertext) FROM messages ORDER BY id")
received_before=$(sql "SELECT COUNT(*) FROM received_messages")
retry_before=$(rcli ZRANGE herald:retry 0 -1 WITHSCORES)
audit_before=$(sql "SELECT COUNT(*) FROM audit_log")
keys_before=$(md5sum <"$HERALD_SECRETS/data-keys")
check "three received messages, an audit trail" \
  test "$received_before" = 3 -a "$audit_before" -ge 6

# -- back up ------------------------------------------------------------------------

check "backup --help names --out, --passphrase-file, --key-file and --keep" \
  bash -c "'$HERALDCTL' backup --help | grep -q -- '--out ' &&
           '$HERALDCTL' backup --help | grep -q -- '--passphrase-file' &&
           '$HERALDCTL' backup --help | grep -q -- '--key-file' &&
           '$HERALDCTL' backup --help | grep -q -- '--keep'"
check "restore --help names --force and --check" \
  bash -c "'$HERALDCTL' restore --help | grep -q -- '--force' &&
           '$HERALDCTL' restore --help | grep -q -- '--check'"
out=$(ctl backup --out "$archive" 2>&1)
code=$?
check "a backup without passphrase or key is refused (exit $code)" test "$code" -ne 0
check "... saying how to give one" grep -q -- "--passphrase-file" <<<"$out"
check "... and writes nothing" test ! -e "$archive"
chmod 644 "$passfile"
out=$(ctl backup --out "$archive" --passphrase-file "$passfile" 2>&1)
check "a passphrase file others may read is refused" \
  bash -c "test ! -e '$archive' && grep -q 'chmod 600' <<<'$out'"
chmod 600 "$passfile"
options_before=$(ls -d /tmp/heraldctl-* 2>/dev/null | wc -l)
started=$(date +%s%N)
ctl backup --out "$archive" --passphrase-file "$passfile" >"$tmp/backup.out" 2>"$tmp/backup.err"
code=$?
backup_ms=$((($(date +%s%N) - started) / 1000000))
check "a backup is written to --out (exit $code)" test "$code" = 0 -a -f "$archive"
echo "     archive: $(stat -c %s "$archive") bytes in $backup_ms ms"
sed 's/^/     /' "$tmp/backup.err"
check "it shows progress by stage on stderr" \
  bash -c "grep -q '\[1/5\] secrets' '$tmp/backup.err' && grep -q '\[4/5\] database' '$tmp/backup.err' &&
           grep -q '\[5/5\] archive' '$tmp/backup.err'"
check "only its owner may read it (0600)" test "$(stat -c %a "$archive")" = 600
check "no temporary file is left" \
  test -z "$(ls "$tmp" | grep '\.part-')"
check "it is encrypted: no schema, no key, no pepper in clear" \
  bash -c "! grep -q 'CREATE TABLE' '$archive' &&
           ! grep -qF \"\$(cut -d' ' -f2 '$HERALD_SECRETS/data-keys' | head -1)\" '$archive' &&
           ! grep -qF \"\$(cat '$HERALD_SECRETS/sender-pepper')\" '$archive' &&
           ! grep -q 'BEGIN' '$archive'"
check "the client's option file (with the password) is gone" \
  test "$(ls -d /tmp/heraldctl-* 2>/dev/null | wc -l)" = "$options_before"
check "the backup is in the audit log" \
  test "$(sql "SELECT COUNT(*) FROM audit_log WHERE action = 'backup.create' AND outcome = 'ok'")" = 1
listing=$(ctl restore --check "$archive" --passphrase-file "$passfile" 2>/dev/null)
check "restore --check lists the members with size and SHA-256" \
  bash -c "grep -Eq '^[0-9a-f]{64} [0-9]+ database.sql$' <<<'$listing' &&
           grep -q ' redis-queue$' <<<'$listing' && grep -q ' secrets/data-keys$' <<<'$listing' &&
           grep -q ' secrets/sender-pepper$' <<<'$listing' && grep -q ' secrets/audit-key$' <<<'$listing' &&
           grep -q ' ca/ca.key$' <<<'$listing' && grep -q ' ca/crl.pem$' <<<'$listing' &&
           grep -q ' ca/globex.crt$' <<<'$listing'"
check "... whose data keys are the installation's" \
  test "$(grep ' secrets/data-keys$' <<<"$listing" | cut -d' ' -f1)" = \
  "$(sha256sum "$HERALD_SECRETS/data-keys" | cut -d' ' -f1)"

# A dump that fails half-way leaves no archive behind.
mkdir -p "$tmp/fakebin"
printf '#!/bin/sh\necho "-- partial dump"\nexit 2\n' >"$tmp/fakebin/mariadb-dump"
chmod +x "$tmp/fakebin/mariadb-dump"
out=$(PATH="$tmp/fakebin:$PATH" ctl backup --out "$tmp/partial.hbk" --passphrase-file "$passfile" 2>&1)
code=$?
check "a failing dump fails the backup (exit $code)" test "$code" -ne 0
check "... saying so" grep -q "mariadb-dump exited with 2" <<<"$out"
check "... and leaves neither the archive nor a temporary file" \
  test -z "$(ls "$tmp" | grep partial)"

# Scheduled backups: --out-dir with retention, a key file.
(umask 077 && openssl rand -hex 32 >"$tmp/backup.key")
for n in 1 2 3; do
  must "scheduled backup $n (key file)" \
    quietly ctl backup --out-dir "$backups" --keep 2 --key-file "$tmp/backup.key"
  ((n < 3)) && sleep 1.1
done
check "--keep 2 leaves the two newest herald-<UTC time>.hbk" \
  test "$(ls "$backups" | grep -Ec '^herald-[0-9]{8}T[0-9]{6}Z\.hbk$')" = 2 -a \
  "$(ls "$backups" | wc -l)" = 2
check "a key-file archive checks with the key" \
  quietly ctl restore --check "$(ls "$backups"/*.hbk | head -1)" --key-file "$tmp/backup.key"
out=$(ctl restore --check "$(ls "$backups"/*.hbk | head -1)" --passphrase-file "$passfile" 2>&1)
check "... and not with a passphrase, saying which it needs" grep -q -- "--key-file" <<<"$out"

# -- wipe -----------------------------------------------------------------------------

herald_mariadb_sql "$HERALD_TEST_MARIADB_DIR" "DROP DATABASE \`$db\`; CREATE DATABASE \`$db\`"
rcli FLUSHALL >/dev/null
rm -f "$HERALD_SECRETS"/{data-keys,sender-pepper,audit-key}
rm -rf "$pki"
check "the installation is empty (database, Redis, keys, PKI)" nothing_restored

# -- refused archives change nothing ----------------------------------------------------

echo "the wrong passphrase entirely" >"$tmp/wrong"
chmod 600 "$tmp/wrong"
out=$(ctl restore "$archive" --passphrase-file "$tmp/wrong" 2>&1)
code=$?
check "a wrong passphrase is refused (exit $code)" test "$code" -ne 0
check "... clearly" grep -q "wrong passphrase or key" <<<"$out"
check "... and nothing is written" nothing_restored
# flip BYTE_OFFSET OUT: a copy of the archive with one bit changed.
flip() {
  cp "$archive" "$2"
  local byte
  byte=$(od -An -tu1 -j "$1" -N1 "$archive" | tr -d ' ')
  printf "$(printf '\\%03o' $((byte ^ 1)))" |
    dd of="$2" bs=1 seek="$1" conv=notrunc status=none
}
size=$(stat -c %s "$archive")
flip $((size / 2)) "$tmp/flipped.hbk"
check "the flipped copy differs in one byte" \
  test "$(cmp -l "$archive" "$tmp/flipped.hbk" | wc -l)" = 1
out=$(ctl restore "$tmp/flipped.hbk" --passphrase-file "$passfile" 2>&1)
code=$?
check "an archive with a flipped byte is refused (exit $code)" test "$code" -ne 0
check "... as damaged or altered" grep -q "damaged or altered" <<<"$out"
check "... and nothing is written" nothing_restored
flip $((size - 3)) "$tmp/flipped-end.hbk"
out=$(ctl restore "$tmp/flipped-end.hbk" --passphrase-file "$passfile" 2>&1)
code=$?
check "a flipped byte in the last chunk's tag is refused too (exit $code)" \
  bash -c "test $code -ne 0 && grep -q 'damaged or altered' <<<'$out'"
check "... and nothing is written" nothing_restored
head -c $((size - 100)) "$archive" >"$tmp/cut.hbk"
out=$(ctl restore "$tmp/cut.hbk" --passphrase-file "$passfile" 2>&1)
code=$?
check "a truncated archive is refused (exit $code)" test "$code" -ne 0
check "... as truncated" grep -q "truncated" <<<"$out"
check "... and nothing is written" nothing_restored
out=$(ctl restore "$tmp/nowhere.hbk" --passphrase-file "$passfile" 2>&1)
code=$?
check "a missing archive is an error that names it (exit $code)" \
  bash -c "test $code -ne 0 && grep -q nowhere.hbk <<<'$out'"

# -- restore ------------------------------------------------------------------------------

started=$(date +%s%N)
ctl restore "$archive" --passphrase-file "$passfile" >"$tmp/restore.out" 2>"$tmp/restore.err"
code=$?
restore_ms=$((($(date +%s%N) - started) / 1000000))
echo "     restore: $restore_ms ms"
sed 's/^/     /' "$tmp/restore.err" "$tmp/restore.out"
check "the archive is restored into the empty installation (exit $code)" test "$code" = 0
check "it shows progress by stage on stderr" \
  bash -c "grep -q '\[1/5\] checking' '$tmp/restore.err' && grep -q '\[5/5\] checks' '$tmp/restore.err'"
check "it reports every message body readable with the restored keys" \
  grep -q "messages: all 11 bodies open with the restored data keys" "$tmp/restore.err"
check "the data keys are back, mode 0600" \
  test "$(md5sum <"$HERALD_SECRETS/data-keys")" = "$keys_before" -a \
  "$(stat -c %a "$HERALD_SECRETS/data-keys")" = 600
check "pepper and audit key are back, mode 0600" \
  test "$(stat -c %a "$HERALD_SECRETS/sender-pepper") $(stat -c %a "$HERALD_SECRETS/audit-key")" = "600 600"
check "the CA key is back, mode 0600" test "$(stat -c %a "$pki/ca.key")" = 600
check "every message is back, in its state, with its ciphertext" \
  test "$(sql "SELECT HEX(id), status, attempts, HEX(body_ciphertext) FROM messages ORDER BY id")" = "$rows_before"
check "the received messages are back" \
  test "$(sql "SELECT COUNT(*) FROM received_messages")" = "$received_before"
check "the portal user and its client are back" \
  test "$(sql "SELECT u.username FROM clients c JOIN users u ON u.id = c.user_id WHERE c.name = 'acme'")" = alice
check "the retry schedule is back in Redis, due times included" \
  test "$(rcli ZRANGE herald:retry 0 -1 WITHSCORES)" = "$retry_before"
check "the audit log verifies" quietly ctl audit verify
check "... with the backup's rows and the restore last" \
  test "$(sql "SELECT COUNT(*) FROM audit_log")" -gt "$audit_before" -a \
  "$(sql "SELECT action FROM audit_log ORDER BY id DESC LIMIT 1")" = backup.restore
check "the issued certificate verifies under the restored CA" \
  bash -c "'$HERALDCTL' cert verify '$pki/globex.crt' --config-file '$ini' | grep -q ': valid: '"
check "... as does the server certificate" \
  bash -c "'$HERALDCTL' cert verify '$pki/server.crt' --config-file '$ini' | grep -q ': valid: '"
check "the revoked one is still revoked by the restored CRL" \
  bash -c "'$HERALDCTL' cert verify '$pki/initech.crt' --config-file '$ini' | grep -q 'INVALID: revoked'"

# -- a second restore needs --force -----------------------------------------------------

sums_before=$(md5sum "$HERALD_SECRETS"/* "$pki"/*)
messages=$(sql "SELECT COUNT(*) FROM messages")
out=$(ctl restore "$archive" --passphrase-file "$passfile" 2>&1)
code=$?
check "a restore into a non-empty installation is refused (exit $code)" test "$code" -ne 0
check "... naming what is there and --force" \
  bash -c "grep -q 'not empty' <<<'$out' && grep -q 'data-keys' <<<'$out' &&
           grep -q 'holds' <<<'$out' && grep -q -- '--force' <<<'$out'"
check "... and changes nothing" \
  test "$(md5sum "$HERALD_SECRETS"/* "$pki"/*)" = "$sums_before" -a \
  "$(sql "SELECT COUNT(*) FROM messages")" = "$messages"
must "a message changes after the restore" \
  sql "UPDATE messages SET status = 'delivered' WHERE id = UNHEX('${ids_retry[0]//-/}')"
check "restore --force overwrites the installation" \
  quietly ctl restore "$archive" --passphrase-file "$passfile" --force
check "... back to the backup's state" \
  test "$(sql "SELECT HEX(id), status, attempts, HEX(body_ciphertext) FROM messages ORDER BY id")" = "$rows_before"

must "the node starts on the restored installation" start_node
for id in "${ids_delivered[@]}" "${ids_failed[0]}"; do
  check "message $id reads back through the API" \
    bash -c "curl -s --cacert '$pki/ca.crt' --cert '$pki/client.crt' --key '$pki/client.key' \
      '$base/api/v1/messages/$id' | grep -q '\"message_id\":\"$id\"'"
done
check "SIGTERM stops the node with exit code 0" stop_node

e2e_finish
