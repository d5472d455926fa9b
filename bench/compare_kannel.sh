#!/usr/bin/env bash
# Herald side by side with Kannel 1.4.5 on this machine (issue 15).
#
# Runs ROUNDS rounds, interleaved (each round starts one run later, so no
# run always follows the same one), of:
#   herald ingress   bench/submission_bench.sh: closed loop, CONNECTIONS
#                    keep-alive connections, DURATION s (herald_loadgen)
#   herald ab -k     bench/submission_bench.sh --ab N: the same, driven by
#                    ApacheBench (HTTP/1.0 keep-alive, mTLS, one JSON body)
#   herald sink      bench/submission_bench.sh --sink: accepting and
#                    delivering at once to an nginx mTLS sink answering 200
#   herald receiver  bench/submission_bench.sh --deliver: accepting and
#                    delivering to its own receiver role (stores each
#                    message durably: more work than the sink)
#   kannel           a fresh bearerbox + smsbox + fakesmsc stack
#                    (bench/kannel/kannel.conf.in, file store, answers
#                    after the store), `ab -k -c CONNECTIONS -n N` on
#                    GET /cgi-bin/sendsms while it delivers to fakesmsc,
#                    then waits until fakesmsc has every message
# then prints one markdown table: median (min-max) over the rounds, and
# the ratios to Kannel that issue 15 sets targets for.
#
# Usage: bench/compare_kannel.sh [--rounds R] [--duration S] [-n N]
#        [--connections C] [--quick]
#   --quick   1 round, DURATION 5, N 20000 (a look, not a measurement)
# The same knobs as environment variables: ROUNDS (3), DURATION (20),
# N (100000), CONNECTIONS (64); KANNEL_LOG_LEVEL (2, warnings: Kannel's
# info level writes three lines per message, Herald runs at warn),
# DRAIN_TIMEOUT (300 s for Kannel to deliver everything).
#
# Installs with apt what is missing: kannel, kannel-extras (fakesmsc),
# apache2-utils (ab), nginx. Needs build/heraldd, build/heraldctl and
# build/bench/herald_loadgen (cmake --build build -j2). Loopback only,
# ports below 32768; every process is stopped by its PID and the temp
# folder removed, also on Ctrl-C or failure. About 3 minutes a round.
set -euo pipefail

rounds=${ROUNDS:-3}
duration=${DURATION:-20}
requests=${N:-100000}
connections=${CONNECTIONS:-64}
log_level=${KANNEL_LOG_LEVEL:-2}
drain_timeout=${DRAIN_TIMEOUT:-300}
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    -n) requests=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --quick) rounds=1; duration=5; requests=20000; shift ;;
    --help|-h) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    *) echo "unknown argument $1; see --help" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source ops/lib/services.sh

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for f in build/heraldd build/heraldctl build/bench/herald_loadgen; do
  [[ -x $f ]] || die "$f is missing; build first: cmake --build build -j2"
done

# Debian's packages, installed only when missing. We start our own nginx
# and Kannel processes with their own configuration, never the packaged
# services.
missing=()
for p in kannel kannel-extras apache2-utils nginx; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
fakesmsc=$(dpkg -L kannel-extras | grep '/fakesmsc$' | head -1)
[[ -x $fakesmsc ]] || die "fakesmsc not found in kannel-extras"

