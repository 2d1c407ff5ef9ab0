import Compiler
import Foundation
import Plan
import Testing

/// The smallest manifests that reproduce each bug the generated corpus found (see `KnownIssues`), asserting the
/// expected behaviour under `withKnownIssue` so the suite stays green until the owners fix them.
@Suite("Known bugs, reproduced")
struct KnownBugTests {
    static func compile(_ yaml: String, file: String = "Manifests/repro.yaml", files: RepoFileAccess = RepoFileAccess()) throws -> Compiled {
        try Compile.bytes(Array(yaml.utf8), file: file, files: files)
    }

    // MARK: - Launch-command source is a guest_memfd mmap

    /// A convertible, initially private region whose guest_memfd is mmap'able (allowed: only init-shared is
    /// refused on these platforms) receiving the measured payload. TDX takes a firmware image ending at 4 GiB (a TD
    /// starts at the reset vector); SNP a real-mode image (no launcher boot area, which would need a host-writable
    /// shared side: payload.snp-boot-area).
    static func mmapConvertible(_ platform: String) -> String {
        let arm = platform == "cca"
        let tdx = platform == "tdx"
        let payload =
            tdx
            ? "  format: firmware\n  path: ../Examples/guests/tdx-hello.bin\n"
            : arm
                ? "  path: ../Examples/guests/hello-long.bin\n  load: ram+0x100000\n"
                : "  path: ../Examples/guests/hello-real.bin\n  load: ram+0x8000\n  mode: real\n"
        return """
            kvmplan: 1
            name: repro
            arch: \(arm ? "arm64" : "x86_64")
            platform: \(platform)
            \(tdx ? "gpa-bits: 48" : arm ? "gpa-bits: 40" : "vcpus: 1")
            memory:
              regions:
                - name: ram
                  base: \(arm ? "0x80000000" : tdx ? "0xffc00000" : "0x0")
                  size: \(tdx ? "4MiB" : "64MiB")
                  access: convertible
                  initial: private
                  backing: guest-memfd
                  guest-memfd: { mmap: true }
            sharing:
              convertible: [ram]
            payload:
            \(payload)  measured: true

            """
    }

    @Test("SNP/TDX/CCA: the launch command's source is host-readable memory, not a guest_memfd mmap", arguments: ["sev-snp", "tdx", "cca"])
    func populateSourceIsNotGuestMemfdMmap(platform: String) throws {
        let compiled = try Self.compile(Self.mmapConvertible(platform))
        let populates = PlanRules.populates(compiled.plan)
        #expect(populates.count == 1)
        do {
            // Observed: source %map.ram, defined by `mmap %gmem.ram` (flags MMAP, no INIT_SHARED).
            #expect(PlanRules.populateSourceRules(compiled.plan) == [])
            #expect(PlanRules.loadRules(compiled.plan) == [])
        }
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
        "SNP: ELF segments that share a 4 KiB page populate it once (unmeasured: a measured one must be page-aligned)",
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
        withKnownIssue(KnownIssues.elfSegmentsSharingAPage) {
            // Observed: two populate steps (…payload.0, …payload.1) of gpa 0x100000, size 4KiB.
            #expect(PlanRules.populateOverlapRules(compiled.plan) == [])
            #expect(PlanRules.populates(compiled.plan).count == 1)
        }
    }

    // MARK: - Payload written through a guest_memfd mmap without INIT_SHARED

    @Test("a payload in a guest_memfd region mmap'ed without init-shared is refused by check, or loaded elsewhere", arguments: ["x86_64", "arm64"])
    func loadIntoGuestMemfdMmap(arch: String) throws {
        let x86 = arch == "x86_64"
        let yaml = """
            kvmplan: 1
            name: repro
            arch: \(arch)
            platform: default
            memory:
              regions:
                - name: ram
                  base: 0x0
                  size: 4MiB
                  backing: guest-memfd
                  guest-memfd: { mmap: true, init-shared: false }
            payload:
              path: ../Examples/guests/hello-long.bin
              load: ram+0x100000
            \(x86 ? "  mode: long\n" : "")
            """
        let pipeline = CompilerPipeline(files: RepoFileAccess())
        let (checked, _) = pipeline.check(bytes: Array(yaml.utf8), file: "Manifests/repro.yaml")
        do {
            // Observed: accepted, and `load %map.ram` writes the mmap of %gmem.ram (flags MMAP only).
            if let checked {
                #expect(PlanRules.loadRules(Lowering().lower(checked)) == [])
            }
        }
    }

    // MARK: - Differ

    @Test("the differ shows a field that changes from an empty list as [] rather than (none)")
    func emptyListField() throws {
        let a = try Compile.file("Manifests/diff/compatibility-readonly.a.yaml").plan
        let b = try Compile.file("Manifests/diff/compatibility-readonly.b.yaml").plan
        let change = try #require(PlanDiffer.diff(a, b).changes.first { $0.id == "slot.rom" })
        let flags = try #require(change.fields.first { $0.name == "args.flags" })
        #expect(flags.after == "[\"READONLY\"]")
        do {
            // Observed: before is nil, shown as "(none)", although slot.rom's flags are [] in plan A.
            #expect(flags.before == "[]")
        }
    }
}
