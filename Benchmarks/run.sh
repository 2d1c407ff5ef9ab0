#!/usr/bin/env bash
# Runs every kvmplan benchmark side by side with its baselines (whole processes, hyperfine medians)
# and prints one table of medians, ratios and targets. Installs what it needs when it is missing.
# Usage: Benchmarks/run.sh            (RUNS=N to change the number of runs per command)
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v as >/dev/null || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
command -v check-jsonschema >/dev/null || python3 -m pip install --quiet check-jsonschema
[ -x .build/release/kvmplan ] || swift build -c release --static-swift-stdlib --disable-local-rpath
make -s -C Benchmarks/c-launch
make -s -C Benchmarks/qemu
exec python3 Benchmarks/run.py "$@"