tmp=$(mktemp -d /tmp/herald-compare.XXXXXX)
pids=()   # what we started, stopped newest first
track() { pids+=("$1"); }
untrack() {
  local keep=() p
  for p in "${pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}
# stop_pid PID [SIGNAL]: signal one process we started and wait (15 s at
# most, then KILL) until it is gone.
stop_pid() {
  local pid=$1 sig=${2:-TERM} i
  kill -s "$sig" "$pid" 2>/dev/null || { untrack "$pid"; return 0; }
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && { log "pid $pid ignored SIG$sig; KILL"; kill -KILL "$pid"; }
  wait "$pid" 2>/dev/null || true
  untrack "$pid"
}
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the machine is shared ------------------------------------------------

# The load average counts our own runs too, so this looks at the others:
# every 2 s, the CPU ticks that processes outside this comparison used
# since the last look (other people's builds and tests), one line
# "EPOCHREALTIME TICKS" each. Ours carry HERALD_COMPARE in their
# environment, daemons included; kernel threads are left out (they serve
# our sockets too). A descendant of ours counts as ours too: nginx
# overwrites its environment with its process title, and its workers start
# with an empty one. Processes that live less than 2 s go unseen; the
# watch costs about 3% of one core.
export HERALD_COMPARE=$tmp
marked() { tr '\0' '\n' 2>/dev/null <"/proc/$1/environ" | grep -qx "HERALD_COMPARE=$tmp"; }
# ours PID: whether PID is ours, remembered in watch_others' mine[].
ours() {
  local ppid
  if [[ -z ${mine[$1]:-} ]]; then
    mine[$1]=0
    if marked "$1"; then
      mine[$1]=1
    else
      ppid=$(awk '{sub(/^.*\) /, ""); print $2}' "/proc/$1/stat" 2>/dev/null)
      ((${ppid:-0} > 1)) && ours "$ppid" && mine[$1]=1
    fi
  fi
  ((mine[$1]))
}
watch_others() {
  local -A seen mine
  local pid ppid ticks others first=1
  while :; do
    others=0
    while read -r pid ppid ticks; do
      ((pid == 2 || ppid == 2)) && continue
      ((first)) || ours "$pid" || others=$((others + ticks - ${seen[$pid]:-0}))
      seen[$pid]=$ticks
    done < <(awk '{f = FILENAME; gsub(/[^0-9]/, "", f); sub(/^.*\) /, "");
                   print f, $2, $12 + $13}' /proc/[0-9]*/stat 2>/dev/null)
    ((first)) || echo "$EPOCHREALTIME $others" >>"$tmp/others"
    first=0
    sleep 2
  done
}
# others_cores FROM TO: cores the others used on average between two
# EPOCHREALTIMEs.
others_cores() {
  awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" \
    '$1 > a && $1 <= b {t += $2} END {printf "%.2f", t / hz / (b - a)}' \
    "$tmp/others" 2>/dev/null || echo "?"
}
watch_others &
track $!

# ---- Herald: one run of bench/submission_bench.sh -------------------------

# herald_run NAME ARGS...: runs the bench in the background (so that an
# interrupt reaches it by PID), its output in $tmp/NAME.out.
herald_run() {
  local name=$1 pid
  shift
  bench/submission_bench.sh --connections "$connections" "$@" >"$tmp/$name.out" 2>&1 &
  pid=$!
  track "$pid"
  if ! wait "$pid"; then
    untrack "$pid"
    tail -20 "$tmp/$name.out" >&2
    die "bench/submission_bench.sh $* failed"
  fi
  untrack "$pid"
}
# field FILE PATTERN KEY: the value of KEY=... on the first line matching
# PATTERN; a run that did not print it stops the comparison.
field() {
  local v
  v=$(sed -n "/$2/{s/.* $3=\([^ ]*\).*/\1/p;q}" "$1")
  [[ -n $v ]] || { tail -20 "$1" >&2; die "no $3= in $1"; }
  echo "$v"
}

# need VALUE FILE: VALUE, or stop the comparison when a run did not print it.
need() {
  [[ -n $1 ]] || { tail -20 "$2" >&2; die "a figure is missing in $2"; }
  echo "$1"
}

# accepted_rate RATE ANSWERS OK: RATE counted only for the 2xx answers.
accepted_rate() {
  awk -v r="$1" -v n="$2" -v ok="$3" 'BEGIN {printf "%.1f", (n > 0 ? r * ok / n : 0)}'
}

# Per run kind: space-separated values of the rounds.
declare -A acc p99 del lost notes

herald_loadgen_run() { # KIND ARGS...
  local kind=$1 out=$tmp/$1.out
  shift
  herald_run "$kind" --duration "$duration" "$@"
  acc[$kind]+="$(accepted_rate "$(field "$out" '^RESULT' rps)" \
    "$(field "$out" '^RESULT' responses)" "$(field "$out" '^RESULT' ok)") "
  p99[$kind]+="$(field "$out" '^RESULT' p99_ms) "
}
# After --sink or --deliver: delivered/s (first accept to last delivery),
# and what was accepted (202) but not delivered.
herald_delivery() { # KIND
  local kind=$1 out=$tmp/$1.out accepted delivered rate
  # "delivered        N in S s: R msg/s (first accept to last delivery)"
  rate=$(sed -n 's/^delivered .* s: \([0-9.]*\) msg\/s.*/\1/p' "$out")
  del[$kind]+="$(need "$rate" "$out") "
  delivered=$(sed -n 's/^delivered *\([0-9]*\) in.*/\1/p' "$out")
  accepted=$(sed -n 's/^herald_http_requests_total{code="202",route="POST [^"]*"} //p' "$out")
  lost[$kind]=$((${lost[$kind]:-0} + ${accepted:-0} - ${delivered:-0}))
  notes[$kind]+="round $round: $(grep -m1 '^accept->delivered' "$out" || true)"
  notes[$kind]+="$(grep -m1 -E '^(sink answered|receiver stored)' "$out" |
    sed 's/^/; /' || true)"$'\n'
}

