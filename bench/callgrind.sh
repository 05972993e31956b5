#!/usr/bin/env bash
# Instructions per request for one bench scenario, counted by valgrind's callgrind: repeatable
# whatever else the machine is doing. The server runs under callgrind with instrumentation off
# through start-up and a warm-up, on for the measured run only.
#   bench/callgrind.sh send|check|mixed [seconds] [connections]
set -euo pipefail
scenario=${1:-send}; seconds=${2:-15}; conns=${3:-64}
cd "$(dirname "$0")/.."
cargo build --release -q -p otpd
bin=$PWD/target/release/otpd
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.out" \
    "$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 120); do grep -q "listening on" "$work/err" && break; sleep 0.5; done
key=$(head -1 "$work/out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["key_id"]+":"+d["secret"])')
"$bin" bench --target "http://127.0.0.1:$port" --key "$key" --scenario "$scenario" \
    --connections 2 --duration 3 --ceiling-duration 0 --rate 50 --prefill 200 >/dev/null
callgrind_control -i on "$pid" >/dev/null
out=$("$bin" bench --target "http://127.0.0.1:$port" --key "$key" --scenario "$scenario" \
    --connections "$conns" --duration "$seconds" --ceiling-duration 0 --prefill 2000 --json)
sleep 2
callgrind_control -i off "$pid" >/dev/null
kill -TERM "$pid"; wait "$pid" || true
total=$(callgrind_annotate "$work/cg.out" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
requests=$(echo "$out" | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
echo "$out" | sed -n 2p
echo "scenario=$scenario requests=$requests instructions=$total per_request=$((total / requests))"
echo "profile: $work/cg.out (callgrind_annotate --inclusive=yes $work/cg.out | less)"
