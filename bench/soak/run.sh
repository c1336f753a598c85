#!/bin/bash
# Connection-churn soak: bench/soak/run.sh NAME SECONDS SERVER-COMMAND...
# Starts the server, runs two churn clients against it (one reads the echo
# then resets, one resets before the echo), samples the server's VmRSS every
# 5 s into NAME.rss, and keeps its output in NAME.out / NAME.err. Example:
#   bench/soak/run.sh strom 60 node_modules/.bin/deno run -A bench/soak/strom_echo.ts
#   bench/soak/run.sh listen 60 node_modules/.bin/deno run -A bench/soak/deno_echo.ts
set -e
here=$(dirname "$0")
name=$1; secs=$2; shift 2
gcc -O2 -o "$here/.churn" "$here/churn.c"
"$@" > "$name.out" 2> "$name.err" &
pid=$!
for _ in $(seq 1 100); do grep -q listening "$name.out" && break; sleep 0.2; done
port=$(grep -o '[0-9]*$' "$name.out" | head -1)
"$here/.churn" "$port" "$secs" 1 > "$name.churn1" &
c1=$!
"$here/.churn" "$port" "$secs" 2 > "$name.churn2" &
c2=$!
: > "$name.rss"
for t in $(seq 5 5 "$secs"); do
  sleep 5
  echo "$t s: $(awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' /proc/$pid/status)" >> "$name.rss"
done
wait $c1 $c2
kill $pid
wait $pid 2>/dev/null || true
echo "$name: read then reset: $(cat "$name.churn1"); reset before the echo: $(cat "$name.churn2")"
tr '\n' ' ' < "$name.rss"
echo
