#!/usr/bin/env bash
# Boot-to-init time of a Linux guest: kvmplan vs QEMU microvm (`-kernel … -initrd …`), the same kernel, initrd
# and command line on the same KVM, in the same run. That KVM is the private-memory lab's (Tests/Lab/run): a
# real kvm_amd nested under QEMU TCG, since this machine's own KVM cannot boot Linux (LAB.md). The lab boots
# with Benchmarks/linux-boot/init, which alternates the two VMMs RUNS times and prints one line per boot.
#
# Usage: Benchmarks/linux-boot/run.sh      RUNS=N boots per VMM (default 5)
# Prints each VMM's median wall time from its start to its exit (the guest reboots right after its init's
# marker), the guest's own uptime at init, and the ratio kvmplan / QEMU (target: at most 0.5).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/kvmplan-linux-boot.XXXXXX)
trap 'rm -rf "$work"' EXIT
sed "s/@RUNS@/${RUNS:-5}/" Benchmarks/linux-boot/init > "$work/init"
chmod 755 "$work/init"
LAB_INIT="$work/init" LAB_WITH_QEMU=1 LAB_CONSOLE="$work/console.txt" Tests/Lab/run > "$work/lab.out" 2>&1 || true
if ! grep -q '^BENCH ' "$work/console.txt" 2>/dev/null; then
    echo "linux-boot: no results; the lab's output:" >&2
    cat "$work/lab.out" >&2
    exit 1
fi
python3 - "$work/console.txt" <<'PY'
import re, statistics, sys
runs = {}
failed = []
for line in open(sys.argv[1]):
    m = re.match(r"BENCH (\S+) (\d+) seconds=([\d.]+) guest-uptime=(\S+) (ok|FAIL)", line)
    if not m:
        continue
    vmm, n, seconds, uptime, verdict = m.groups()
    if verdict != "ok":
        failed.append(f"{vmm} #{n}")
        continue
    runs.setdefault(vmm, []).append((float(seconds), float(uptime) if uptime != "?" else None))
print(f"{'Linux boot to init (lab: KVM nested under QEMU TCG)':52} {'median':>8} {'min':>7} {'max':>7}  {'guest uptime at init':>20}  runs")
for vmm in ("kvmplan", "qemu-microvm"):
    r = runs.get(vmm, [])
    if not r:
        print(f"{vmm:52} (no successful boot)")
        continue
    secs = [s for s, _ in r]
    ups = [u for _, u in r if u is not None]
    up = f"{statistics.median(ups):.2f} s" if ups else "?"
    print(f"{vmm:52} {statistics.median(secs):7.2f}s {min(secs):6.2f}s {max(secs):6.2f}s  {up:>20}  {len(r)}")
if failed:
    print("failed boots: " + ", ".join(failed))
if runs.get("kvmplan") and runs.get("qemu-microvm"):
    k = statistics.median(s for s, _ in runs["kvmplan"])
    q = statistics.median(s for s, _ in runs["qemu-microvm"])
    ratio = k / q
    print(f"kvmplan / QEMU microvm = {ratio:.2f} (target <= 0.50): {'OK' if ratio <= 0.5 else 'ABOVE TARGET'}")
PY
