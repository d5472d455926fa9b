# The check helpers of the end-to-end tests: test steps, set-up steps that
# stop the test when they fail, and negative checks that assert the precise
# refusal. Sourced by lib.sh, and alone by negative_checks_test.sh; needs
# $tmp (a folder of the test's own) and node_pid.

passed=${passed:-0}
failed=${failed:-0}

# check NAME COMMAND...: one test step.
check() {
  local name=$1
  shift
  if "$@"; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    failed=$((failed + 1))
  fi
}

# e2e_finish: prints the node's output on failure and the closing line.
e2e_finish() {
  if ((failed > 0)) && [[ -f "$tmp/heraldd.out" ]]; then
    echo "--- heraldd output"
    tail -40 "$tmp/heraldd.out"
  fi
  echo "$passed passed, $failed failed"
  ((failed == 0))
}

# must STEP COMMAND...: a set-up step. A test that goes on after a failed
# step proves nothing, so it stops here, loudly.
must() {
  local name=$1
  shift
  local code=0
  "$@" || code=$?
  if ((code != 0)); then
    echo "FAIL set-up: $name (exit code $code; stopping here)"
    failed=$((failed + 1))
    e2e_finish
    exit 1
  fi
  echo "ok   set-up: $name"
  passed=$((passed + 1))
}

# quietly COMMAND...: COMMAND with its output held back unless it fails.
quietly() {
  local out code=0
  out=$("$@" 2>&1) || code=$?
  ((code == 0)) || tail -n 5 <<<"$out"
  return "$code"
}

# need_files FILE...: each FILE exists and is not empty; names the missing.
need_files() {
  local f missing=0
  for f in "$@"; do
    if [[ ! -s "$f" ]]; then
      echo "     missing or empty: $f"
      missing=1
    fi
  done
  return "$missing"
}

# -- negative checks that can fail --------------------------------------------------
#
# A negative check ("the node refuses X") passes only when the refusal is the
# one expected: the TCP connection opened, the server sent the named TLS
# alert (or closed the connection itself in time), no HTTP answer came, the
# files it uses exist, and right afterwards the server still serves a valid
# client (so a crashed node or a missing certificate cannot pass).
# test/e2e/negative_checks_test.sh shows each of them failing against a
# deliberately wrong server.

# e2e_alive: the liveness probe the helpers run after a refusal. Tests
# override it (pki_test.sh uses its own CA; negative_checks_test.sh its own
# servers). Default: the node process runs and a valid client gets health 200.
e2e_alive() {
  if [[ -z "$node_pid" || ! -r /proc/$node_pid/stat ]] ||
    [[ "$(awk '{print $3}' "/proc/$node_pid/stat" 2>/dev/null)" == Z ]]; then
    echo "     the node process is not running"
    return 1
  fi
  if ! healthy; then
    echo "     the node no longer serves a valid client (health is not 200)"
    return 1
  fi
}

# s_client_files ARGS...: the files named after -cert, -key, -CAfile, -sess_in.
s_client_files() {
  while (($# > 0)); do
    case $1 in
      -cert | -key | -CAfile | -sess_in) echo "$2"; shift 2 ;;
      *) shift ;;
    esac
  done
}

# refused_with ALERT HOST:PORT S_CLIENT_ARGS...: the server refuses the
# handshake with the TLS alert ALERT (as OpenSSL names it, e.g. "alert
# certificate required", "alert unknown ca", "alert protocol version").
# Sends a GET /api/v1/health should the handshake pass.
refused_with() {
  local alert=$1 target=$2 out rc files=()
  shift 2
  mapfile -t files < <(s_client_files "$@")
  need_files "${files[@]}" || return 1
  out=$(printf 'GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
    timeout 10 openssl s_client -ign_eof -connect "$target" -servername localhost \
      "$@" 2>&1)
  rc=$?
  last_s_client_output=$out
  if ((rc == 124)); then
    echo "     s_client hung (no alert, no close within 10 s)"
    return 1
  fi
  if ! grep -q '^CONNECTED' <<<"$out"; then
    echo "     no TCP connection to $target: $(grep -m1 -iE 'error|refused' <<<"$out")"
    return 1
  fi
  if grep -q 'HTTP/1\.[01] [0-9]' <<<"$out"; then
    echo "     the server answered over TLS: $(grep -m1 -o 'HTTP/1\.[01] [0-9].*' <<<"$out")"
    return 1
  fi
  if ! grep -q "$alert" <<<"$out"; then
    echo "     expected '$alert', got: $(grep -m1 -E 'alert|error' <<<"$out" || echo 'no alert')"
    return 1
  fi
  echo "     refused: $(grep -m1 -o "[a-z0-9]* ${alert}[^:]*" <<<"$out") (rc $rc)"
  e2e_alive
}

