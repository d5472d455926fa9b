#!/usr/bin/env bash
# ops/install into a staging root (never the real /etc): files, modes, the
# system user, idempotence; systemd-analyze verify on every unit; and a
# real node under a fake service manager (test/ops/fake_notify.py): READY=1
# once it is healthy, WATCHDOG=1 every WATCHDOG_USEC/2, STOPPING=1 on
# SIGTERM. Needs root (ops/install does) and the MariaDB of ops/test.
# Usage: install_test.sh HERALDD HERALDCTL
set -uo pipefail

HERALDD=$1
HERALDCTL=$2
source "$(dirname "$0")/../e2e/lib.sh"

stage="$tmp/stage"
build_dir=$(dirname "$HERALDD")
[[ "$(dirname "$HERALDCTL")" == "$build_dir" ]] ||
  must "heraldd and heraldctl come from one build folder" false

# -- ops/install ------------------------------------------------------------------

# snapshot DIR: every path with its mode, owner, size, time and checksum.
snapshot() {
  (cd "$1" && find . -printf '%p %m %U %G %s %T@\n' | sort &&
    find . -type f -print0 | sort -z | xargs -0 md5sum)
}
# mode_is PATH MODE USER GROUP: PATH below the staging root has that octal
# mode and owner (names as the staging root's passwd and group know them).
mode_is() {
  local path=$stage$1 want uid gid got
  uid=$(awk -F: -v n="$3" '$1 == n { print $3 }' "$stage/etc/passwd")
  gid=$(awk -F: -v n="$4" '$1 == n { print $3 }' "$stage/etc/group")
  [[ "$3" == root ]] && uid=0
  [[ "$4" == root ]] && gid=0
  want="$2 $uid $gid"
  got=$(stat -c '%a %u %g' "$path" 2>/dev/null) || got="missing"
  [[ "$got" == "$want" ]] || { echo "     $1: $got, expected $want ($2 $3:$4)"; return 1; }
}

host_users_before=$(grep -c '^herald:' /etc/passwd)
help=$("$root/ops/install" --help)
check "ops/install --help explains itself and changes nothing" \
  test -n "$(grep -F -- '--root DIR' <<<"$help")" -a ! -e "$stage"
must "ops/install installs into a staging root" \
  quietly "$root/ops/install" --root "$stage" --build-dir "$build_dir"
check "the host's /etc/passwd is untouched" \
  test "$(grep -c '^herald:' /etc/passwd)" == "$host_users_before"
check "the system user herald exists in the staging root (system uid, no login)" \
  awk -F: '$1 == "herald" && $3 < 1000 && $7 == "/usr/sbin/nologin" { ok = 1 } END { exit !ok }' \
  "$stage/etc/passwd"
check "... with its own group" grep -q '^herald:' "$stage/etc/group"
check "heraldd and heraldctl are installed, 0755 root" \
  bash -c "cmp -s '$HERALDD' '$stage/usr/local/bin/heraldd' &&
           cmp -s '$HERALDCTL' '$stage/usr/local/bin/heraldctl'"
check "heraldd is 0755 root:root" mode_is /usr/local/bin/heraldd 755 root root
check "heraldctl is 0755 root:root" mode_is /usr/local/bin/heraldctl 755 root root
check "herald.ini comes from the example" \
  cmp -s "$root/config/herald.example.ini" "$stage/etc/herald/herald.ini"
check "herald.ini is 0640 root:herald" mode_is /etc/herald/herald.ini 640 root herald
check "/etc/herald is 0750 root:herald" mode_is /etc/herald 750 root herald
check "/etc/herald/secrets is 0700 herald" mode_is /etc/herald/secrets 700 herald herald
check "/etc/herald/pki is 0750 herald" mode_is /etc/herald/pki 750 herald herald
check "/etc/herald/ca is 0700 herald" mode_is /etc/herald/ca 700 herald herald
check "/var/lib/herald is 0750 herald" mode_is /var/lib/herald 750 herald herald
check "/var/lib/herald/backups is 0750 herald" \
  mode_is /var/lib/herald/backups 750 herald herald
check "/var/log/herald is 0750 herald" mode_is /var/log/herald 750 herald herald
for f in systemd/system/heraldd@.service systemd/system/herald-backup.service \
  systemd/system/herald-backup.timer sysusers.d/herald.conf tmpfiles.d/herald.conf; do
  check "/etc/$f is installed, 0644 root" mode_is "/etc/$f" 644 root root
