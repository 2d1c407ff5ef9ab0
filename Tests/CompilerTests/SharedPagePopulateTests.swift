import Compiler
import Foundation
import Plan
import Testing

/// ELF segments that share a 4 KiB page (a bug fixed in the lowering, once a known issue): a page can be added to
/// private memory only once (SNP LAUNCH_UPDATE needs a page whose RMP entry is still shared; TDX cannot add a page
/// twice; KVM_UAPI.md §3.1, §3.2), so the lowering groups such segments: one source holding both, one populate.
@Suite("Shared-page payload segments")
struct SharedPagePopulateTests {
    static func compile(_ yaml: String, files: RepoFileAccess) throws -> Compiled {
        try Compile.bytes(Array(yaml.utf8), file: "Manifests/repro.yaml", files: files)
    }

    // MARK: - ELF segments sharing a page

    /// An x86_64 ELF with two PT_LOAD segments in the page at 0x100000: 0x80 bytes at 0x100000 and 0x40 at 0x100100.
    static let sharedPageELF: [UInt8] = {
        let segments: [(paddr: UInt64, size: UInt64)] = [(0x10_0000, 0x80), (0x10_0100, 0x40)]
        var bytes = [UInt8](repeating: 0, count: 64 + 56 * segments.count)
        func put(_ value: UInt64, at offset: Int, width: Int) {
            for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        }
        bytes.replaceSubrange(0..<7, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1])
        put(2, at: 16, width: 2)
        put(62, at: 18, width: 2)
        put(1, at: 20, width: 4)
        put(0x10_0000, at: 24, width: 8)
        put(64, at: 32, width: 8)
        put(64, at: 52, width: 2)
        put(56, at: 54, width: 2)
        put(UInt64(segments.count), at: 56, width: 2)
        var offset = UInt64(bytes.count)
        for (i, segment) in segments.enumerated() {
            let ph = 64 + 56 * i
            put(1, at: ph, width: 4)
            put(5, at: ph + 4, width: 4)
            put(offset, at: ph + 8, width: 8)
            put(segment.paddr, at: ph + 16, width: 8)
            put(segment.paddr, at: ph + 24, width: 8)
            put(segment.size, at: ph + 32, width: 8)
            put(segment.size, at: ph + 40, width: 8)
            offset += segment.size
        }
        for segment in segments { bytes += [UInt8](repeating: 0xF4, count: Int(segment.size)) }
        return bytes
    }()

    @Test(
        "SNP: ELF segments that share a 4 KiB page populate it once, from one source holding both",
        // TDX takes no ELF payload (a TD starts at the reset vector: payload.tdx-reset-vector).
        arguments: [("sev-snp", "convertible"), ("sev-snp", "private")])
    func sharedPagePopulatedOnce(platform: String, access: String) throws {
        let yaml = """
            kvmplan: 1
            name: repro
            arch: x86_64
            platform: \(platform)
            memory:
              regions:
                - name: boot         # the launcher's boot area, LAUNCH_UPDATE'd from its shared side
                  base: 0x0
                  size: 1MiB
                  access: convertible
                  initial: private
                  backing: guest-memfd
                - name: ram
                  base: 0x100000
                  size: 63MiB
                  access: \(access)\(access == "convertible" ? "\n      initial: private" : "")
                  backing: guest-memfd
            payload:
              format: elf
              path: two-segments.elf
              mode: long
              measured: false

            """
        let files = RepoFileAccess(virtual: ["Manifests/two-segments.elf": Self.sharedPageELF])
        let compiled = try Self.compile(yaml, files: files)
        #expect(PlanRules.populateRules(compiled.plan) == [])
        #expect(PlanRules.populateOverlapRules(compiled.plan) == [])
        // One LAUNCH_UPDATE of the page at 0x100000 (the other populate is the boot area at 0x1000).
        let payload = PlanRules.populates(compiled.plan).filter { $0.gpa >= 0x10_0000 }
        #expect(payload.map(\.gpa) == [0x10_0000] && payload.map(\.size) == [4096])
        // Both segments are written into the one source the launch command reads, at their offsets in the page.
        let loads = compiled.plan.steps.compactMap { step -> LoadPayloadStep? in
            if case .loadPayload(let it) = step.operation { it } else { nil }
        }
        let source = try #require(payload.first?.source)
        #expect(loads.map(\.into) == [source, Address(source.map, offset: source.offset + 0x100)])
        #expect(compiled.plan.measurement?.snpLaunchDigest != nil)
    }

}
