#!/usr/bin/env python3
"""Wraps a kvmplan TDX plan's KVM_TDX_INIT_MEM_REGION pages in a TDVF image, for an independent MRTD check.

    tdvf-wrap.py PLAN.json PAYLOAD OUT.tdvf

The image holds one TDVF metadata section per INIT_MEM_REGION step, in step order (GPA, whole pages, the bytes the
host staged: the payload at its load offsets, zeros elsewhere; attribute MR.EXTEND when the step measures), the
TDVF metadata (GUID E9EAF9F3-168E-44D5-A8EB-7F4D8738F6AE, "TDVF", version 1, 32-byte section entries) after the
data, and its offset + 16 as a u32 at 0x20 bytes before the end (the TDVF descriptor pointer). Any TDVF-reading
MRTD tool can then measure it; Tests/CompilerTests/TDXMRTDTests.swift records what td-shim's
td-shim-tools/src/bin/td-shim-tee-info-hash/td_shim_tee_info_hash.py (confidential-containers/td-shim @125eeab)
prints for such images:  python3 td_shim_tee_info_hash.py -i OUT.tdvf -l off
"""
import json
import struct
import sys

plan = json.load(open(sys.argv[1]))
payload = open(sys.argv[2], 'rb').read()
maps = {}  # staging mapping -> {offset: byte}
sections = []
for step in plan['steps']:
    args = step['args']
    if step['op'] == 'load':
        mem = maps.setdefault(step['fd'], {})
        for i, b in enumerate(payload[args['file-offset']:args['file-offset'] + args['size']]):
            mem[args['offset'] + i] = b
    if step.get('command') == 'KVM_TDX_INIT_MEM_REGION':
        mem = maps.get(args['source']['map'], {})
        start, size = args['source']['offset'], args['nr-pages'] * 4096
        data = bytes(mem.get(start + i, 0) for i in range(size))
        sections.append((args['gpa'], data, 1 if args['measure'] else 0))

image = b''
entries = b''
for gpa, data, attributes in sections:
    entries += struct.pack('<IIQQII', len(image), len(data), gpa, len(data), 0, attributes)  # type 0: BFV
    image += data
guid = struct.pack('<IHH', 0xE9EAF9F3, 0x168E, 0x44D5) + bytes([0xA8, 0xEB, 0x7F, 0x4D, 0x87, 0x38, 0xF6, 0xAE])
metadata_offset = len(image)
image += guid + struct.pack('<4sIII', b'TDVF', 16 + len(entries), 1, len(sections)) + entries
image += bytes(0x40)
image = bytearray(image)
struct.pack_into('<I', image, len(image) - 0x20, metadata_offset + 16)
open(sys.argv[3], 'wb').write(bytes(image))