done
check "the example configuration is kept for reference" \
  cmp -s "$root/config/herald.example.ini" "$stage/usr/local/share/herald/herald.example.ini"

before=$(snapshot "$stage")
out=$("$root/ops/install" --root "$stage" --build-dir "$build_dir" 2>&1)
check "a second run succeeds and says everything was in place" \
  grep -q 'everything was already in place' <<<"$out"
check "... and changes nothing (paths, modes, owners, times, contents)" \
  test "$before" == "$(snapshot "$stage")"

echo "; edited by the operator" >>"$stage/etc/herald/herald.ini"
echo "secret" >"$stage/etc/herald/secrets/sender-pepper"
chmod 0755 "$stage/etc/herald/secrets"
out=$("$root/ops/install" --root "$stage" --build-dir "$build_dir" 2>&1)
check "a re-run keeps an edited herald.ini" \
  grep -q '^; edited by the operator' "$stage/etc/herald/herald.ini"
check "... keeps the secrets" grep -qx secret "$stage/etc/herald/secrets/sender-pepper"
check "... and repairs a too open secrets folder to 0700" \
  mode_is /etc/herald/secrets 700 herald herald

must "ops/install --prefix /opt/herald installs into another staging root" \
  quietly "$root/ops/install" --root "$tmp/stage-opt" --prefix /opt/herald \
  --build-dir "$build_dir"
check "... with the units starting /opt/herald/bin" \
  bash -c "grep -qx 'ExecStart=/opt/herald/bin/heraldd --config-file=/etc/herald/%i.ini' \
             '$tmp/stage-opt/etc/systemd/system/heraldd@.service' &&
           grep -q '^ExecStart=/opt/herald/bin/heraldctl backup ' \
             '$tmp/stage-opt/etc/systemd/system/herald-backup.service' &&
           test -x '$tmp/stage-opt/opt/herald/bin/heraldd'"

# -- the units and snippets, verified offline -----------------------------------

# systemd-analyze verify --root needs the distribution's units (sysinit.target
# and friends) in the root: a copy of the staging root gets the host's.
verify="$tmp/verify"
cp -a "$stage" "$verify"
mkdir -p "$verify/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$verify/usr/lib/systemd/"
units=(heraldd@herald.service herald-backup.service herald-backup.timer)
verify_out=$(systemd-analyze verify --root="$verify" "${units[@]}" 2>&1)
code=$?
echo "     systemd-analyze verify --root=STAGE ${units[*]}: exit $code, output: ${verify_out:-none}"
check "systemd-analyze verify passes every unit without a warning" \
  test "$code" == 0 -a -z "$verify_out"
mv "$verify/usr/local/bin/heraldctl" "$verify/heraldctl.away"
verify_out=$(systemd-analyze verify --root="$verify" herald-backup.service 2>&1)
check "... and would notice a missing binary (so the pass above means something)" \
  grep -q 'heraldctl is not executable' <<<"$verify_out"
mv "$verify/heraldctl.away" "$verify/usr/local/bin/heraldctl"
security=$(systemd-analyze security --offline=yes --root="$verify" \
  heraldd@herald.service 2>&1 | tail -1)
echo "     systemd-analyze security: $security"
check "systemd-analyze security rates heraldd@ OK or better" \
  grep -Eq 'Overall exposure level for heraldd@herald.service: [0-9.]+ (OK|SAFE)' \
  <<<"$security"
dirs_before=$(cd "$verify" && find etc/herald var -printf '%p %m %U %G\n' | sort)
tmpfiles_out=$(systemd-tmpfiles --root="$verify" --create \
  "$verify/etc/tmpfiles.d/herald.conf" 2>&1)
code=$?
check "systemd-tmpfiles accepts herald.conf and agrees with ops/install on every folder" \
  test "$code" == 0 -a -z "$tmpfiles_out" \
  -a "$dirs_before" == "$(cd "$verify" && find etc/herald var -printf '%p %m %U %G\n' | sort)"

# -- readiness and the watchdog, with a fake service manager ----------------------

must "heraldctl db migrate applies the schema" \
  quietly "$HERALDCTL" db migrate --config-file "$ini"
