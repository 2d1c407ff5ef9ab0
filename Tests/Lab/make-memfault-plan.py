#!/usr/bin/env python3
"""Turns the plan of Tests/Lab/manifests/memfault.yaml into a hand-edited one that marks the MMIO hole at
0xfff000 PRIVATE: a private gfn without guest_memfd, the one thing that makes a sw-protected guest's access
raise KVM_EXIT_MEMORY_FAULT (no manifest can produce it). The payload path is made relative to the plan's
directory. The plan's sha256 is recomputed as kvmplan computes it (Plan+JSON.swift, `executablePart`): over the
compact canonical form (sorted keys) of what executes, without sources, comments, the manifest digest and the
payload (and initrd) path.

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


def executable_part(plan):
    def dropping(keys, value):
        return {k: v for k, v in value.items() if k not in keys} if isinstance(value, dict) else value
    part = {k: v for k, v in plan.items() if k not in ("sha256", "manifest")}
    requires = dict(part["requires"])
    for key in ("vm-type", "guest-memfd-flags"):
        if key in requires:
            requires[key] = dropping(("source",), requires[key])
    if isinstance(requires.get("capabilities"), dict):
        requires["capabilities"] = {k: dropping(("source",), v) for k, v in requires["capabilities"].items()}
    part["requires"] = requires
    part["steps"] = [dropping(("source", "comment"), s) for s in part["steps"]]
    part["handlers"] = [dropping(("source",), h) for h in part["handlers"]]
    if part.get("payload") is not None:
        part["payload"] = dropping(("source", "path"), part["payload"])
        if isinstance(part["payload"].get("initrd"), dict):  # a Linux plan's initrd: its path does not execute
            part["payload"]["initrd"] = dropping(("path",), part["payload"]["initrd"])
    return part


canonical = json.dumps(executable_part(plan), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
plan["sha256"] = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
with open(sys.argv[2], "w") as out:
    json.dump(plan, out, sort_keys=True, indent=2)
    out.write("\n")
