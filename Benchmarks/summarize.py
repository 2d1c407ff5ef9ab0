#!/usr/bin/env python3
"""Prints medians from a hyperfine --export-json file and each command's ratio to a baseline command."""
import json, statistics, sys

def main():
    data = json.load(open(sys.argv[1]))["results"]
    base_name = sys.argv[2]
    medians = {r["command"]: statistics.median(r["times"]) for r in data}
    base = medians[base_name]
    for name, m in medians.items():
        print(f"{name:28s} median {m * 1000:9.2f} ms   ratio to {base_name}: {m / base:6.2f}x")

if __name__ == "__main__":
    main()