# tls11_refused HOST:PORT CA CERT KEY: a client that really offers TLS 1.1
# (Debian's OpenSSL allows it only at security level 0) gets a
# protocol_version alert.
tls11_refused() {
  refused_with "alert protocol version" "$1" -tls1_1 \
    -cipher 'DEFAULT:@SECLEVEL=0' -CAfile "$2" -cert "$3" -key "$4" || return 1
  if ! grep -q 'Protocol  *: TLSv1\.1' <<<"$last_s_client_output"; then
    echo "     the client did not offer TLS 1.1"
    return 1
  fi
}

# curl_refused ALERT URL CURL_ARGS...: curl fails the TLS handshake (exit
# code 35, or 56 when TLS 1.3 delivers the alert with the first read) and
# names ALERT; then the server must still serve a valid client.
curl_refused() {
  local alert=$1 url=$2 out rc
  shift 2
  local files=() args=("$@") i
  for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
      --cert | --key | --cacert) files+=("${args[i + 1]}") ;;
    esac
  done
  need_files "${files[@]}" || return 1
  out=$(curl -sS --max-time 10 -o /dev/null "$@" "$url" 2>&1)
  rc=$?
  if ((rc != 35 && rc != 56)); then
    echo "     curl exit code $rc, expected 35 or 56 (TLS refusal): $out"
    return 1
  fi
  if ! grep -q "$alert" <<<"$out"; then
    echo "     expected '$alert', got: $out"
    return 1
  fi
  echo "     refused: curl exit $rc, $(grep -o "[a-z0-9]* $alert" <<<"$out" | head -1)"
  e2e_alive
}

# slow_request_cut_off HOST:PORT MIN MAX S_CLIENT_ARGS...: a client that
# completes the handshake (server certificate verified) and then sends half
# a request and nothing more is disconnected BY THE SERVER after between MIN
# and MAX seconds, without an answer or an alert.
slow_request_cut_off() {
  local target=$1 min=$2 max=$3 out rc started elapsed feeder files=()
  shift 3
  mapfile -t files < <(s_client_files "$@")
  need_files "${files[@]}" || return 1
  rm -f "$tmp/slow.fifo"
  mkfifo "$tmp/slow.fifo"
  (printf 'GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n'
    exec sleep $((max + 10))) >"$tmp/slow.fifo" 2>/dev/null &
  feeder=$!
  started=$(date +%s%N)
  out=$(timeout $((max + 5)) openssl s_client -connect "$target" \
    -servername localhost "$@" <"$tmp/slow.fifo" 2>&1)
  rc=$?
  elapsed=$((($(date +%s%N) - started) / 1000000))
  kill "$feeder" 2>/dev/null
  wait "$feeder" 2>/dev/null
  if ! grep -q '^CONNECTED' <<<"$out"; then
    echo "     the connection never opened"
    return 1
  fi
  if ! grep -q 'Verify return code: 0 (ok)' <<<"$out"; then
    echo "     the handshake did not complete with a verified server"
    return 1
  fi
  if grep -qE 'alert|HTTP/1\.[01] [0-9]' <<<"$out"; then
    echo "     refused or answered instead of cut off: $(grep -m1 -oE '[a-z0-9]* alert.*|HTTP/1\.[01] [0-9].*' <<<"$out")"
    return 1
  fi
  if ((rc == 124)); then
    echo "     the server did not close the connection within $((max + 5)) s"
    return 1
  fi
  if ((elapsed < min * 1000 || elapsed > max * 1000)); then
    echo "     closed after $elapsed ms, expected between $min and $max s"
    return 1
  fi
  echo "     the server closed the handshaken connection after $elapsed ms"
  e2e_alive
}
