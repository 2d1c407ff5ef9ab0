#!/usr/bin/env python3
"""Turns the plan of Tests/Lab/manifests/memfault.yaml into a hand-edited one that marks the MMIO hole at
0xfff000 PRIVATE: a private gfn without guest_memfd, the one thing that makes a sw-protected guest's access
raise KVM_EXIT_MEMORY_FAULT (no manifest can produce it). The payload path is made relative to the plan's
directory. The plan's sha256 is recomputed over the canonical form (sorted keys, compact), as kvmplan does.

usage: make-memfault-plan.py PLAN.json OUT.json PAYLOAD-PATH-RELATIVE-TO-OUT
"""
import hashlib
import json
import sys

plan = json.load(open(sys.argv[1]))
steps = plan["steps"]
at = next(i for i, s in enumerate(steps) if s["id"] == "attr.ram") + 1
steps.insert(at, {
    "args": {"attributes": ["PRIVATE"], "gpa": 0xFFF000, "size": 0x1000},
    "fd": "%vm", "id": "attr.hole", "op": "KVM_SET_MEMORY_ATTRIBUTES", "uapi": "merged",
})
plan["payload"]["path"] = sys.argv[3]
plan.pop("sha256")
canonical = json.dumps(plan, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
plan["sha256"] = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
with open(sys.argv[2], "w") as out:
    json.dump(plan, out, sort_keys=True, indent=2)
    out.write("\n")
