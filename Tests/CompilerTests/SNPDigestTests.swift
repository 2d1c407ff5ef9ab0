import Compiler
import Foundation
import Plan
import TestSupport
import Testing

/// The expected SEV-SNP launch digest a plan carries (`measurement.snp-launch-updates`): the firmware's PAGE_INFO
/// chain over the plan's LAUNCH_UPDATE steps, checked against an independent implementation — sev-snp-measure's
/// `GCTX` (PyPI `sev-snp-measure`), fed with pages that a Python script rebuilds from the plan JSON and the payload
/// file on its own (payload bytes at their load addresses; GDT and page tables from the plan's memslots).
///
/// What the oracle covers: the page-digest chain (PAGE_INFO layout, page types NORMAL/UNMEASURED/VMSA, GPAs,
/// order), the contents of every LAUNCH_UPDATE'd page, and how LAUNCH_FINISH's VMSA pages extend the chain. The
/// VMSA pages' contents come from kvmplan's model (`SNPVMSA`, its own oracle tests in SNPVMSATests).
@Suite("SNP launch digest")
struct SNPDigestTests {
    static let python = Run.which("python3")

    static let hasOracle: Bool = {
        guard let python else { return false }
        return (try? Run.process(python, ["-c", "import sevsnpmeasure.gctx"]))?.status == 0
    }()

