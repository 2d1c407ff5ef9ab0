#!/bin/sh
# Reads a `swift test` log and prints, once each, the tests that passed *with known issues* — bugs that are
# reproduced by a withKnownIssue test and not fixed yet — so a reader of the log knows that the "known
# issue" lines above are expected, not failures. Ends with the log's own closing line, so it stays last.
# Usage: Scripts/known-issues.sh TEST.LOG
set -eu
log=$1
known=$(grep -E '^. Test ".*" (with [0-9]+ test cases )?(passed|failed) after .* with [0-9]+ known issues?\.$' "$log" || true)
if [ -n "$known" ]; then
    echo
    echo "Known issues (expected; each is a reproduced bug kept as a withKnownIssue test, not a failure):"
    printf '%s\n' "$known" | sed -E 's/^. Test "(.*)" (with [0-9]+ test cases )?(passed|failed) after [0-9.]+ seconds with ([0-9]+) known issues?\.$/  - \1 (\4)/'
fi
grep -E '^. Test run with [0-9]+ tests? .*' "$log" | tail -n 1
