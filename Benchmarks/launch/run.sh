#!/usr/bin/env bash
# `kvmplan launch` of the long-mode hello guest against the C program doing the same ioctls
# (Benchmarks/c-launch/launch_hello), both as whole processes: hyperfine medians and their ratio.
# Target: kvmplan ≤ 2.5× the C launcher.
#
# Usage: Benchmarks/launch/run.sh        RUNS=N (default 200) runs per command; KVMPLAN=path to use
#                                        another kvmplan binary (default .build/release/kvmplan, built
#                                        with `swift build -c release --static-swift-stdlib --disable-local-rpath` if missing).
# Needs /dev/kvm (root). Installs hyperfine with apt-get when it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
KVMPLAN=${KVMPLAN:-.build/release/kvmplan}
if [ ! -x "$KVMPLAN" ]; then
    swift build -c release --static-swift-stdlib --disable-local-rpath
fi
make -s -C Benchmarks/c-launch

manifest=Manifests/hello-long.yaml
payload=Examples/guests/hello-long.bin
# Both must run the guest to its end before their times mean anything.
if ! out=$("$KVMPLAN" launch "$manifest" 2>&1) || [ "$out" != "Hello from long mode" ]; then
    echo "kvmplan launch $manifest does not run here:" >&2
    echo "$out" >&2
    exit 1
fi
[ "$(Benchmarks/c-launch/launch_hello "$payload")" = "Hello from long mode" ]

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
hyperfine -N --style basic --warmup 20 --runs "${RUNS:-200}" --export-json "$work/launch.json" \
    -n "C launcher" "Benchmarks/c-launch/launch_hello $payload" \
    -n "kvmplan launch" "$KVMPLAN launch $manifest" >&2
python3 Benchmarks/summarize.py "$work/launch.json" "C launcher"
python3 - "$work/launch.json" <<'PY'
import json, statistics, sys
r = {x["command"]: statistics.median(x["times"]) for x in json.load(open(sys.argv[1]))["results"]}
ratio = r["kvmplan launch"] / r["C launcher"]
print(f"kvmplan launch / C launcher = {ratio:.2f}x (target <= 2.5x): {'OK' if ratio <= 2.5 else 'ABOVE TARGET'}")
PY
