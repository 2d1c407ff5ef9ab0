#!/usr/bin/env bash
# kvmplan check of 1000 small manifests in one invocation, whole process, hyperfine median.
# Baselines measured in the same run: an empty process (`true`) and, when available,
# check-jsonschema validating the same files against `kvmplan schema`.
set -euo pipefail
cd "$(dirname "$0")/../.."
KVMPLAN=${KVMPLAN:-.build/release/kvmplan}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 Benchmarks/check/generate.py "$work/m" 1000
"$KVMPLAN" schema > "$work/schema.json"
cmds=(-n kvmplan-check "$KVMPLAN check $work/m/*.yaml")
if command -v check-jsonschema >/dev/null 2>&1; then
    cmds+=(-n check-jsonschema "check-jsonschema --schemafile $work/schema.json $work/m/*.yaml")
fi
hyperfine --style basic --warmup 3 --runs ${RUNS:-20} --export-json "$work/check.json" "${cmds[@]}" >&2
python3 Benchmarks/summarize.py "$work/check.json" kvmplan-check
