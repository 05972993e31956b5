#!/usr/bin/env bash
# The benchmark of BENCHMARKS.md: otpd pinned to core 0, the load generator on core 1,
# `send`, `check` and `mixed` at 64 connections, 3 runs each (each run measures the /healthz ceiling
# first, then the scenario), medians printed at the end with the server's peak RSS.
#   bench/run.sh [DATA_DIR] [SECONDS]
# DATA_DIR defaults to a fresh directory; pass one filled by bench/fill.py for the scaling run.
# BENCH_BIN=path runs that binary instead of building this tree (to compare two builds).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-$(mktemp -d)/data}
seconds=${2:-10}
# Each check uses up one prefilled verification: room for 80 000 checks/s.
prefill=$((seconds * 80000))
if [ -z "${BENCH_BIN:-}" ]; then
    cargo build --release -q -p otpd
fi
bin=${BENCH_BIN:-$PWD/target/release/otpd}
key=$("$bin" keys create --scopes admin,verify --name bench --data-dir "$data" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["key_id"]+":"+d["secret"])')
port=$((20000 + RANDOM % 20000))
log=$(mktemp)
taskset -c 0 "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" >/dev/null 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do grep -q "listening on" "$log" && break; sleep 0.5; done

rss_file=$(mktemp)
( peak=0; while kill -0 "$pid" 2>/dev/null; do
    r=$(ps -o rss= -p "$pid" | tr -d ' '); [ -n "$r" ] && [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" >"$rss_file"
    sleep 0.5; done ) &

results=$(mktemp)
for scenario in send check mixed; do
    for run in 1 2 3; do
        line=$(taskset -c 1 "$bin" bench --target "http://127.0.0.1:$port" --key "$key" \
            --scenario "$scenario" --connections 64 --duration "$seconds" --prefill "$prefill" \
            --destinations "${DESTINATIONS:-scattered}" --json | tail -1)
        echo "$line" | tee -a "$results" >&2
    done
done
python3 - "$results" "$rss_file" "$data" <<'EOF'
import json, os, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for scenario in ("send", "check", "mixed"):
    r = [x for x in rows if x["scenario"] == scenario]
    med = lambda k: statistics.median(x[k] for x in r)
    print(f"{scenario}: median of {len(r)}: {med('throughput_rps'):.0f} req/s, p50 {med('p50_ms')} ms, "
          f"p99 {med('p99_ms')} ms, errors {sum(x['errors'] for x in r)}, ceiling {med('ceiling_rps'):.0f} req/s, "
          f"ratio {med('ratio'):.3f}"
          + (f", delivered {max(x['delivery_lag_s'] for x in r):.2f} s after the run at worst"
             if all(x.get("delivery_lag_s") is not None for x in r) else ""))
peak = int(open(sys.argv[2]).read().strip() or 0)
print(f"server peak RSS: {peak / 1024:.0f} MiB")
db = os.path.join(sys.argv[3], "otpd.db")
print(f"database: {os.path.getsize(db) / 1e6:.0f} MB")
EOF