    /// Rebuilds every LAUNCH_UPDATE'd page from the plan JSON and the payload, and chains them with GCTX.
    static let oracle = #"""
        import json, struct, sys
        from sevsnpmeasure.gctx import GCTX
        plan = json.load(open(sys.argv[1]))
        payload = open(sys.argv[2], 'rb').read()
        mem = {}  # gpa -> byte, as the host wrote the shared side before the launch commands
        booted = False
        def write(gpa, data):
            for i, b in enumerate(data):
                mem[gpa + i] = b
        slots = [(s['args']['gpa'], s['args']['size']) for s in plan['steps'] if s['op'].startswith('KVM_SET_USER_MEMORY_REGION')]
        for s in plan['steps']:
            a = s['args']
            if s['op'] == 'load':
                off = a['file-offset']
                write(a['gpa'], payload[off:off + a['size']])
            if s['op'] == 'boot' and not booted:
                booted = True
                long = a['mode'] == 'long'
                code = 0x00af9b000000ffff if long else 0x00cf9b000000ffff
                write(0x1000, struct.pack('<3Q', 0, code, 0x00cf93000000ffff))
                if long:
                    write(0x2000, struct.pack('<Q', 0x3000 | 3))
                    pdpt = {}
                    for gpa, size in slots:
                        page = gpa & ~(2 * 1024 * 1024 - 1)
                        while page < min(gpa + size, 1 << 32):
                            gib = page >> 30
                            pdpt[gib] = (0x4000 + gib * 0x1000) | 3
                            write(0x4000 + gib * 0x1000 + ((page >> 21) & 511) * 8, struct.pack('<Q', page | 0x83))
                            page += 2 * 1024 * 1024
                    for gib, entry in pdpt.items():
                        write(0x3000 + gib * 8, struct.pack('<Q', entry))
        ctx = GCTX()
        for s in plan['steps']:
            if s.get('command') != 'KVM_SEV_SNP_LAUNCH_UPDATE':
                continue
            a = s['args']
            data = bytes(mem.get(a['gpa'] + i, 0) for i in range(a['size']))
            if a['page-type'] == 'normal':
                ctx.update_normal_pages(a['gpa'], data)
            elif a['page-type'] == 'unmeasured':
                ctx.update_unmeasured_pages(a['gpa'], len(data))
            else:
                sys.exit('page type ' + a['page-type'])
        print('sha384:' + ctx.hex_ld())
        for page in open(sys.argv[3]).read().split():
            ctx.update_vmsa_page(bytes.fromhex(page))
        print('sha384:' + ctx.hex_ld())
        """#

    /// GCTX's digest after the LAUNCH_UPDATEs, and after `vmsas` as LAUNCH_FINISH's VMSA pages.
    static func oracleDigest(_ plan: Plan, vmsas: [[UInt8]] = []) throws -> (updates: String, final: String) {
        let directory = try Run.temporaryDirectory("snp-digest")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let planFile = directory + "/plan.json"
        let script = directory + "/oracle.py"
        try plan.jsonString().write(toFile: planFile, atomically: true, encoding: .utf8)
        try oracle.write(toFile: script, atomically: true, encoding: .utf8)
        let vmsaFile = directory + "/vmsas.txt"
        try vmsas.map { HexBytes.encode($0) }.joined(separator: "\n").write(toFile: vmsaFile, atomically: true, encoding: .utf8)
        let payload = try #require(plan.payload)
        let result = try Run.process(try #require(python), [script, planFile, Repo.path(payload.path), vmsaFile])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        return (lines.first ?? "", lines.last ?? "")
    }

    static let manifests = ["sev-snp", "gen:protected", "gen:unmeasured", "gen:elf"]

    static func compile(_ name: String) throws -> Plan {
        guard name.hasPrefix("gen:") else { return try Compile.sample(name).plan }
        let kind = name.dropFirst(4)
        let payload: String
        switch kind {
        case "protected": payload = "  path: ../Examples/guests/hello-protected.bin\n  load: ram+0x100000\n  mode: protected\n"
        case "unmeasured": payload = "  path: ../Examples/guests/memtest.bin\n  load: ram+0x100000\n  mode: long\n  measured: false\n"
        default: payload = "  format: elf\n  path: ../Examples/guests/hello-long.elf\n  mode: long\n"
        }
        let yaml = """
            kvmplan: 1
            name: digest
            arch: x86_64
            platform: sev-snp
            memory:
              regions:
                - {name: ram, base: 0x0, size: 8MiB, access: convertible}
                - {name: high, base: 0x40000000, size: 2MiB, access: convertible}
            payload:
            \(payload)
            """
        return try Compile.bytes(Array(yaml.utf8), file: "Manifests/digest.yaml").plan
    }

    @Test(
        "the plan's SNP launch digests equal sev-snp-measure's GCTX over independently rebuilt pages, then the VMSA pages",
        .enabled(if: hasOracle, "sev-snp-measure is not installed: pip install sev-snp-measure (the oracle of this test)"),
        arguments: manifests)
    func matchesGCTX(manifest: String) throws {
        let plan = try Self.compile(manifest)
        let measurement = try #require(plan.measurement)
        let vmsas = try #require(SNPVMSA.pages(plan.steps))
        let oracle = try Self.oracleDigest(plan, vmsas: vmsas)
        #expect(oracle.updates == measurement.snpLaunchUpdates)
        #expect(oracle.final == measurement.snpLaunchDigest)
    }

    @Test("the PAGE_INFO chain of one NORMAL and one ZERO page, against values computed by sev-snp-measure 0.0.13")
    func knownChain() {
        // python3 -c 'from sevsnpmeasure.gctx import GCTX; g = GCTX(); g.update_normal_pages(0x1000, bytes(range(256)) * 16);
        //             g.update_zero_pages(0x2000, 4096); print(g.hex_ld())'
        var digest = SNPLaunchDigest()
        digest.updateNormalPages(gpa: 0x1000, data: Array((0..<4096).map { UInt8($0 & 0xff) }))
        digest.updateUnhashedPages(pageType: 3, gpa: 0x2000, size: 4096)
        #expect(digest.text == Self.knownChainValue)
    }

    static let knownChainValue = "sha384:41abe912edf6b601e54bc0ee72b38a80d58e75adc5139d3ea845d3c77ae30a3c1b3fd0bc3759ff4dc65b5d514cecff49"

    @Test("the digest is in the plan's text and JSON, and a diff reports its change as a measurement finding")
    func renderedAndDiffed() throws {
        let plan = try Compile.sample("sev-snp").plan
        let digest = try #require(plan.measurement?.snpLaunchDigest)
        #expect(PlanTextRenderer().render(plan).contains("# measurement: SNP launch digest \(digest)\n"))
        #expect(try Plan(json: plan.jsonString()).measurement == plan.measurement)
        let other = try Self.compile("gen:protected")
        var b = plan
        b.measurement = other.measurement
        let diff = PlanDiffer.diff(plan, b)
        #expect(diff.findings.contains { $0.risk == .measurement && $0.message.hasPrefix("expected SNP launch digest changes") })
    }

    @Test("no digest where it would depend on the host: long mode with RAM above 4 GiB (1 GiB pages)")
    func noDigestAbove4GiB() throws {
        let yaml = """
            kvmplan: 1
            name: big
            arch: x86_64
            platform: sev-snp
            memory:
              regions:
                - {name: ram, base: 0x0, size: 8MiB, access: convertible}
                - {name: high, base: 0x100000000, size: 2MiB, access: convertible}
            payload:
              path: ../Examples/guests/hello-long.bin
              load: ram+0x100000

            """
        #expect(try Compile.bytes(Array(yaml.utf8), file: "Manifests/big.yaml").plan.measurement == nil)
    }
}
