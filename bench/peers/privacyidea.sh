#!/usr/bin/env bash
# Side by side in one run: privacyIDEA 3.14 (PyPI, SQLite, gunicorn 2 workers) and otpd, on this machine.
#   bench/peers/privacyidea.sh [setup|bench|all]     (default: all)
# `setup` installs privacyIDEA in a venv and enrols its tokens with the shared peer scripts
# (../shared/peers/privacyidea/setup.sh, ~16 minutes: argon2 PIN hashing dominates); `bench` runs its
# TOTP-validate and SMS challenge-response flows (3 runs, median, 16 clients) and then otpd's own
# bench/run.sh, and prints the ratios. privacyIDEA and otpd never run at the same time.
set -euo pipefail
cd "$(dirname "$0")/../.."
peer=${PEERS_DIR:-$PWD/../shared/peers}/privacyidea
what=${1:-all}
out=${OUT:-$(mktemp -d)}

if [[ $what == setup || $what == all ]]; then
    PIP_CONSTRAINT=$PWD/bench/peers/privacyidea-constraints.txt "$peer/setup.sh"
fi
if [[ $what == bench || $what == all ]]; then
    "$peer/start.sh" >/dev/null 2>&1 || true
    OUT=$out/pi MODES="totp sms" RUNS=3 "$peer/bench.sh" | tee "$out/pi.txt"
    "$peer/stop.sh" >/dev/null 2>&1 || true
    bench/run.sh "" 10 | tee "$out/otpd.txt"
    python3 - "$out" <<'PY'
import json, pathlib, re, statistics, sys
out = pathlib.Path(sys.argv[1])
def pi_median(mode):
    rows = [json.loads(p.read_text()) for p in sorted((out / "pi").glob(f"{mode}-*.json"))]
    return statistics.median(r["ops_per_s"] for r in rows)
otpd = {m.group(1): float(m.group(2)) for m in
        re.finditer(r"^(send|check|mixed): median of \d+: (\d+) req/s", (out / "otpd.txt").read_text(), re.M)}
totp, sms = pi_median("totp"), pi_median("sms")
print(f"verify:   otpd check {otpd['check']:.0f}/s vs privacyIDEA TOTP validate {totp:.1f}/s -> {otpd['check'] / totp:.0f}x")
print(f"SMS flow: otpd mixed (send+check pairs) {otpd['mixed'] / 2:.0f} cycles/s vs privacyIDEA SMS cycle {sms:.2f}/s "
      f"-> {otpd['mixed'] / 2 / sms:.0f}x")
PY
fi
