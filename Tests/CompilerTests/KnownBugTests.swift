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
