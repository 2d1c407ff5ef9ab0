#!/usr/bin/env python3
"""Turns the lab kernel's `kvmplan probe --format json` into the committed host profile: the same JSON, with
notes that say where and how it was measured.

usage: profile.py PROBE.json KERNEL-VERSION KERNEL-CONFIG-FRAGMENT
"""
import hashlib
import json
import sys

probe = json.load(open(sys.argv[1]))
config = open(sys.argv[3], "rb").read()
probe["notes"] = [
    "Measured, not hand-written: `kvmplan probe --format json` inside the private-memory lab (Tests/Lab/run), "
    "re-checked by every lab run.",
    f"Kernel: Linux {sys.argv[2]} from Debian's linux-source-6.12 package, `make tinyconfig` plus "
    f"Tests/Lab/kernel.config (sha256 {hashlib.sha256(config).hexdigest()[:16]}…): KVM, KVM_AMD, KVM_SW_PROTECTED_VM.",
    "Machine: QEMU TCG `-machine pc -cpu max -smp 2 -m 2G`, which emulates AMD SVM with nested paging; "
    "so this /dev/kvm is a real KVM (kvm_amd, TDP MMU), nested under an emulator.",
    "6.12 has guest_memfd, memory attributes and KVM_X86_SW_PROTECTED_VM, but not the 6.18 guest_memfd flags "
    "(KVM_CAP_GUEST_MEMFD_FLAGS = 0: no MMAP, no INIT_SHARED).",
] + [n for n in probe.get("notes", []) if not n.startswith("Captured by")]
json.dump(probe, sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
sys.stdout.write("\n")