must "client e2e is registered" \
  quietly "$HERALDCTL" client add e2e --config-file "$ini" --certificate "$pki/client.crt"
must "the node certificate is registered" register_node

notify_sock="$tmp/notify.sock"
notify_log="$tmp/notify.log"
"$root/test/ops/fake_notify.py" "$notify_sock" "$notify_log" &
notify_pid=$!
install_cleanup() {
  kill "$notify_pid" 2>/dev/null
  wait "$notify_pid" 2>/dev/null
  e2e_cleanup
}
trap install_cleanup EXIT
must "the fake notification socket listens" \
  herald_wait_until 10 grep -q LISTENING "$notify_log"

# got WORD: a datagram of the node carried WORD (e.g. READY=1).
got() { grep -q "pid=$node_pid .*$1" "$notify_log"; }
NOTIFY_SOCKET=$notify_sock WATCHDOG_USEC=1000000 \
  "$HERALDD" --config-file="$ini" >>"$tmp/heraldd.out" 2>&1 &
node_pid=$!
must "the node sends READY=1" herald_wait_until 30 got READY=1
# healthy_now: health answers 200 (says what it got otherwise).
healthy_now() {
  local body
  body=$(client_curl -S -w ' HTTP %{http_code}' "$base/api/v1/health" 2>&1)
  [[ "$body" == *" HTTP 200" ]] || { echo "     health: $body"; return 1; }
}
# Within 2 s: now and then the very first TLS connection to a fresh node is
# reset (seen without systemd too: the other tests poll until healthy).
healthy_soon() {
  healthy_now && return 0
  herald_wait_until 2 healthy_now
}
check "... and is healthy as READY=1 arrives (200 within 2 s)" healthy_soon
check "... with a status line naming its dependencies" \
  grep -q "READY=1 | STATUS=serving; mysql up, redis up" "$notify_log"
check "READY=1 follows the node's 'ready' log line" \
  grep -q "node 'e2e' ready" "$tmp/heraldd.out"
sleep 3
pings=$(grep "pid=$node_pid WATCHDOG=1" "$notify_log" | awk '{ print $1 }')
count=$(grep -c . <<<"$pings")
echo "     $count keep-alives in about 3 s (WATCHDOG_USEC=1000000)"
# Loose bounds: other builds and tests share the CPU.
check "WATCHDOG=1 arrives every WATCHDOG_USEC/2 (4 to 9 in 3 s)" \
  test "$count" -ge 4 -a "$count" -le 9
check "... evenly (0.4 to 0.9 s apart)" \
  awk 'NR > 1 { d = $1 - prev; if (d < 0.4 || d > 0.9) bad = 1 } { prev = $1 }
       END { exit bad }' <<<"$pings"
# A dependency outage is no reason for a restart: the keep-alives go on,
# with the status saying what is down (systemctl status shows it).
herald_stop_redis "$tmp/redis" "$redis_port"
check "with Redis down the status turns degraded" \
  herald_wait_until 20 grep -q "pid=$node_pid WATCHDOG=1 | STATUS=degraded; mysql up, redis down" "$notify_log"
sleep 1.2
check "... and the keep-alives go on" \
  bash -c "sed -n '/STATUS=degraded/,\$p' '$notify_log' | grep -c 'WATCHDOG=1' | grep -qv '^[01]\$'"
must "the test's Redis starts again" herald_start_redis "$tmp/redis" "$redis_port"
check "with Redis back the status says serving again" \
  herald_wait_until 20 bash -c "sed -n '/STATUS=degraded/,\$p' '$notify_log' | grep -q 'STATUS=serving; mysql up, redis up'"
pid=$node_pid
code=0
stop_node || code=$?
check "on SIGTERM the node sends STOPPING=1 and exits 0" \
  bash -c "grep -q 'pid=$pid STOPPING=1' '$notify_log' && test $code == 0"
check "no keep-alive follows STOPPING=1" \
  bash -c "! sed -n '/STOPPING=1/,\$p' '$notify_log' | grep -q WATCHDOG=1"
check "every datagram came from the main process (NotifyAccess=main)" \
  bash -c "! grep -v -e 'pid=0 LISTENING' -e 'pid=$pid ' '$notify_log'"
echo "     what the fake service manager received:"
sed -n '2,4p;$p' "$notify_log" | sed 's/^/       /'

e2e_finish