run_ingress() {
  herald_loadgen_run ingress
}
run_sink() {
  herald_loadgen_run sink --sink
  herald_delivery sink
}
run_receiver() {
  herald_loadgen_run receiver --deliver
  herald_delivery receiver
}
run_ab() {
  local out=$tmp/ab.out ka complete ok
  herald_run ab --ab "$requests"
  grep -q '^AB exit=0 ' "$out" || { cat "$out" >&2; die "ab -k against Herald failed"; }
  complete=$(field "$out" '^AB ' complete)
  ok=$((complete - $(field "$out" '^AB ' failed) - $(field "$out" '^AB ' non2xx)))
  acc[ab]+="$(accepted_rate "$(field "$out" '^AB ' rps)" "$complete" "$ok") "
  p99[ab]+="$(field "$out" '^AB ' p99) "
  # The keep-alive count shows whether ab -k really kept its connections.
  ka=$(field "$out" '^AB ' keepalive)
  notes[ab]+="round $round: $complete requests, $ka over kept-alive connections,"
  notes[ab]+=" $((complete - ok)) failed or not 2xx"$'\n'
}

# ---- Kannel: a fresh stack per round --------------------------------------

kannel_status() {
  curl -s --max-time 5 "http://127.0.0.1:$admin_port/status.txt?password=bench-status" || true
}
# Messages bearerbox has handed to fakesmsc.
kannel_sent() {
  kannel_status | sed -n 's/.*fake1.*sent: sms \([0-9]*\).*/\1/p' | head -1
}
wait_for() { # SECONDS COMMAND...: like herald_wait_until, with 50 ms steps
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}
listening() { ss -Hltn "sport = :$1" | grep -q .; }
kannel_sent_at_least() { local s; s=$(kannel_sent); [[ -n $s ]] && ((s >= $1)); }

