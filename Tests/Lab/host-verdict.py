#!/usr/bin/env python3
"""Prints PASS or FAIL with a reason for one manifest checked against the lab kernel's host profile:
x86 default and sw-protected manifests must pass, except those that need the 6.18 guest_memfd flags (MMAP,
INIT_SHARED), which 6.12 lacks; every other manifest must fail, and only because of the host: the same
manifest checked without --host has no error.

usage: host-verdict.py MANIFEST CHECK-WITHOUT-HOST.json < CHECK-WITH-HOST.json
"""
import json
import re
import sys

text = open(sys.argv[1]).read()
arch = re.search(r"^arch:\s*(\S+)", text, re.M).group(1)
platform = re.search(r"^platform:\s*(\S+)", text, re.M).group(1)
needs_618_flags = re.search(r"mmap:\s*true", text) is not None
runnable = arch == "x86_64" and platform in ("default", "sw-protected") and not needs_618_flags

try:
    report = json.load(sys.stdin)
except ValueError:
    print("FAIL check printed no JSON")
    sys.exit(0)
errors = [d for d in report["diagnostics"] if d["severity"] == "error"]
ids = sorted({d["id"] for d in errors})
try:
    alone = json.load(open(sys.argv[2]))
except ValueError:
    print("FAIL check without --host printed no JSON")
    sys.exit(0)
if alone["errors"] != 0:
    print(f"FAIL the manifest has errors without --host: {alone['errors']}")
    sys.exit(0)
if runnable:
    print("PASS runs here" if not errors else f"FAIL expected no errors, got {ids}")
elif not errors:
    print("FAIL expected host.* errors, got none")
else:
    print(f"PASS refused: {' '.join(ids)}")
