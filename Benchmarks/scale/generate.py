#!/usr/bin/env python3
"""Writes a valid default-platform manifest with N regions (2 MiB each, anonymous) to stdout."""
import sys

n = int(sys.argv[1])
out = ["kvmplan: 1", f"name: scale-{n}", "arch: x86_64", "platform: default", "memory:", "  regions:"]
for i in range(n):
    out += [f"    - name: r{i}", f"      base: {hex(i * (2 << 20))}", "      size: 2MiB", "      backing: anonymous"]
print("\n".join(out))