run_kannel() {
  local dir=$tmp/kannel-$round bb sb fs ab_pid text url check rc=0 t_ab t_done
  local complete ok rate received
  mkdir -p "$dir"
  # Four distinct free ports.
  while :; do
    admin_port=$(herald_free_port) box_port=$(herald_free_port)
    smsc_port=$(herald_free_port) sendsms_port=$(herald_free_port)
    (($(printf '%s\n' "$admin_port" "$box_port" "$smsc_port" "$sendsms_port" |
      sort -u | wc -l) == 4)) && break
  done
  sed -e "s#@DIR@#$dir#g" -e "s#@LOG_LEVEL@#$log_level#" \
    -e "s#@ADMIN_PORT@#$admin_port#" -e "s#@BOX_PORT@#$box_port#g" \
    -e "s#@SMSC_PORT@#$smsc_port#" -e "s#@SENDSMS_PORT@#$sendsms_port#" \
    bench/kannel/kannel.conf.in >"$dir/kannel.conf"

  # -v 4: only panics on stderr; the rest goes to the log files.
  /usr/sbin/bearerbox -v 4 "$dir/kannel.conf" >"$dir/bearerbox.out" 2>&1 &
  bb=$!
  track "$bb"
  wait_for 20 listening "$smsc_port" || die "bearerbox did not start; see $dir"
  # -m 0: fakesmsc sends nothing itself and counts what it gets; it says
  # how many and how fast when it stops (SIGINT).
  "$fakesmsc" -v 1 -H 127.0.0.1 -r "$smsc_port" -m 0 "1 2 text unused" \
    >"$dir/fakesmsc.out" 2>&1 &
  fs=$!
  track "$fs"
  /usr/sbin/smsbox -v 4 "$dir/kannel.conf" >"$dir/smsbox.out" 2>&1 &
  sb=$!
  track "$sb"
  wait_for 20 listening "$sendsms_port" || die "smsbox did not start; see $dir"
  wait_for 20 eval 'kannel_status | grep -q "fake1.*online"' ||
    die "fakesmsc did not connect; see $dir"
  wait_for 20 eval 'kannel_status | grep -q "smsbox:.*on-line"' ||
    die "smsbox did not connect to bearerbox; see $dir"

  # A message as Herald's bench sends: E.164 numbers, ~50 characters.
  text='Your+Herald+code+is+493817.+Do+not+share+it+with+anyone.'
  url="http://127.0.0.1:$sendsms_port/cgi-bin/sendsms?username=bench&password=benchpw"
  url+="&from=%2B4915112345678&to=%2B4915100000001&text=$text"
  # "0: Accepted" means stored and routed to an SMSC that is online ("3:
  # Queued for later delivery" would mean no SMSC).
  check=$(curl -s -w ' HTTP %{http_code}' "$url")
  [[ $check == "0: Accepted for delivery HTTP 202" ]] ||
    die "Kannel answered '$check' to a sendsms"

  ab -q -k -c "$connections" -n "$requests" -e "$dir/ab.csv" "$url" >"$dir/ab.txt" 2>&1 &
  ab_pid=$!
  track "$ab_pid"
  wait "$ab_pid" || rc=$?
  untrack "$ab_pid"
  ((rc == 0)) || { tail -5 "$dir/ab.txt" >&2; die "ab against Kannel failed"; }
  t_ab=$SECONDS
  wait_for "$drain_timeout" kannel_sent_at_least $((requests + 1)) ||
    log "kannel: not all delivered within ${drain_timeout}s"
  t_done=$SECONDS
  stop_pid "$sb"
  stop_pid "$fs" INT
  stop_pid "$bb"

  # ab's summary: "Requests per second:    8740.12 [#/sec] (mean)" etc.
  complete=$(need "$(ab_value 'Complete requests')" "$dir/ab.txt")
  ok=$((complete - $(ab_value 'Failed requests') - $(ab_value 'Non-2xx responses')))
  acc[kannel]+="$(accepted_rate "$(ab_value 'Requests per second')" "$complete" "$ok") "
  p99[kannel]+="$(need "$(awk -F, '$1 == 99 {print $2}' "$dir/ab.csv")" "$dir/ab.csv") "
  # fakesmsc: "from first to last received message 5.7 s, 8800.1 msgs/s"
  # and "N messages sent and M received".
  rate=$(sed -n 's/.*from first to last received message .* s, \([0-9.]*\) msgs\/s.*/\1/p' \
    "$dir/fakesmsc.out")
  del[kannel]+="$(need "$rate" "$dir/fakesmsc.out") "
  received=$(sed -n 's/.*fakesmsc: [0-9]* messages sent and \([0-9]*\) received.*/\1/p' \
    "$dir/fakesmsc.out")
  lost[kannel]=$((${lost[kannel]:-0} + ok + 1 - ${received:-0}))
  notes[kannel]+="round $round: $complete requests, $(ab_value 'Keep-Alive requests') over"
  notes[kannel]+=" kept-alive connections, $((complete - ok)) failed or not 2xx; fakesmsc"
  notes[kannel]+=" received ${received:-0} of $((ok + 1)) (with the check), the last"
  notes[kannel]+=" $((t_done - t_ab)) s after ab ended"$'\n'
}
# ab_value NAME: a figure of ab's summary in $dir/ab.txt (0 if absent).
ab_value() {
  awk -F': *' -v k="$1" '$1 == k {split($2, a, " "); v = a[1]} END {print v + 0}' "$dir/ab.txt"
}

# ---- the rounds -----------------------------------------------------------

kinds=(ingress ab sink receiver kannel)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +'%Y-%m-%d %H:%M UTC')
log "rounds: $rounds; Herald ${duration}s per run, ab and Kannel $requests requests;" \
  "$connections connections; load $load_before"
