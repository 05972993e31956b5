#!/usr/bin/env bash
# Where the server's time goes: CPU per thread (user/system) and write system calls and bytes,
# read from /proc before and after one measured run. Server pinned to core 0, load on core 1.
#   bench/probe.sh send|check|mixed [SECONDS] [PREFILL]
# The warm-up run and the measured run each do their own prefill for `check`; the prefill is
# inside the measured window, so use it for send, or compare check runs with each other.
set -euo pipefail
scenario=${1:-send}; secs=${2:-10}; prefill=${3:-100000}
cd "$(dirname "$0")/.."
cargo build --release -q -p otpd
bin=$PWD/target/release/otpd
data=$(mktemp -d)/data
key=$("$bin" keys create --scopes admin,verify --name bench --data-dir "$data" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["key_id"]+":"+d["secret"])')
port=$((20000 + RANDOM % 20000)); log=$(mktemp)
taskset -c 0 "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" >/dev/null 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do grep -q "listening on" "$log" && break; sleep 0.5; done
drive() {
    taskset -c 1 "$bin" bench --target "http://127.0.0.1:$port" --key "$key" --scenario "$scenario" \
        --connections 64 --duration "$1" --ceiling-duration 0 --prefill "$prefill" --json | tail -1
}
snapshot() {
    for t in /proc/$pid/task/*; do awk '{printf "%s %d %d\n", $2, $14, $15}' "$t/stat"; done
    awk '/^(syscw|wchar):/ {printf "%s %d 0\n", $1, $2}' /proc/$pid/io
}
drive 3 >/dev/null
before=$(snapshot)
out=$(drive "$secs")
after=$(snapshot)
echo "$out"
python3 - "$out" <<PY
import json, sys
def parse(text):
    d = {}
    for line in text.strip().splitlines():
        name, a, b = line.rsplit(" ", 2)
        u, s = d.get(name, (0, 0))
        d[name] = (u + int(a), s + int(b))
    return d
b, a = parse("""$before"""), parse("""$after""")
n = json.loads(sys.argv[1])["requests"]
tick_us = 1e6 / 100  # USER_HZ
for name in sorted(a):
    if name.startswith(("syscw", "wchar")):
        continue
    du, ds = a[name][0] - b.get(name, (0, 0))[0], a[name][1] - b.get(name, (0, 0))[1]
    print(f"thread {name}: user {du * tick_us / n:.1f} µs, system {ds * tick_us / n:.1f} µs per request")
print(f"write system calls per request: {(a['syscw:'][0] - b['syscw:'][0]) / n:.1f}")
print(f"bytes written per request: {(a['wchar:'][0] - b['wchar:'][0]) / n:.0f}")
PY
