#!/usr/bin/env bash
# ops/monitoring against a live node: promtool checks the Prometheus
# configuration, the alert rules and their unit tests; a real heraldd (all
# roles, delivering to its own receiver) gets a message through so that its
# labelled families have samples; then its /metrics must pass `promtool
# check metrics`, and the dashboard and the alerts must name only metrics it
# exports, while the dashboard shows every family it exports.
# Usage: monitoring_test.sh HERALDD HERALDCTL
set -uo pipefail

HERALDD=$1
HERALDCTL=$2
source "$(dirname "$0")/../e2e/lib.sh"
# The node (started from here) and this script each hold 700 sockets.
(($(ulimit -n) >= 4096)) || ulimit -n 4096 || ulimit -n "$(ulimit -Hn)"
mon="$root/ops/monitoring"
checker="$root/test/ops/check_monitoring.py"

# -- the files alone -----------------------------------------------------------------------

must "promtool is installed (ops/setup: prometheus)" command -v promtool
check "promtool check config accepts prometheus.yml and finds alerts.yml" \
  quietly promtool check config "$mon/prometheus.yml"
check "promtool check rules accepts alerts.yml" \
  quietly promtool check rules "$mon/alerts.yml"
check "promtool test rules: every alert fires and stays quiet as alerts_test.yml expects" \
  quietly promtool test rules "$mon/alerts_test.yml"
check "the dashboard is valid JSON" python3 -m json.tool "$mon/grafana/herald.json" /dev/null

# -- a live node ------------------------------------------------------------------------------

must "heraldctl db migrate applies the schema" \
  "$HERALDCTL" db migrate --config-file "$ini"
must "client mon is registered" "$HERALDCTL" client add mon \
  --config-file "$ini" --certificate "$pki/client.crt"
must "the node certificate is registered" register_node
must "the node becomes healthy" start_node

messages="$base/api/v1/messages"
id=$(client_curl -H 'Content-Type: application/json' \
  -d '{"sender_number":"+4915112345678","message_body":"monitoring"}' \
  "$messages" | sed -n 's/.*"message_id":"\([^"]*\)".*/\1/p')
must "a message is accepted" test -n "$id"
delivered() { client_curl "$messages/$id" | grep -q '"status":"delivered"'; }
check "it is delivered to the node's own receiver" herald_wait_until 10 delivered
# A refused submission, for a sample of herald_rejections_total.
check "an invalid submission is refused with 422" \
  test "$(status_of -H 'Content-Type: application/json' -d '{}' "$messages")" = 422

# prometheus-cpp leaves a family without samples out of /metrics: give the
# refusal counters one each.
check "a certificate that is not registered gets 403 before any route" \
  test "$(as other-client -o /dev/null -w '%{http_code}' "$base/api/v1/health")" = 403
# More connections that never handshake than ingress.max-handshakes-per-ip
# (128) allows from one address once half of ingress.max-connections (1024)
# are taken: the rest are refused at accept.
idle_connections() {
  local fds=() fd i
  for ((i = 0; i < 700; i++)); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$HERALD_HTTPS_PORT" || return 1
    fds+=("$fd")
  done
  sleep 0.5
  for fd in "${fds[@]}"; do exec {fd}>&-; done
}
check "700 connections that never handshake are opened" idle_connections

scrape() {
  curl -sf --max-time 5 "http://127.0.0.1:$HERALD_METRICS_PORT/metrics" >"$tmp/metrics.txt"
}
# The delivery and receiver families have samples once the message went through.
has_samples() {
  scrape && grep -q '^herald_deliveries_total{outcome="delivered"}' "$tmp/metrics.txt" &&
    grep -q '^herald_received_total{result="stored"}' "$tmp/metrics.txt" &&
    grep -q '^herald_http_refused_connections_total{reason="max_handshakes_per_ip"}' "$tmp/metrics.txt" &&
    grep -q '^herald_http_unregistered_requests_total ' "$tmp/metrics.txt"
}
must "the node's /metrics shows the delivery, its receipt and the refusals" herald_wait_until 10 has_samples

# promtool check metrics exits 1 on any lint problem; it prints them.
promtool_lint() {
  local out code=0
  out=$(promtool check metrics <"$tmp/metrics.txt" 2>&1) || code=$?
  [[ -n "$out" ]] && sed 's/^/     /' <<<"$out"
  return "$code"
}
check "promtool check metrics finds no problem in the live /metrics" promtool_lint

check "the live /metrics has every family core/metrics.cpp registers" \
  python3 "$checker" families "$tmp/metrics.txt"
check "the dashboard's panels are complete (datasource, targets with expr, unique ids, gridPos)" \
  python3 "$checker" dashboard "$tmp/metrics.txt"
check "every metric named in a panel, variable or alert is one the node exports" \
  python3 "$checker" known "$tmp/metrics.txt"
check "every family the node exports appears in a panel" \
  python3 "$checker" covered "$tmp/metrics.txt"

# The name checks can fail: a panel with an unknown metric, and a dashboard
# without the queue panels, are caught.
cp -r "$mon" "$tmp/mon-bad"
sed -i 's/herald_retry_schedule_size/herald_retry_schedule_length/g' \
  "$tmp/mon-bad/grafana/herald.json"
check "a panel naming an unknown metric is caught" \
  bash -c "! python3 '$checker' known '$tmp/metrics.txt' '$tmp/mon-bad' >/dev/null"
check "a family left out of every panel is caught" \
  bash -c "python3 '$checker' covered '$tmp/metrics.txt' '$tmp/mon-bad' |
    grep -q 'family herald_retry_schedule_size appears in no panel'"

check "SIGTERM stops the node with exit code 0" stop_node

e2e_finish