last() { echo "${1:-}" | awk '{print $NF}'; }
t_start=$EPOCHREALTIME
busiest=0
for ((round = 1; round <= rounds; round++)); do
  for ((i = 0; i < ${#kinds[@]}; i++)); do
    kind=${kinds[(i + round - 1) % ${#kinds[@]}]}
    load=$(cut -d' ' -f1 /proc/loadavg)
    t0=$EPOCHREALTIME
    "run_$kind"
    others=$(others_cores "$t0" "$EPOCHREALTIME")
    busiest=$(awk -v a="$others" -v b="$busiest" 'BEGIN {print (a > b ? a : b)}')
    log "round $round $kind (load $load, others $others cores):" \
      "accepted/s $(last "${acc[$kind]}"), p99 $(last "${p99[$kind]}")" \
      "ms${del[$kind]:+, delivered/s $(last "${del[$kind]}")}"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
others_all=$(others_cores "$t_start" "$EPOCHREALTIME")

# ---- the table ------------------------------------------------------------

# median V...: the middle value (lower middle for an even count).
median() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}
# thousands: 8740.3 -> 8,740 (rounded).
thousands() {
  printf '%.0f' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'
}
# spread V...: "8,740 (8,350-9,450)" or just "8,740" for one round.
spread() {
  local m lo hi
  m=$(thousands "$(median "$@")")
  (($# > 1)) || { echo "$m"; return; }
  lo=$(thousands "$(printf '%s\n' "$@" | sort -g | head -1)")
  hi=$(thousands "$(printf '%s\n' "$@" | sort -g | tail -1)")
  echo "$m ($lo–$hi)"
}
ms() { printf '%.0f ms' "$(median "$@")"; }
ratio() { awk -v a="$(median $1)" -v b="$(median $2)" 'BEGIN {printf "%.2f×", a / b}'; }

declare -A label=(
  [ingress]="Herald, ingress only (herald_loadgen)"
  [ab]="Herald ingress measured with ab -k"
  [sink]="Herald, accepting and delivering to an nginx mTLS sink (\`--sink\`)"
  [receiver]="Herald, accepting and delivering to its own receiver (\`--deliver\`)"
  [kannel]="Kannel, accepting and delivering to fakesmsc"
)
version() { dpkg-query -W -f='${Version}' "$1"; }
plural=""
((rounds > 1)) && plural=s
echo
echo "$(build/heraldd --version), scripts $(git rev-parse --short HEAD)," \
  "Kannel $(version kannel), nginx $(version nginx); $started"
echo "$(nproc) cores; load average before $load_before, after $load_after (ours included);" \
  "other processes used $others_all cores on average, $busiest in the busiest run;" \
  "$connections connections, closed loop; Herald $duration s per run (after 2 s" \
  "warm-up), ab $requests requests; Kannel log-level $log_level"
echo
echo "| run ($rounds interleaved round$plural, median and range) | accepted/s | p99" \
  "| delivered/s | × Kannel (accepted / delivered) |"
echo "|---|---|---|---|---|"
for kind in "${kinds[@]}"; do
  d="–"
  [[ -n ${del[$kind]:-} ]] && d=$(spread ${del[$kind]})
  r="–"
  if [[ $kind != kannel ]]; then
    r=$(ratio "${acc[$kind]}" "${acc[kannel]}")
    [[ -n ${del[$kind]:-} ]] && r+=" / $(ratio "${del[$kind]}" "${del[kannel]}")"
  fi
  echo "| ${label[$kind]} | $(spread ${acc[$kind]}) | $(ms ${p99[$kind]}) | $d | $r |"
done
echo
echo "Targets of issue 15: ingress accepted/s ≥ 1.2× Kannel's:" \
  "$(ratio "${acc[ingress]}" "${acc[kannel]}"); delivered/s to the sink ≥ 1.0×" \
  "Kannel's: $(ratio "${del[sink]}" "${del[kannel]}")."
echo "Accepted but not delivered: Herald sink ${lost[sink]}, Herald receiver" \
  "${lost[receiver]}, Kannel ${lost[kannel]}."
echo
for kind in ab sink receiver kannel; do
  echo "${label[$kind]}:"
  printf '%s' "${notes[$kind]}" | sed 's/^/  /'
done
