#!/usr/bin/env python3
"""Writes N small, valid, varied manifests (default-platform guests with 1-4 regions) into DIR."""
import os, random, sys

def main():
    out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    os.makedirs(out, exist_ok=True)
    rng = random.Random(1)  # fixed seed: the same files every run
    for i in range(n):
        regions, base = [], 0
        for r in range(rng.randint(1, 4)):
            size = rng.choice([2, 4, 8, 16, 64])
            regions.append(f"    - name: r{r}\n      base: {hex(base)}\n      size: {size}MiB\n      backing: anonymous\n")
            base += size << 20
        with open(os.path.join(out, f"m{i:04}.yaml"), "w") as f:
            f.write(f"kvmplan: 1\nname: guest-{i}\narch: x86_64\nplatform: default\nvcpus: {rng.randint(1, 8)}\n"
                    "memory:\n  regions:\n" + "".join(regions))

if __name__ == "__main__":
    main()
