#!/usr/bin/env bash
# Measures the retry-timer with a million scheduled retries: starts a
# throwaway Redis (AOF on, temp folder, loopback port below 32768), then
# herald_retry_timer_bench, which writes the retries into herald:retry, runs
# Herald's schedule and retry-timer actors against it and reports how late
# each retry reached a delivery actor as `work`, and the process's resident
# memory. Stops Redis at the end, also on failure.
#
# Usage: bench/retry_timer_bench.sh [--count N] [--lead S] [--spread S]
# Build first: cmake --build build -j2 --target herald_retry_timer_bench
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${HERALD_BUILD_DIR:-$root/build}/bench/herald_retry_timer_bench
[[ -x "$bin" ]] || { echo "build $bin first" >&2; exit 2; }

dir=$(mktemp -d /tmp/herald-retry-bench.XXXXXX)
port=$((20000 + RANDOM % 10000))
cleanup() {
  if [[ -f "$dir/redis.pid" ]]; then
    kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
    sleep 0.2
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes \
  --appendfsync everysec --save '' --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
for _ in $(seq 50); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done

echo "redis on 127.0.0.1:$port (AOF everysec); $(nproc) cores"
"$bin" --redis-port "$port" "$@"
code=$?
echo "redis used_memory: $(redis-cli -p "$port" info memory |
  grep -E '^used_memory_human' | cut -d: -f2 | tr -d '\r')"
exit $code
