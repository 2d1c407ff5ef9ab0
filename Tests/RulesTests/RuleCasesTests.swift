import Compiler
import Diagnostics
import Manifest
import Rules
import TestSupport
import Testing

/// Every rule of the catalogue with an invalid case (the rule's id at the marked place) and a valid case
/// (no diagnostic with the rule's id), table-driven (STYLE rule 10).
@Suite("Rule cases")
struct RuleCasesTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var id: String
        var invalid: String
        var expected: [DiagnosticSpec]
        var valid: String
        var files = FakeFiles()
        var host: HostProfile? = nil
        var testDescription: String { name }

        init(
            _ name: String, _ id: String, invalid: String, expect expected: [DiagnosticSpec]? = nil, valid: String,
            files: FakeFiles = FakeFiles(), host: HostProfile? = nil
        ) {
            self.name = name
            self.id = id
            self.invalid = invalid
            self.expected = expected ?? [DiagnosticSpec(id)]
            self.valid = valid
            self.files = files
            self.host = host
        }
    }

    // MARK: Building blocks

    /// Segments at 0x100000 (16 bytes), 0x101000 (16 bytes, then .bss up to `bss`) and 0x102000 (16 bytes), in
    /// that order: with `bss` 0x2000 the second covers the third; the first and second share no byte but a page
    /// with nothing, which is allowed.
    static func threeSegments(bss: UInt64) -> ELFBuilder {
        let code = [UInt8](repeating: 0x90, count: 16)
        return ELFBuilder(
            entry: 0x100000,
            segments: [
                .init(physicalAddress: 0x100000, contents: code), .init(physicalAddress: 0x101000, contents: code, memorySize: bss),
                .init(physicalAddress: 0x102000, contents: code),
            ])
    }

    static let ram = "    - {name: ram, base: 0x0, size: 2MiB}"
    static let gmemShared = "backing: guest-memfd, guest-memfd: {mmap: true, init-shared: true}"
    static let payload = "payload:\n  path: g.bin\n  load: ram+0x100000\n"

    /// `count` 4 KiB regions r0, r1, …, with 1️⃣ before the name of region `marked`.
    static func manyRegions(_ count: Int, marked: Int? = nil) -> String {
        (0..<count).map { n in
            "    - {name: \(n == marked ? "1️⃣" : "")r\(n), base: \(ManifestInteger.formatHex(UInt64(n) << 12)), size: 4KiB}"
        }.joined(separator: "\n")
    }

    // MARK: Layout

    static let layout: [Case] = [
        Case(
            "memory.duplicate-name", "memory.duplicate-name",
            invalid: manifest(regions: ram + "\n    - {name: 1️⃣ram, base: 0x200000, size: 2MiB}"),
            expect: [DiagnosticSpec("memory.duplicate-name", message: "already used by regions[0]", note: "first used here")],
            valid: manifest(regions: ram + "\n    - {name: ram2, base: 0x200000, size: 2MiB}")),
        Case(
            "memory.zero-size", "memory.zero-size",
            invalid: manifest(regions: "    - {name: ram, base: 0x0, size: 1️⃣0}"),
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 4KiB}")),
        Case(
            "memory.overflow", "memory.overflow",
            invalid: manifest(regions: "    - {name: top, base: 0xffff_ffff_ffff_f000, size: 1️⃣8KiB}"),
            valid: manifest(regions: "    - {name: top, base: 0xffff_ffff_ffff_e000, size: 4KiB}")),
        Case(
            "memory.alignment (base)", "memory.alignment",
            invalid: manifest(regions: "    - {name: ram, base: 1️⃣0x1800, size: 8KiB}"),
            expect: [DiagnosticSpec("memory.alignment", message: "base 0x1800 is not aligned to the 4KiB page size")],
            valid: manifest(regions: "    - {name: ram, base: 0x2000, size: 8KiB}")),
        Case(
            "memory.alignment (size)", "memory.alignment",
            invalid: manifest(regions: "    - {name: ram, base: 0x0, size: 1️⃣6000}"),
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 8192}")),
        Case(
            "memory.alignment (host with 64 KiB pages)", "memory.alignment",
            invalid: manifest(arch: "arm64", regions: "    - {name: ram, base: 1️⃣0x8000_1000, size: 64KiB}"),
            expect: [DiagnosticSpec("memory.alignment", message: "64KiB page size")],
            valid: manifest(arch: "arm64", regions: "    - {name: ram, base: 0x8001_0000, size: 64KiB}"),
            host: makeHost(arch: "arm64", pageSize: 65536)),
        Case(
            "memory.hugepage-alignment (2 MiB base)", "memory.hugepage-alignment",
            invalid: manifest(regions: "    - {name: ram, base: 1️⃣0x1000, size: 2MiB, backing: hugetlb-2m}"),
            valid: manifest(regions: "    - {name: ram, base: 0x200000, size: 4MiB, backing: hugetlb-2m}")),
        Case(
            "memory.hugepage-alignment (1 GiB size)", "memory.hugepage-alignment",
            invalid: manifest(regions: "    - {name: ram, base: 0x0, size: 1️⃣2MiB, backing: hugetlb-1g}"),
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 1GiB, backing: hugetlb-1g}")),
        Case(
            "memory.huge-alignment", "memory.huge-alignment",
            invalid: manifest(regions: "    - {name: ram, base: 1️⃣0x1000, size: 4MiB, \(gmemShared)}"),
            valid: manifest(regions: "    - {name: ram, base: 0x200000, size: 4MiB, \(gmemShared)}")),
        Case(
            "memory.overlap", "memory.overlap",
            invalid: manifest(regions: ram + "\n    - {name: dma, base: 1️⃣0x100000, size: 2MiB}"),
            expect: [
                DiagnosticSpec(
                    "memory.overlap", message: "region 'dma' overlaps 'ram' (0x10_0000..0x1f_ffff)", note: "'ram' is declared here")
            ],
            valid: manifest(regions: ram + "\n    - {name: dma, base: 0x200000, size: 2MiB}")),
        Case(
            "memory.overlap (declared in reverse order)", "memory.overlap",
            invalid: manifest(regions: "    - {name: hi, base: 1️⃣0x100000, size: 2MiB}\n" + ram),
            expect: [DiagnosticSpec("memory.overlap", message: "region 'hi' overlaps 'ram'")],
            valid: manifest(regions: "    - {name: hi, base: 0x200000, size: 2MiB}\n" + ram)),
        Case(
            "memory.overlap (two regions inside a large one)", "memory.overlap",
            invalid: manifest(
                regions: """
                        - {name: big, base: 0x0, size: 16MiB}
                        - {name: a, base: 1️⃣0x100000, size: 1MiB}
                        - {name: b, base: 2️⃣0x400000, size: 1MiB}
                    """),
            expect: [
                DiagnosticSpec("memory.overlap", at: "1️⃣", message: "'a' overlaps 'big'"),
                DiagnosticSpec("memory.overlap", at: "2️⃣", message: "'b' overlaps 'big'"),
            ],
            valid: manifest(
                regions: """
                        - {name: big, base: 0x0, size: 1MiB}
                        - {name: a, base: 0x100000, size: 1MiB}
                        - {name: b, base: 0x400000, size: 1MiB}
                    """)),
        Case(
            "memory.overlap (an MMIO hole inside RAM)", "memory.overlap",
            invalid: manifest(regions: ram + "\n    - {name: uart, base: 1️⃣0x1000, size: 4KiB, backing: none}"),
            valid: manifest(regions: ram + "\n    - {name: uart, base: 0x200000, size: 4KiB, backing: none}")),
        Case(
            "memory.memslot-limit (x86_64: 32764)", "memory.memslot-limit",
            invalid: manifest(regions: manyRegions(32765, marked: 32764)),
            expect: [DiagnosticSpec("memory.memslot-limit", message: "32765 regions need memslots but KVM allows 32764")],
            valid: manifest(regions: manyRegions(32764))),
        Case(
            "memory.memslot-limit (host profile)", "memory.memslot-limit",
            invalid: manifest(regions: manyRegions(3, marked: 2)),
            valid: manifest(regions: manyRegions(2)),
            host: makeHost(maxMemslots: 2)),
        Case(
            "memory.slot-pages", "memory.slot-pages",
            invalid: manifest(regions: "    - {name: ram, base: 0x0, size: 1️⃣8TiB}"),
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 4TiB}")),
        Case(
            "memory.gpa-width (x86_64 default 48 bits)", "memory.gpa-width",
            invalid: manifest(regions: "    - {name: high, base: 1️⃣0x1_0000_0000_0000, size: 4KiB}"),
            valid: manifest(regions: "    - {name: high, base: 0xffff_ffff_f000, size: 4KiB}")),
        Case(
            "memory.gpa-width (arm64 default 40 bits)", "memory.gpa-width",
            invalid: manifest(arch: "arm64", regions: "    - {name: high, base: 1️⃣0xff_ffff_f000, size: 8KiB}"),
            valid: manifest(arch: "arm64", top: "gpa-bits: 41\n", regions: "    - {name: high, base: 0xff_ffff_f000, size: 8KiB}")),
        Case(
            "memory.initial", "memory.initial",
            invalid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB, access: shared, initial: 1️⃣private}"),
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB, access: shared}")),
        Case(
            "memory.mmio (read-only)", "memory.mmio",
            invalid: manifest(regions: ram + "\n    - {name: dev, base: 0xfe000000, size: 4KiB, backing: none, readonly: 1️⃣true}"),
            valid: manifest(regions: ram + "\n    - {name: dev, base: 0xfe000000, size: 4KiB, backing: none}")),
        Case(
            "memory.mmio (dirty-log)", "memory.mmio",
            invalid: manifest(regions: ram + "\n    - {name: dev, base: 0xfe000000, size: 4KiB, backing: none, dirty-log: 1️⃣true}"),
            valid: manifest(regions: ram + "\n    - {name: dev, base: 0xfe000000, size: 4KiB, backing: none, dirty-log: false}")),
        Case(
            "memory.mmio (private)", "memory.mmio",
            invalid: manifest(
                platform: "sw-protected", regions: ram + "\n    - {name: dev, base: 0xfe000000, size: 4KiB, backing: none, access: 1️⃣private}"),
            valid: manifest(
                platform: "sw-protected", regions: ram + "\n    - {name: dev, base: 0xfe000000, size: 4KiB, backing: none, access: shared}")),
        Case(
            "gmem.options", "gmem.options",
            invalid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB, backing: anonymous, guest-memfd: 1️⃣{mmap: true}}"),
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB, \(gmemShared)}")),
    ]

    // MARK: guest_memfd

    static let guestMemfd: [Case] = [
        Case(
            "gmem.readonly", "gmem.readonly",
            invalid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB, \(gmemShared), readonly: 1️⃣true}"),
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB, backing: anonymous, readonly: true}")),
        Case(
            "gmem.dirty-log", "gmem.dirty-log",
            invalid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB, \(gmemShared), dirty-log: 1️⃣true}"),
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB, backing: anonymous, dirty-log: true}")),
        Case(
            "gmem.init-shared-needs-mmap", "gmem.init-shared-needs-mmap",
            invalid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB, backing: guest-memfd, guest-memfd: {init-shared: 1️⃣true}}"),
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB, \(gmemShared)}")),
        Case(
            "gmem.init-shared-private-vm (tdx)", "gmem.init-shared-private-vm",
            invalid: manifest(
                platform: "tdx",
                regions: "    - {name: ram, base: 0x0, size: 2MiB, access: convertible, backing: guest-memfd, guest-memfd: {mmap: true, init-shared: 1️⃣true}}"),
            expect: [DiagnosticSpec("gmem.init-shared-private-vm", note: "platform declared here")],
            valid: manifest(
                platform: "tdx",
                regions: "    - {name: ram, base: 0x0, size: 2MiB, access: convertible, backing: guest-memfd, guest-memfd: {mmap: true}}")),
        Case(
            "gmem.init-shared-private-vm (cca)", "gmem.init-shared-private-vm",
            invalid: manifest(
                arch: "arm64", platform: "cca",
                regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: shared, backing: guest-memfd, guest-memfd: {mmap: true, init-shared: 1️⃣true}}"),
            valid: manifest(
                arch: "arm64", platform: "default",
                regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: shared, backing: guest-memfd, guest-memfd: {mmap: true, init-shared: true}}")),
        Case(
            "gmem.arm64-needs-mmap (no options)", "gmem.arm64-needs-mmap",
            invalid: manifest(arch: "arm64", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, backing: 1️⃣guest-memfd}"),
            valid: manifest(arch: "arm64", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, backing: guest-memfd, guest-memfd: {mmap: true}}")),
        Case(
            "gmem.arm64-needs-mmap (mmap: false)", "gmem.arm64-needs-mmap",
            invalid: manifest(
                arch: "arm64", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, backing: guest-memfd, guest-memfd: {mmap: 1️⃣false}}"),
            valid: manifest(arch: "x86_64", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, backing: guest-memfd, guest-memfd: {mmap: false}}")),
    ]

    // MARK: Platform

    static let platform: [Case] = [
        Case(
            "platform.arch (sev-snp on arm64)", "platform.arch",
            invalid: manifest(arch: "arm64", platform: "1️⃣sev-snp", regions: ram),
            expect: [DiagnosticSpec("platform.arch", note: "arch declared here")],
            valid: manifest(arch: "x86_64", platform: "sev-snp", regions: ram)),
        Case(
            "platform.arch (pkvm on x86_64)", "platform.arch",
            invalid: manifest(arch: "x86_64", platform: "1️⃣pkvm", regions: ram),
            valid: manifest(arch: "arm64", platform: "pkvm", regions: ram)),
        Case(
            "platform.private-memory", "platform.private-memory",
            invalid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB, access: 1️⃣private}"),
            valid: manifest(platform: "sw-protected", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: private}")),
        Case(
            "platform.private-memory (convertible on arm64 default)", "platform.private-memory",
            invalid: manifest(arch: "arm64", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: 1️⃣convertible, backing: anonymous}"),
            valid: manifest(arch: "arm64", platform: "pkvm", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: convertible, backing: anonymous}")),
        Case(
            "platform.private-backing (sev-snp anonymous)", "platform.private-backing",
            invalid: manifest(platform: "sev-snp", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: private, backing: 1️⃣anonymous}"),
            valid: manifest(platform: "sev-snp", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: private, backing: guest-memfd}")),
        Case(
            "platform.private-backing (pkvm guest-memfd)", "platform.private-backing",
            invalid: manifest(
                arch: "arm64", platform: "pkvm",
                regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: private, backing: 1️⃣guest-memfd, guest-memfd: {mmap: true}}"),
            valid: manifest(arch: "arm64", platform: "pkvm", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: private, backing: memfd}")),
        Case(
            "platform.private-backing (pkvm hugetlb)", "platform.private-backing",
            invalid: manifest(
                arch: "arm64", platform: "pkvm", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: private, backing: 1️⃣hugetlb-2m}"),
            valid: manifest(arch: "arm64", platform: "pkvm", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: private}")),
        Case(
            "platform.readonly (pflash in an SNP VM)", "platform.readonly",
            invalid: manifest(
                platform: "sev-snp",
                regions: "    - {name: ram, base: 0x0, size: 2MiB, access: private}\n    - {name: flash, base: 0xffc00000, size: 4MiB, backing: anonymous, readonly: 1️⃣true}"),
            expect: [DiagnosticSpec("platform.readonly", message: "sev-snp VMs have no read-only memslots", note: "platform declared here")],
            valid: manifest(
                platform: "sev-snp",
                regions: "    - {name: ram, base: 0x0, size: 2MiB, access: private}\n    - {name: flash, base: 0xffc00000, size: 4MiB, backing: anonymous}")),
        Case(
            "platform.readonly (tdx)", "platform.readonly",
            invalid: manifest(platform: "tdx", regions: "    - {name: rom, base: 0x0, size: 2MiB, readonly: 1️⃣true}"),
            valid: manifest(platform: "default", regions: "    - {name: rom, base: 0x0, size: 2MiB, readonly: true}")),
        Case(
            "platform.readonly (pkvm: EPERM, arm64 mmu.c:2597-2607)", "platform.readonly",
            invalid: manifest(arch: "arm64", platform: "pkvm", regions: "    - {name: rom, base: 0x8000_0000, size: 2MiB, readonly: 1️⃣true}"),
            valid: manifest(arch: "arm64", platform: "default", regions: "    - {name: rom, base: 0x8000_0000, size: 2MiB, readonly: true}")),
        Case(
            "platform.dirty-log (pkvm: EPERM, arm64 mmu.c:2597-2607)", "platform.dirty-log",
            invalid: manifest(arch: "arm64", platform: "pkvm", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, dirty-log: 1️⃣true}"),
            valid: manifest(arch: "arm64", platform: "default", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, dirty-log: true}")),
        Case(
            "platform.gpa-bits (tdx 46)", "platform.gpa-bits",
            invalid: manifest(platform: "tdx", top: "gpa-bits: 1️⃣46\n", regions: ram),
            expect: [DiagnosticSpec("platform.gpa-bits", message: "use 48 or 52")],
            valid: manifest(platform: "tdx", top: "gpa-bits: 52\n", regions: ram)),
        Case(
            "platform.gpa-bits (x86_64 56)", "platform.gpa-bits",
            invalid: manifest(top: "gpa-bits: 1️⃣56\n", regions: ram),
            valid: manifest(top: "gpa-bits: 52\n", regions: ram)),
        Case(
            "platform.gpa-bits (beyond the host)", "platform.gpa-bits",
            invalid: manifest(top: "gpa-bits: 1️⃣48\n", regions: ram),
            expect: [DiagnosticSpec("platform.gpa-bits", message: "exceeds the host's 46 physical address bits")],
            valid: manifest(top: "gpa-bits: 46\n", regions: ram),
            host: makeHost(physAddrBits: 46)),
        Case(
            "platform.shared-bit-collision (tdx: private above bit 47)", "platform.shared-bit-collision",
            invalid: manifest(
                platform: "tdx", top: "gpa-bits: 48\n",
                regions: ram + "\n    - {name: hi, base: 1️⃣0x8000_0000_0000, size: 2MiB, access: private}"),
            expect: [DiagnosticSpec("platform.shared-bit-collision", message: "at or above shared bit 47")],
            valid: manifest(
                platform: "tdx", top: "gpa-bits: 52\n",
                regions: ram + "\n    - {name: hi, base: 0x8000_0000_0000, size: 2MiB, access: private}")),
        Case(
            "platform.shared-bit-collision (cca: above the top IPA bit)", "platform.shared-bit-collision",
            invalid: manifest(
                arch: "arm64", platform: "cca", top: "gpa-bits: 40\n",
                regions: "    - {name: ram, base: 1️⃣0x80_0000_0000, size: 2MiB, access: convertible}"),
            expect: [DiagnosticSpec("platform.shared-bit-collision", message: "shared bit 39")],
            valid: manifest(
                arch: "arm64", platform: "cca", top: "gpa-bits: 40\n",
                regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: convertible}")),
        Case(
            "platform.testing-only", "platform.testing-only",
            invalid: manifest(platform: "1️⃣sw-protected", regions: ram),
            valid: manifest(platform: "sev-snp", regions: ram)),
        Case(
            "platform.unmerged-uapi", "platform.unmerged-uapi",
            invalid: manifest(arch: "arm64", platform: "1️⃣cca", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB}"),
            valid: manifest(arch: "arm64", platform: "pkvm", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB}")),
        Case(
            "platform.pkvm-host (kvm-arm.mode=protected: arm.c:241-252; RLIMIT_MEMLOCK)", "platform.pkvm-host",
            invalid: manifest(arch: "arm64", platform: "1️⃣pkvm", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB}"),
            expect: [
                DiagnosticSpec(
                    "platform.pkvm-host",
                    message: "kvm-arm.mode=protected (else KVM_CREATE_VM fails with EINVAL); protected VMs taint the kernel and pin their memory: RLIMIT_MEMLOCK must allow 2MiB")
            ],
            valid: manifest(arch: "arm64", platform: "cca", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB}")),
        Case(
            "platform.vcpus (x86_64)", "platform.vcpus",
            invalid: manifest(top: "vcpus: 1️⃣1025\n", regions: ram),
            valid: manifest(top: "vcpus: 1024\n", regions: ram)),
        Case(
            "platform.vcpus (arm64)", "platform.vcpus",
            invalid: manifest(arch: "arm64", top: "vcpus: 1️⃣513\n", regions: ram),
            valid: manifest(arch: "arm64", top: "vcpus: 512\n", regions: ram)),
        Case(
            "platform.vcpus (host profile)", "platform.vcpus",
            invalid: manifest(top: "vcpus: 1️⃣16\n", regions: ram),
            valid: manifest(top: "vcpus: 8\n", regions: ram),
            host: makeHost(maxVCPUs: 8)),
    ]

    // MARK: Sharing

    static let convertibleRAM = "    - {name: ram, base: 0x0, size: 2MiB, access: convertible}"

    static let sharing: [Case] = [
        Case(
            "sharing.no-private-memory", "sharing.no-private-memory",
            invalid: manifest(regions: ram, rest: "sharing:\n  1️⃣on-share: keep\n"),
            valid: manifest(platform: "sw-protected", regions: ram, rest: "sharing:\n  on-share: keep\n")),
        Case(
            "sharing.access-type", "sharing.access-type",
            invalid: manifest(platform: "sev-snp", regions: convertibleRAM, rest: "sharing:\n  access-type: 1️⃣gpa-bit\n"),
            expect: [DiagnosticSpec("sharing.access-type", message: "which uses c-bit")],
            valid: manifest(platform: "sev-snp", regions: convertibleRAM, rest: "sharing:\n  access-type: c-bit\n")),
        Case(
            "sharing.shared-bit (tdx)", "sharing.shared-bit",
            invalid: manifest(platform: "tdx", top: "gpa-bits: 48\n", regions: convertibleRAM, rest: "sharing:\n  shared-bit: 1️⃣51\n"),
            expect: [DiagnosticSpec("sharing.shared-bit", message: "whose shared bit is 47")],
            valid: manifest(platform: "tdx", top: "gpa-bits: 48\n", regions: convertibleRAM, rest: "sharing:\n  shared-bit: 47\n")),
        Case(
            "sharing.shared-bit (no bit for attribute)", "sharing.shared-bit",
            invalid: manifest(platform: "sw-protected", regions: convertibleRAM, rest: "sharing:\n  shared-bit: 1️⃣5\n"),
            valid: manifest(platform: "sw-protected", regions: convertibleRAM, rest: "sharing:\n  conversion: [fault]\n")),
        Case(
            "sharing.shared-bit (cca)", "sharing.shared-bit",
            invalid: manifest(
                arch: "arm64", platform: "cca", top: "gpa-bits: 40\n", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: convertible}",
                rest: "sharing:\n  shared-bit: 1️⃣38\n"),
            valid: manifest(
                arch: "arm64", platform: "cca", top: "gpa-bits: 40\n", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: convertible}",
                rest: "sharing:\n  shared-bit: 39\n")),
        Case(
            "sharing.shared-bit (host C-bit)", "sharing.shared-bit",
            invalid: manifest(platform: "sev-snp", regions: convertibleRAM, rest: "sharing:\n  shared-bit: 1️⃣51\n"),
            expect: [DiagnosticSpec("sharing.shared-bit", message: "host's C-bit position 47")],
            valid: manifest(platform: "sev-snp", regions: convertibleRAM, rest: "sharing:\n  shared-bit: 47\n"),
            host: makeHost(sevCBit: 47)),
        Case(
            "sharing.conversion (hypercall on cca)", "sharing.conversion",
            invalid: manifest(
                arch: "arm64", platform: "cca", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: convertible}",
                rest: "sharing:\n  conversion: [1️⃣hypercall]\n"),
            valid: manifest(
                arch: "arm64", platform: "cca", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: convertible}",
                rest: "sharing:\n  conversion: [fault]\n")),
        Case(
            "sharing.conversion (pkvm has none)", "sharing.conversion",
            invalid: manifest(
                arch: "arm64", platform: "pkvm", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: convertible, backing: anonymous}",
                rest: "sharing:\n  conversion: [1️⃣fault]\n"),
            expect: [DiagnosticSpec("sharing.conversion", message: "allowed: none (conversion: [])")],
            valid: manifest(
                arch: "arm64", platform: "pkvm", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: convertible, backing: anonymous}",
                rest: "sharing:\n  conversion: []\n")),
        Case(
            "sharing.conversion (listed twice)", "sharing.conversion",
            invalid: manifest(platform: "sev-snp", regions: convertibleRAM, rest: "sharing:\n  conversion: [fault, 1️⃣fault]\n"),
            expect: [DiagnosticSpec("sharing.conversion", message: "listed twice")],
            valid: manifest(platform: "sev-snp", regions: convertibleRAM, rest: "sharing:\n  conversion: [fault, hypercall]\n")),
        Case(
            "sharing.convertible (names a private region)", "sharing.convertible",
            invalid: manifest(
                platform: "sw-protected", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: private}",
                rest: "sharing:\n  convertible: [1️⃣ram]\n"),
            expect: [DiagnosticSpec("sharing.convertible", message: "has access private", note: "access declared here")],
            valid: manifest(platform: "sw-protected", regions: convertibleRAM, rest: "sharing:\n  convertible: [ram]\n")),
        Case(
            "sharing.convertible (names a shared region)", "sharing.convertible",
            invalid: manifest(
                platform: "tdx", regions: convertibleRAM + "\n    - {name: bounce, base: 0x200000, size: 2MiB, access: shared}",
                rest: "sharing:\n  convertible: [ram, 1️⃣bounce]\n"),
            valid: manifest(
                platform: "tdx", regions: convertibleRAM + "\n    - {name: bounce, base: 0x200000, size: 2MiB, access: convertible, initial: shared}",
                rest: "sharing:\n  convertible: [ram, bounce]\n")),
        Case(
            "sharing.convertible (no such region)", "sharing.convertible",
            invalid: manifest(platform: "sw-protected", regions: convertibleRAM, rest: "sharing:\n  convertible: [ram, 1️⃣rma]\n"),
            expect: [DiagnosticSpec("sharing.convertible", message: "no region named 'rma'", note: "regions: ram")],
            valid: manifest(platform: "sw-protected", regions: convertibleRAM, rest: "sharing:\n  convertible: [ram]\n")),
        Case(
            "sharing.convertible (listed twice)", "sharing.convertible",
            invalid: manifest(platform: "sw-protected", regions: convertibleRAM, rest: "sharing:\n  convertible: [ram, 1️⃣ram]\n"),
            valid: manifest(platform: "sw-protected", regions: convertibleRAM, rest: "sharing:\n  convertible: [ram]\n")),
        Case(
            "sharing.convertible-omitted", "sharing.convertible-omitted",
            invalid: manifest(
                platform: "sw-protected",
                regions: convertibleRAM + "\n    - {name: more, base: 0x200000, size: 2MiB, access: 1️⃣convertible}",
                rest: "sharing:\n  convertible: [ram]\n"),
            valid: manifest(
                platform: "sw-protected", regions: convertibleRAM + "\n    - {name: more, base: 0x200000, size: 2MiB, access: convertible}",
                rest: "sharing:\n  convertible: [ram, more]\n")),
        Case(
            "sharing.no-exits", "sharing.no-exits",
            invalid: manifest(platform: "sw-protected", regions: convertibleRAM, rest: "sharing:\n  conversion: 1️⃣[]\n"),
            valid: manifest(platform: "sw-protected", regions: convertibleRAM, rest: "sharing:\n  convertible: [ram]\n")),
        // Without KVM_CAP_EXIT_HYPERCALL every SNP page-state change fails (sev.c:3824-3827, 4034-4036) and every
        // TDX MapGPA too (tdx.c:1247-1257), Linux 7.1.5 (KVM_UAPI.md §8).
        Case(
            "sharing.hypercall-required (tdx, [fault]; tdx.c:1247-1257)", "sharing.hypercall-required",
            invalid: manifest(platform: "tdx", regions: convertibleRAM, rest: "sharing:\n  conversion: 1️⃣[fault]\n"),
            expect: [DiagnosticSpec("sharing.hypercall-required", message: "needs 'hypercall'", note: "platform declared here")],
            valid: manifest(platform: "tdx", regions: convertibleRAM, rest: "sharing:\n  conversion: [hypercall, fault]\n")),
        Case(
            "sharing.hypercall-required (sev-snp, []; sev.c:3824-3827, 4034-4036)", "sharing.hypercall-required",
            invalid: manifest(platform: "sev-snp", regions: convertibleRAM, rest: "sharing:\n  conversion: 1️⃣[]\n"),
            valid: manifest(platform: "sev-snp", regions: convertibleRAM, rest: "sharing:\n  conversion: [hypercall]\n")),
        // mmu.c: a sw-protected access takes its private-ness from the attribute (KVM_UAPI.md §8; the lab).
        Case(
            "sharing.fault-never-requests", "sharing.fault-never-requests",
            invalid: manifest(platform: "sw-protected", regions: convertibleRAM, rest: "sharing:\n  conversion: [hypercall, 1️⃣fault]\n"),
            valid: manifest(platform: "sev-snp", regions: convertibleRAM, rest: "sharing:\n  conversion: [hypercall, fault]\n")),
    ]

    // MARK: Payload

    static let elf = FakeFiles.file(ELFBuilder.simple().bytes)

    static let payloads: [Case] = [
        Case(
            "payload.file (missing)", "payload.file",
            invalid: manifest(regions: ram, rest: "payload:\n  path: 1️⃣guests/missing.bin\n  load: ram+0x100000\n"),
            expect: [DiagnosticSpec("payload.file", message: "'guests/missing.bin' does not exist")],
            valid: manifest(regions: ram, rest: "payload:\n  path: guests/present.bin\n  load: ram+0x100000\n"),
            files: FakeFiles(payloads: ["guests/present.bin": FakeFiles.flat(size: 512)], fallback: nil)),
        Case(
            "payload.file (a directory)", "payload.file",
            invalid: manifest(regions: ram, rest: "payload:\n  path: 1️⃣guests\n  load: ram+0x100000\n"),
            expect: [DiagnosticSpec("payload.file", message: "is a directory")],
            valid: manifest(regions: ram, rest: "payload:\n  path: g.bin\n  load: ram+0x100000\n"),
            files: FakeFiles(payloads: ["guests": PayloadFile(kind: .directory, size: 0, bytes: nil)])),
        Case(
            "payload.file (a device)", "payload.file",
            invalid: manifest(regions: ram, rest: "payload:\n  path: 1️⃣/dev/zero\n  load: ram+0x100000\n"),
            expect: [DiagnosticSpec("payload.file", message: "not a regular file")],
            valid: manifest(regions: ram, rest: "payload:\n  path: g.bin\n  load: ram+0x100000\n"),
            files: FakeFiles(payloads: ["/dev/zero": PayloadFile(kind: .other, size: 0, bytes: nil)])),
        Case(
            "payload.file (empty)", "payload.file",
            invalid: manifest(regions: ram, rest: "payload:\n  path: 1️⃣empty.bin\n  load: ram+0x100000\n"),
            expect: [DiagnosticSpec("payload.file", message: "is empty")],
            valid: manifest(regions: ram, rest: "payload:\n  path: g.bin\n  load: ram+0x100000\n"),
            files: FakeFiles(payloads: ["empty.bin": FakeFiles.file([])])),
        Case(
            "payload.file (too large to read)", "payload.file",
            invalid: manifest(regions: ram, rest: "payload:\n  path: 1️⃣huge.bin\n  load: ram+0x100000\n"),
            expect: [DiagnosticSpec("payload.file", message: "larger than 256MiB")],
            valid: manifest(regions: ram, rest: "payload:\n  path: g.bin\n  load: ram+0x100000\n"),
            files: FakeFiles(payloads: ["huge.bin": PayloadFile(kind: .regular, size: 1 << 30, bytes: nil)])),
        Case(
            "payload.file (not an ELF file)", "payload.file",
            invalid: manifest(regions: ram, rest: "payload:\n  format: 1️⃣elf\n  path: g.bin\n"),
            expect: [DiagnosticSpec("payload.file", message: "no \\x7fELF magic")],
            valid: manifest(regions: ram, rest: "payload:\n  format: elf\n  path: g.elf\n"),
            files: FakeFiles(payloads: ["g.elf": elf])),
        Case(
            "payload.file (an arm64 ELF for an x86_64 guest)", "payload.file",
            invalid: manifest(regions: ram, rest: "payload:\n  format: elf\n  path: 1️⃣arm.elf\n"),
            expect: [DiagnosticSpec("payload.file", message: "ELF machine 183, not x86_64")],
            valid: manifest(regions: ram, rest: "payload:\n  format: elf\n  path: x86.elf\n"),
            files: FakeFiles(payloads: ["arm.elf": FakeFiles.file(ELFBuilder.simple(machine: 183).bytes), "x86.elf": elf])),
        Case(
            "payload.load (flat without load)", "payload.load",
            invalid: manifest(regions: ram, rest: "payload:\n  1️⃣path: g.bin\n"),
            expect: [DiagnosticSpec("payload.load", message: "flat payloads need 'load'")],
            valid: manifest(regions: ram, rest: payload)),
        Case(
            "payload.load (ELF with load)", "payload.load",
            invalid: manifest(regions: ram, rest: "payload:\n  format: elf\n  path: g.elf\n  load: 1️⃣ram+0x100000\n"),
            valid: manifest(regions: ram, rest: "payload:\n  format: elf\n  path: g.elf\n"),
            files: FakeFiles.only(elf)),
        Case(
            "payload.load (ELF with entry)", "payload.load",
            invalid: manifest(regions: ram, rest: "payload:\n  format: elf\n  path: g.elf\n  entry: 1️⃣0x100000\n"),
            valid: manifest(regions: ram, rest: "payload:\n  format: elf\n  path: g.elf\n"),
            files: FakeFiles.only(elf)),
        Case(
            "payload.load (no such region)", "payload.load",
            invalid: manifest(regions: ram, rest: "payload:\n  path: g.bin\n  load: 1️⃣rma+0x100000\n"),
            expect: [DiagnosticSpec("payload.load", message: "names no region 'rma'")],
            valid: manifest(regions: ram, rest: payload)),
        Case(
            "payload.load (an MMIO hole)", "payload.load",
            invalid: manifest(
                regions: ram + "\n    - {name: dev, base: 0xfe000000, size: 1MiB, backing: none}", rest: "payload:\n  path: g.bin\n  load: 1️⃣dev\n"),
            valid: manifest(regions: ram + "\n    - {name: dev, base: 0xfe000000, size: 1MiB, backing: none}", rest: payload)),
        Case(
            "payload.load (offset beyond the region)", "payload.load",
            invalid: manifest(regions: ram, rest: "payload:\n  path: g.bin\n  load: 1️⃣ram+2MiB\n"),
            valid: manifest(regions: ram, rest: "payload:\n  path: g.bin\n  load: ram + 1MiB\n")),
        Case(
            "payload.fits (flat past the end of RAM)", "payload.fits",
            invalid: manifest(regions: ram, rest: "payload:\n  path: g.bin\n  load: 1️⃣ram+0x1ff800\n"),
            expect: [DiagnosticSpec("payload.fits", message: "payload bytes 0x1f_f800..0x20_07ff (4096 bytes)")],
            valid: manifest(regions: ram, rest: "payload:\n  path: g.bin\n  load: ram+0x1ff000\n")),
        Case(
            "payload.fits (flat at an absolute address outside RAM)", "payload.fits",
            invalid: manifest(regions: ram, rest: "payload:\n  path: g.bin\n  load: 1️⃣0x400000\n"),
            valid: manifest(regions: ram, rest: "payload:\n  path: g.bin\n  load: 0x100000\n")),
        Case(
            "payload.elf-overlap (the second segment's .bss covers the third)", "payload.elf-overlap",
            invalid: manifest(regions: ram, rest: "payload:\n  format: elf\n  path: 1️⃣g.elf\n"),
            expect: [DiagnosticSpec("payload.elf-overlap", message: "PT_LOAD segments 1 and 2 overlap at 0x10_2000")],
            valid: manifest(regions: ram, rest: "payload:\n  format: elf\n  path: disjoint.elf\n"),
            files: FakeFiles(
                payloads: ["disjoint.elf": FakeFiles.file(Self.threeSegments(bss: 0x1000).bytes)],
                fallback: FakeFiles.file(Self.threeSegments(bss: 0x2000).bytes))),
        Case(
            "payload.fits (ELF segment outside RAM)", "payload.fits",
            invalid: manifest(regions: ram, rest: "payload:\n  format: elf\n  path: 1️⃣g.elf\n"),
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 16MiB}", rest: "payload:\n  format: elf\n  path: g.elf\n"),
            files: FakeFiles.only(FakeFiles.file(ELFBuilder.simple(at: 0x800000).bytes))),
        Case(
            "payload.fits (ELF .bss past the end of RAM)", "payload.fits",
            invalid: manifest(regions: ram, rest: "payload:\n  format: elf\n  path: 1️⃣g.elf\n"),
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 4MiB}", rest: "payload:\n  format: elf\n  path: g.elf\n"),
            files: FakeFiles.only(
                FakeFiles.file(
                    ELFBuilder(
                        entry: 0x100000,
                        segments: [.init(physicalAddress: 0x100000, contents: [0x90], memorySize: 2 << 20)]
                    ).bytes))),
        Case(
            "payload.entry (flat entry past the image)", "payload.entry",
            invalid: manifest(regions: ram, rest: payload + "  entry: 1️⃣0x101000\n"),
            expect: [DiagnosticSpec("payload.entry", message: "entry 0x10_1000 lies outside the loaded payload")],
            valid: manifest(regions: ram, rest: payload + "  entry: 0x100ffc\n")),
        Case(
            "payload.entry (ELF e_entry outside its segments)", "payload.entry",
            invalid: manifest(regions: ram, rest: "payload:\n  format: 1️⃣elf\n  path: g.elf\n"),
            valid: manifest(regions: ram, rest: "payload:\n  format: elf\n  path: ok.elf\n"),
            files: FakeFiles(
                payloads: ["ok.elf": elf],
                fallback: FakeFiles.file(
                    ELFBuilder(entry: 0x1ff000, segments: [.init(physicalAddress: 0x100000, contents: [0x90, 0xF4])]).bytes))),
        Case(
            "payload.mode (real mode above 1 MiB)", "payload.mode",
            invalid: manifest(regions: ram, rest: payload + "  mode: 1️⃣real\n"),
            expect: [DiagnosticSpec("payload.mode", message: "real-mode payload at 0x10_0000 reaches beyond 1MiB")],
            valid: manifest(regions: ram, rest: "payload:\n  path: g.bin\n  load: ram+0x8000\n  mode: real\n")),
        Case(
            "payload.mode (protected mode above 4 GiB)", "payload.mode",
            invalid: manifest(
                regions: ram + "\n    - {name: high, base: 0x1_0000_0000, size: 2MiB}", rest: "payload:\n  path: g.bin\n  load: high\n  mode: 1️⃣protected\n"),
            valid: manifest(regions: ram + "\n    - {name: high, base: 0x1_0000_0000, size: 2MiB}", rest: "payload:\n  path: g.bin\n  load: high\n  mode: long\n")),
        Case(
            "payload.mode (x86 mode on arm64)", "payload.mode",
            invalid: manifest(
                arch: "arm64", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB}", rest: "payload:\n  path: g.bin\n  load: ram\n  mode: 1️⃣long\n"),
            valid: manifest(arch: "arm64", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB}", rest: "payload:\n  path: g.bin\n  load: ram\n")),
        Case(
            "payload.boot-area (payload over the page tables)", "payload.boot-area",
            invalid: manifest(regions: ram, rest: "payload:\n  path: g.bin\n  load: 1️⃣ram+0x2000\n"),
            expect: [DiagnosticSpec("payload.boot-area", message: "overlaps the launcher's boot area")],
            valid: manifest(regions: ram, rest: "payload:\n  path: g.bin\n  load: ram+0x8000\n")),
        Case(
            "payload.boot-area (no RAM at 0x1000)", "payload.boot-area",
            invalid: manifest(
                regions: "    - {name: ram, base: 0x100000, size: 2MiB}", rest: "payload:\n  path: g.bin\n  load: ram\n  mode: 1️⃣long\n"),
            expect: [DiagnosticSpec("payload.boot-area", message: "long mode needs RAM at 0x1000..0x7fff")],
            valid: manifest(regions: "    - {name: ram, base: 0x100000, size: 2MiB}", rest: "payload:\n  path: g.bin\n  load: ram\n  mode: real\n")),
        Case(
            "payload.boot-area (in private memory)", "payload.boot-area",
            invalid: manifest(
                platform: "sw-protected", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: convertible}",
                rest: "payload:\n  path: g.bin\n  load: ram+0x100000\n  mode: 1️⃣long\n"),
            expect: [DiagnosticSpec("payload.boot-area", message: "lies in private region 'ram'")],
            valid: manifest(
                platform: "sw-protected", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: convertible, initial: shared}",
                rest: "payload:\n  path: g.bin\n  load: ram+0x100000\n  mode: long\n")),
        Case(
            "payload.measured (into shared memory on SNP)", "payload.measured",
            invalid: manifest(
                platform: "sev-snp",
                regions: "    - {name: boot, base: 0x0, size: 2MiB, access: shared}\n    - {name: ram, base: 0x200000, size: 2MiB, access: private}",
                rest: "payload:\n  path: g.bin\n  load: 1️⃣boot+0x100000\n"),
            expect: [DiagnosticSpec("payload.measured", message: "which is not private at launch", note: "access declared here")],
            valid: manifest(
                platform: "sev-snp",
                regions: "    - {name: boot, base: 0x0, size: 2MiB, access: shared}\n    - {name: ram, base: 0x200000, size: 2MiB, access: private}",
                rest: "payload:\n  path: g.bin\n  load: ram+0x100000\n")),
        Case(
            "payload.measured (unaligned on TDX)", "payload.measured",
            invalid: manifest(
                platform: "tdx", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: private}",
                rest: "payload:\n  path: g.bin\n  load: 1️⃣ram+0x100800\n"),
            expect: [DiagnosticSpec("payload.measured", message: "not page-aligned")],
            valid: manifest(
                platform: "tdx", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: private}",
                rest: "payload:\n  path: g.bin\n  load: ram+0x100800\n  measured: false\n")),
        Case(
            "payload.measured-ignored (default VM)", "payload.measured-ignored",
            invalid: manifest(
                regions: "    - {name: ram, base: 0x0, size: 2MiB}", rest: "payload:\n  path: g.bin\n  load: ram+0x100000\n  measured: 1️⃣true\n"),
            expect: [DiagnosticSpec("payload.measured-ignored", severity: .warning, message: "has no launch measurement")],
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB}", rest: "payload:\n  path: g.bin\n  load: ram+0x100000\n")),
        Case(
            "payload.private-load (sw-protected)", "payload.private-load",
            invalid: manifest(
                platform: "sw-protected",
                regions: "    - {name: boot, base: 0x0, size: 2MiB}\n    - {name: ram, base: 0x200000, size: 2MiB, access: convertible}",
                rest: "payload:\n  path: g.bin\n  load: 1️⃣ram+0x100000\n"),
            expect: [DiagnosticSpec("payload.private-load", note: "access declared here")],
            valid: manifest(
                platform: "sw-protected",
                regions: "    - {name: boot, base: 0x0, size: 2MiB}\n    - {name: ram, base: 0x200000, size: 2MiB, access: convertible}",
                rest: "payload:\n  path: g.bin\n  load: boot+0x100000\n")),
    ]

    // MARK: How confidential vCPUs start (KVM_UAPI.md §8)

    static let firmwareRegion = "    - {name: fw, base: 0xffe00000, size: 2MiB, access: private}"
    static let firmware = "payload:\n  format: firmware\n  path: g.bin\n"

    static let starts: [Case] = [
        Case(
            "payload.firmware (entry)", "payload.firmware",
            invalid: manifest(regions: "    - {name: fw, base: 0xffe00000, size: 2MiB}", rest: firmware + "  entry: 1️⃣0xfffff000\n"),
            expect: [DiagnosticSpec("payload.firmware", message: "starts at the reset vector 0xffff_fff0")],
            valid: manifest(regions: "    - {name: fw, base: 0xffe00000, size: 2MiB}", rest: firmware)),
        Case(
            "payload.firmware (does not end at 4 GiB)", "payload.firmware",
            invalid: manifest(regions: "    - {name: fw, base: 0xffe00000, size: 2MiB}", rest: firmware + "  load: 1️⃣fw+0x0\n"),
            expect: [DiagnosticSpec("payload.firmware", message: "does not end at 4 GiB")],
            valid: manifest(regions: "    - {name: fw, base: 0xffe00000, size: 2MiB}", rest: firmware + "  load: fw+0x1ff000\n")),
        Case(
            "payload.firmware (not whole pages)", "payload.firmware",
            invalid: manifest(regions: "    - {name: fw, base: 0xffe00000, size: 2MiB}", rest: "payload:\n  format: firmware\n  path: 1️⃣g.bin\n"),
            expect: [DiagnosticSpec("payload.firmware", message: "multiple of 4 KiB")],
            valid: manifest(regions: "    - {name: fw, base: 0xffe00000, size: 2MiB}", rest: "payload:\n  path: g.bin\n  load: fw+0x0\n"),
            files: FakeFiles.only(FakeFiles.flat(size: 100))),
        Case(
            "payload.firmware (mode)", "payload.firmware",
            invalid: manifest(regions: "    - {name: fw, base: 0xffe00000, size: 2MiB}", rest: firmware + "  mode: 1️⃣real\n"),
            valid: manifest(regions: "    - {name: fw, base: 0xffe00000, size: 2MiB}", rest: firmware)),
        // A TD starts at the reset vector chosen by the TDX module; KVM has no SET_REGS/SREGS for TDs
        // (KVM_UAPI.md §8, TDX, fourth point).
        Case(
            "payload.tdx-reset-vector (flat payload with a VMM-chosen entry)", "payload.tdx-reset-vector",
            invalid: manifest(
                platform: "tdx", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: private}",
                rest: "payload:\n  format: 1️⃣flat\n  path: g.bin\n  load: ram+0x100000\n"),
            expect: [
                DiagnosticSpec(
                    "payload.tdx-reset-vector", message: "a TD starts at the reset vector 0xffff_fff0 set by the TDX module",
                    note: "platform declared here")
            ],
            valid: manifest(platform: "tdx", regions: firmwareRegion, rest: firmware)),
        Case(
            "payload.tdx-reset-vector (flat payload with entry)", "payload.tdx-reset-vector",
            invalid: manifest(
                platform: "tdx", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: private}",
                rest: "payload:\n  path: g.bin\n  load: ram+0x100000\n  entry: 1️⃣0x100000\n"),
            expect: [DiagnosticSpec("payload.tdx-reset-vector", message: "with entry 0x10_0000 would not run")],
            valid: manifest(platform: "tdx", regions: firmwareRegion, rest: firmware + "  measured: false\n")),
        Case(
            "payload.tdx-reset-vector (firmware in shared memory)", "payload.tdx-reset-vector",
            invalid: manifest(
                platform: "tdx", regions: "    - {name: fw, base: 0xffe00000, size: 2MiB, access: shared}",
                rest: "payload:\n  format: firmware\n  path: 1️⃣g.bin\n  measured: false\n"),
            expect: [DiagnosticSpec("payload.tdx-reset-vector", message: "not private at launch", note: "access declared here")],
            valid: manifest(platform: "tdx", regions: firmwareRegion, rest: firmware + "  measured: false\n")),
        // An SNP vCPU reads its GDT and page tables as private memory; LAUNCH_UPDATE needs the range PRIVATE
        // (sev.c:2421-2468) and may stop early (sev.c:2483-2489), KVM_UAPI.md §8.
        Case(
            "payload.snp-boot-area (private region without a shared side; sev.c:2421-2468)", "payload.snp-boot-area",
            invalid: manifest(
                platform: "sev-snp", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: private}",
                rest: "payload:\n  path: g.bin\n  load: ram+0x100000\n  mode: 1️⃣long\n"),
            expect: [DiagnosticSpec("payload.snp-boot-area", message: "no host-writable shared side", note: "access declared here")],
            valid: manifest(
                platform: "sev-snp", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: convertible, initial: private}",
                rest: "payload:\n  path: g.bin\n  load: ram+0x100000\n  mode: long\n")),
        Case(
            "payload.snp-boot-area (shared at launch)", "payload.snp-boot-area",
            invalid: manifest(
                platform: "sev-snp",
                regions: "    - {name: low, base: 0x0, size: 1MiB, access: shared}\n    - {name: ram, base: 0x100000, size: 1MiB, access: private}",
                rest: "payload:\n  path: g.bin\n  load: ram+0x0\n  mode: 1️⃣protected\n"),
            expect: [DiagnosticSpec("payload.snp-boot-area", message: "which is shared at launch")],
            valid: manifest(
                platform: "sev-snp",
                regions: "    - {name: low, base: 0x0, size: 1MiB, access: shared}\n    - {name: ram, base: 0x100000, size: 1MiB, access: private}",
                rest: "payload:\n  path: g.bin\n  load: ram+0x0\n  mode: real\n  measured: true\n")),
        Case(
            "payload.snp-boot-area (payload shares its pages)", "payload.snp-boot-area",
            invalid: manifest(
                platform: "sev-snp", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: convertible}",
                rest: "payload:\n  path: g.bin\n  load: 1️⃣ram+0x7000\n  mode: long\n"),
            expect: [DiagnosticSpec("payload.snp-boot-area", message: "shares pages with the boot area")],
            valid: manifest(
                platform: "sev-snp", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: convertible}",
                rest: "payload:\n  path: g.bin\n  load: ram+0x8000\n  mode: long\n")),
    ]

    // MARK: Launch parameters (DESIGN §10: `sev-snp:` and `tdx:`)

    /// A 96-byte ID block whose policy (bytes 88..<96) is `policy`.
    static func idBlock(policy: UInt64) -> PayloadFile {
        var bytes = [UInt8](repeating: 0xA5, count: 96)
        for i in 0..<8 { bytes[88 + i] = UInt8(truncatingIfNeeded: policy >> (8 * UInt64(i))) }
        return FakeFiles.file(bytes)
    }

    static let idFiles = FakeFiles(payloads: ["id.bin": idBlock(policy: 0x30000), "auth.bin": FakeFiles.flat(size: 4096)])
    static let snpRAM = convertibleRAM
    static let hex64 = String(repeating: "ab", count: 32)
    static let hex96 = String(repeating: "cd", count: 48)

    static let launchParameters: [Case] = [
        Case(
            "snp.platform", "snp.platform",
            invalid: manifest(platform: "tdx", regions: convertibleRAM, rest: "1️⃣sev-snp:\n  policy: 0x30000\n"),
            expect: [DiagnosticSpec("snp.platform", message: "belong to platform sev-snp only", note: "platform declared here")],
            valid: manifest(platform: "sev-snp", regions: convertibleRAM, rest: "sev-snp:\n  policy: 0x30000\n")),
        Case(
            "tdx.platform", "tdx.platform",
            invalid: manifest(platform: "sev-snp", regions: convertibleRAM, rest: "1️⃣tdx:\n  xfam: 0x3\n"),
            expect: [DiagnosticSpec("tdx.platform", message: "belong to platform tdx only")],
            valid: manifest(platform: "tdx", regions: convertibleRAM, rest: "tdx:\n  xfam: 0x3\n")),
        // KVM refuses a policy without bit 17 or with unsupported bits at LAUNCH_START (sev.c:2266-2308).
        Case(
            "snp.policy (bit 17 clear; sev.c:2266-2308)", "snp.policy",
            invalid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  policy: 1️⃣0x10000\n"),
            expect: [DiagnosticSpec("snp.policy", message: "clears bit 17, which is reserved and must be one (use 0x3_0000)")],
            valid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  policy: 0x30000\n")),
        Case(
            "snp.policy (reserved bit 40)", "snp.policy",
            invalid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  policy: 1️⃣0x100_0003_0000\n"),
            expect: [DiagnosticSpec("snp.policy", message: "sets reserved bit(s) 40", note: "known bits set: ABI 0.0, SMT")],
            valid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  policy: 0x170000\n")),
        Case(
            "snp.debug", "snp.debug",
            invalid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  policy: 1️⃣0xb0000\n"),
            valid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  policy: 0x30000\n")),
        Case(
            "snp.host-data (31 bytes)", "snp.host-data",
            invalid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  host-data: 1️⃣\"\(hex64.dropLast(2))\"\n"),
            expect: [DiagnosticSpec("snp.host-data", message: "found 62 characters")],
            valid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  host-data: \"\(hex64)\"\n")),
        Case(
            "snp.host-data (not hex)", "snp.host-data",
            invalid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  host-data: 1️⃣\"\(hex64.dropLast(1))g\"\n"),
            valid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  host-data: \"\(hex64.uppercased())\"\n")),
        Case(
            "snp.id-block (without id-auth)", "snp.id-block",
            invalid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  id-block: 1️⃣id.bin\n"),
            expect: [DiagnosticSpec("snp.id-block", message: "'id-block' needs 'id-auth'")],
            valid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  id-block: id.bin\n  id-auth: auth.bin\n"),
            files: idFiles),
        Case(
            "snp.id-block (wrong size)", "snp.id-block",
            invalid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  id-block: id.bin\n  id-auth: 1️⃣short.bin\n"),
            expect: [DiagnosticSpec("snp.id-block", message: "is 100 bytes; an ID authentication structure is 4096")],
            valid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  id-block: id.bin\n  id-auth: auth.bin\n"),
            files: FakeFiles(payloads: ["id.bin": idBlock(policy: 0x30000), "auth.bin": FakeFiles.flat(size: 4096), "short.bin": FakeFiles.flat(size: 100)])),
        Case(
            "snp.id-block (policy differs from the launch policy)", "snp.id-block",
            invalid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  policy: 0x70000\n  id-block: 1️⃣id.bin\n  id-auth: auth.bin\n"),
            expect: [DiagnosticSpec("snp.id-block", message: "policy 0x3_0000 differs from the launch policy 0x7_0000")],
            valid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  policy: 0x30000\n  id-block: id.bin\n  id-auth: auth.bin\n"),
            files: idFiles),
        Case(
            "snp.id-block (missing file)", "snp.id-block",
            invalid: manifest(platform: "sev-snp", regions: snpRAM, rest: "sev-snp:\n  id-block: 1️⃣id.bin\n  id-auth: auth.bin\n"),
            expect: [DiagnosticSpec("snp.id-block", message: "does not exist or cannot be read")],
            valid: manifest(platform: "sev-snp", regions: snpRAM),
            files: FakeFiles(payloads: ["auth.bin": FakeFiles.flat(size: 4096)], fallback: nil)),
        Case(
            "tdx.attributes (reserved bit 1)", "tdx.attributes",
            invalid: manifest(platform: "tdx", regions: convertibleRAM, rest: "tdx:\n  attributes: 1️⃣0x2\n"),
            expect: [DiagnosticSpec("tdx.attributes", message: "reserved bit(s) 1")],
            valid: manifest(platform: "tdx", regions: convertibleRAM, rest: "tdx:\n  attributes: 0x10000000\n")),
        Case(
            "tdx.debug", "tdx.debug",
            invalid: manifest(platform: "tdx", regions: convertibleRAM, rest: "tdx:\n  attributes: 1️⃣0x1\n"),
            valid: manifest(platform: "tdx", regions: convertibleRAM, rest: "tdx:\n  attributes: 0x0\n")),
        Case(
            "tdx.xfam (no SSE)", "tdx.xfam",
            invalid: manifest(platform: "tdx", regions: convertibleRAM, rest: "tdx:\n  xfam: 1️⃣0x1\n"),
            expect: [DiagnosticSpec("tdx.xfam", message: "x87 and SSE (bits 0 and 1) must be set")],
            valid: manifest(platform: "tdx", regions: convertibleRAM, rest: "tdx:\n  xfam: 0x3\n")),
        Case(
            "tdx.xfam (half of AVX-512, undefined bit 40)", "tdx.xfam",
            invalid: manifest(platform: "tdx", regions: convertibleRAM, rest: "tdx:\n  xfam: 1️⃣0x100_0000_0027\n"),
            expect: [
                DiagnosticSpec("tdx.xfam", message: "bit(s) 40 are not defined"),
                DiagnosticSpec("tdx.xfam", message: "AVX-512 components"),
            ],
            valid: manifest(platform: "tdx", regions: convertibleRAM, rest: "tdx:\n  xfam: 0x600e7\n")),
        Case(
            "tdx.measurement-register (47 bytes)", "tdx.measurement-register",
            invalid: manifest(
                platform: "tdx", regions: convertibleRAM,
                rest: "tdx:\n  mrconfigid: \"\(hex96)\"\n  mrowner: 1️⃣\"\(hex96.dropLast(2))\"\n"),
            expect: [DiagnosticSpec("tdx.measurement-register", message: "mrowner must be 48 bytes")],
            valid: manifest(
                platform: "tdx", regions: convertibleRAM,
                rest: "tdx:\n  mrconfigid: \"\(hex96)\"\n  mrowner: \"\(hex96)\"\n  mrownerconfig: \"\(hex96)\"\n")),
    ]

    // MARK: Host profiles

    static let hosts: [Case] = [
        Case(
            "host.arch", "host.arch",
            invalid: manifest(arch: "1️⃣x86_64", regions: ram),
            expect: [DiagnosticSpec("host.arch", message: "the host is arm64", note: "host profile: 6.18.0-test (arm64)")],
            valid: manifest(arch: "arm64", regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB}"),
            host: makeHost(arch: "arm64")),
        Case(
            "host.vm-type", "host.vm-type",
            invalid: manifest(platform: "1️⃣sev-snp", regions: convertibleRAM),
            expect: [DiagnosticSpec("host.vm-type", message: "not sev-snp (KVM_X86_SNP_VM)")],
            valid: manifest(platform: "sw-protected", regions: convertibleRAM),
            host: makeHost(vmTypes: ["default", "sw-protected"])),
        Case(
            "host.capability (no guest_memfd)", "host.capability",
            invalid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB, backing: 1️⃣guest-memfd, guest-memfd: {mmap: true, init-shared: true}}"),
            expect: [
                DiagnosticSpec("host.capability", message: "lacks KVM_CAP_GUEST_MEMFD"),
                DiagnosticSpec("host.capability", message: "lacks KVM_CAP_USER_MEMORY2"),
            ],
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB, backing: anonymous}"),
            host: makeHost(caps: ["KVM_CAP_READONLY_MEM": 1])),
        Case(
            "host.capability (no private attribute for the VM type)", "host.capability",
            invalid: manifest(platform: "sw-protected", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: 1️⃣convertible}"),
            expect: [DiagnosticSpec("host.capability", message: "KVM_CAP_MEMORY_ATTRIBUTES = 0x0 on a KVM_X86_SW_PROTECTED_VM VM, the plan needs bits 0x8")],
            valid: manifest(platform: "sw-protected", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: shared}"),
            host: makeHost(perVMType: ["sw-protected": ["KVM_CAP_MEMORY_ATTRIBUTES": 0]])),
        Case(
            "host.capability (no hypercall exits)", "host.capability",
            invalid: manifest(platform: "sw-protected", regions: convertibleRAM, rest: "sharing:\n  conversion: 1️⃣[hypercall, fault]\n"),
            expect: [DiagnosticSpec("host.capability", message: "KVM_CAP_EXIT_HYPERCALL")],
            valid: manifest(platform: "sw-protected", regions: convertibleRAM, rest: "sharing:\n  conversion: [fault]\n"),
            // KVM_CAP_EXIT_HYPERCALL is read on /dev/kvm (the plan's requirement, and the live host check).
            host: makeHost(caps: [
                "KVM_CAP_GUEST_MEMFD": 1, "KVM_CAP_USER_MEMORY2": 1, "KVM_CAP_MEMORY_ATTRIBUTES": 8, "KVM_CAP_EXIT_HYPERCALL": 0,
                "KVM_CAP_READONLY_MEM": 1, "KVM_CAP_GUEST_MEMFD_FLAGS": 3,
            ])),
        Case(
            "host.capability (no read-only memory)", "host.capability",
            invalid: manifest(regions: "    - {name: rom, base: 0x0, size: 2MiB, readonly: 1️⃣true}"),
            valid: manifest(regions: "    - {name: rom, base: 0x0, size: 2MiB, readonly: false}"),
            host: makeHost(caps: ["KVM_CAP_GUEST_MEMFD": 1])),
        Case(
            "host.gmem-flags", "host.gmem-flags",
            invalid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB, backing: guest-memfd, guest-memfd: 1️⃣{mmap: true, init-shared: true}}"),
            expect: [DiagnosticSpec("host.gmem-flags", message: "KVM_CAP_GUEST_MEMFD_FLAGS = 0x0 on a KVM_X86_DEFAULT_VM VM, the plan needs bits 0x3")],
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB, backing: guest-memfd, guest-memfd: {mmap: false}}"),
            host: makeHost(perVMType: ["default": ["KVM_CAP_GUEST_MEMFD_FLAGS": 0]])),
    ]

    static let launchHost: HostProfile = {
        var host = makeHost()
        host.tdxSupportedAttributes = 1 << 28
        host.tdxSupportedXFAM = 0xe7
        host.snpSupportedPolicyBits = 0x1f_ffff
        return host
    }()

    static let launchHosts: [Case] = [
        Case(
            "host.launch-parameters (TD attribute the host lacks)", "host.launch-parameters",
            invalid: manifest(platform: "tdx", regions: convertibleRAM, rest: "tdx:\n  attributes: 1️⃣0x40000000\n"),
            expect: [DiagnosticSpec("host.launch-parameters", message: "bit(s) 30 this host does not support (supported: 0x1000_0000)")],
            valid: manifest(platform: "tdx", regions: convertibleRAM, rest: "tdx:\n  attributes: 0x10000000\n"),
            host: launchHost),
        Case(
            "host.launch-parameters (XFAM the host lacks)", "host.launch-parameters",
            invalid: manifest(platform: "tdx", regions: convertibleRAM, rest: "tdx:\n  xfam: 1️⃣0x60003\n"),
            valid: manifest(platform: "tdx", regions: convertibleRAM, rest: "tdx:\n  xfam: 0xe7\n"),
            host: launchHost),
        Case(
            "host.launch-parameters (SNP policy bit the host lacks)", "host.launch-parameters",
            invalid: manifest(platform: "sev-snp", regions: convertibleRAM, rest: "sev-snp:\n  policy: 1️⃣0x230000\n"),
            expect: [DiagnosticSpec("host.launch-parameters", message: "bit(s) 21")],
            valid: manifest(platform: "sev-snp", regions: convertibleRAM, rest: "sev-snp:\n  policy: 0x130000\n"),
            host: launchHost),
    ]

    static let all = layout + guestMemfd + platform + sharing + payloads + linuxCases + starts + launchParameters + hosts + launchHosts

    // MARK: Linux

    static let kernel = FakeFiles.file(BzImageBuilder().bytes)
    static let linuxRAM = "    - {name: ram, base: 0x0, size: 64MiB}"
    static let linuxFiles = FakeFiles(payloads: ["bzImage": kernel, "initrd.cpio": FakeFiles.flat(size: 1 << 20)])
    static func linux(_ extra: String = "", path: String = "bzImage") -> String {
        "payload:\n  format: linux\n  path: \(path)\n" + extra
    }

    static let linuxCases: [Case] = [
        Case(
            "payload.linux-keys (load)", "payload.linux-keys",
            invalid: manifest(regions: linuxRAM, rest: linux("  load: 1️⃣ram+0x100000\n")),
            expect: [DiagnosticSpec("payload.linux-keys", message: "'load' is decided by the Linux boot protocol")],
            valid: manifest(regions: linuxRAM, rest: linux()), files: linuxFiles),
        Case(
            "payload.linux-keys (entry, mode)", "payload.linux-keys",
            invalid: manifest(regions: linuxRAM, rest: linux("  entry: 1️⃣0x100000\n  mode: 2️⃣long\n")),
            expect: [
                DiagnosticSpec("payload.linux-keys", at: "1️⃣", message: "'entry'"),
                DiagnosticSpec("payload.linux-keys", at: "2️⃣", message: "'mode'"),
            ],
            valid: manifest(regions: linuxRAM, rest: linux("  cmdline: console=ttyS0\n")), files: linuxFiles),
        Case(
            "payload.linux-keys (initrd without linux)", "payload.linux-keys",
            invalid: manifest(regions: ram, rest: payload + "  initrd: 1️⃣initrd.cpio\n"),
            expect: [DiagnosticSpec("payload.linux-keys", message: "'initrd' needs 'format: linux'")],
            valid: manifest(regions: ram, rest: payload)),
        Case(
            "payload.linux-arch", "payload.linux-arch",
            invalid: manifest(arch: "arm64", regions: "    - {name: ram, base: 0x4000_0000, size: 64MiB}", rest: "payload:\n  format: 1️⃣linux\n  path: bzImage\n"),
            expect: [DiagnosticSpec("payload.linux-arch", message: "not supported on arm64 yet")],
            valid: manifest(arch: "arm64", regions: "    - {name: ram, base: 0x4000_0000, size: 64MiB}", rest: "payload:\n  format: elf\n  path: g.elf\n"),
            files: FakeFiles(payloads: ["bzImage": kernel, "g.elf": FakeFiles.file(ELFBuilder.simple(at: 0x4000_0000, machine: 183).bytes)])),
        Case(
            "payload.linux-platform", "payload.linux-platform",
            invalid: manifest(platform: "sev-snp", regions: "    - {name: ram, base: 0x0, size: 64MiB, access: private}", rest: "payload:\n  format: 1️⃣linux\n  path: bzImage\n"),
            expect: [DiagnosticSpec("payload.linux-platform", message: "platform 'sev-snp' cannot do", note: "platform declared here")],
            valid: manifest(platform: "sw-protected", regions: linuxRAM, rest: linux()), files: linuxFiles),
        Case(
            "payload.linux-image (not a bzImage)", "payload.linux-image",
            invalid: manifest(regions: linuxRAM, rest: linux(path: "1️⃣g.bin")),
            expect: [DiagnosticSpec("payload.linux-image", message: "not a bzImage (no \"HdrS\"")],
            valid: manifest(regions: linuxRAM, rest: linux()), files: linuxFiles),
        Case(
            "payload.linux-image (protocol 2.05)", "payload.linux-image",
            invalid: manifest(regions: linuxRAM, rest: linux(path: "1️⃣old")),
            expect: [DiagnosticSpec("payload.linux-image", message: "boot protocol 2.05 is older than 2.06")],
            valid: manifest(regions: linuxRAM, rest: linux()),
            files: FakeFiles(payloads: ["bzImage": kernel, "old": FakeFiles.file(BzImageBuilder(version: 0x0205).bytes)])),
        Case(
            "payload.linux-image (truncated)", "payload.linux-image",
            invalid: manifest(regions: linuxRAM, rest: linux(path: "1️⃣short")),
            expect: [DiagnosticSpec("payload.linux-image", message: "truncated bzImage")],
            valid: manifest(regions: linuxRAM, rest: linux()),
            files: FakeFiles(payloads: ["bzImage": kernel, "short": FakeFiles.file(Array(BzImageBuilder().bytes.prefix(0x240)))])),
        Case(
            "payload.linux-placement (RAM ends below the run area)", "payload.linux-placement",
            invalid: manifest(regions: "    - {name: ram, base: 0x0, size: 16MiB}", rest: linux(path: "1️⃣bzImage")),
            expect: [DiagnosticSpec("payload.linux-placement", message: "the kernel needs RAM 0x100000..0x13fffff")],
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 20MiB}", rest: linux()), files: linuxFiles),
        Case(
            "payload.linux-placement (a region over the VMX pages)", "payload.linux-placement",
            invalid: manifest(regions: linuxRAM + "\n    - {name: mmio, base: 1️⃣0xfff0_0000, size: 1MiB, backing: none}", rest: linux()),
            expect: [DiagnosticSpec("payload.linux-placement", message: "KVM_SET_TSS_ADDR")],
            valid: manifest(regions: linuxRAM + "\n    - {name: mmio, base: 0xfec0_0000, size: 1MiB, backing: none}", rest: linux()),
            files: linuxFiles),
        Case(
            "payload.linux-memory", "payload.linux-memory",
            invalid: manifest(regions: "    - {name: ram, base: 0x0, size: 20MiB}", rest: linux("  initrd: 1️⃣big.cpio\n")),
            expect: [DiagnosticSpec("payload.linux-memory", message: "RAM too small for kernel + initrd")],
            valid: manifest(regions: "    - {name: ram, base: 0x0, size: 32MiB}", rest: linux("  initrd: big.cpio\n")),
            files: FakeFiles(payloads: ["bzImage": kernel, "big.cpio": FakeFiles.flat(size: 8 << 20)])),
        Case(
            "payload.linux-initrd (missing)", "payload.linux-initrd",
            invalid: manifest(regions: linuxRAM, rest: linux("  initrd: 1️⃣missing.cpio\n")),
            expect: [DiagnosticSpec("payload.linux-initrd", message: "'missing.cpio' does not exist")],
            valid: manifest(regions: linuxRAM, rest: linux("  initrd: initrd.cpio\n")),
            files: FakeFiles(payloads: ["bzImage": kernel, "initrd.cpio": FakeFiles.flat(size: 4096)], fallback: nil)),
        Case(
            "payload.linux-initrd (above initrd_addr_max)", "payload.linux-initrd",
            invalid: manifest(regions: linuxRAM, rest: linux("  initrd: 1️⃣initrd.cpio\n", path: "low-max")),
            expect: [DiagnosticSpec("payload.linux-initrd", message: "does not fit between the kernel's end 0x1400000 and initrd_addr_max 0x14fffff")],
            valid: manifest(regions: linuxRAM, rest: linux("  initrd: initrd.cpio\n")),
            files: FakeFiles(payloads: [
                "bzImage": kernel, "initrd.cpio": FakeFiles.flat(size: 2 << 20),
                "low-max": FakeFiles.file(BzImageBuilder(initrdAddrMax: 0x14f_ffff).bytes),
            ])),
        Case(
            "payload.linux-cmdline (longer than cmdline_size)", "payload.linux-cmdline",
            invalid: manifest(regions: linuxRAM, rest: linux("  cmdline: 1️⃣\"\(String(repeating: "x", count: 2048))\"\n")),
            expect: [DiagnosticSpec("payload.linux-cmdline", message: "2048 bytes, longer than the kernel's cmdline_size 2047")],
            valid: manifest(regions: linuxRAM, rest: linux("  cmdline: \"\(String(repeating: "x", count: 2047))\"\n")),
            files: linuxFiles),
        Case(
            "payload.linux-vcpus", "payload.linux-vcpus",
            invalid: manifest(top: "vcpus: 1️⃣33\n", regions: linuxRAM, rest: linux()),
            expect: [DiagnosticSpec("payload.linux-vcpus", message: "MP table lists at most 32")],
            valid: manifest(top: "vcpus: 32\n", regions: linuxRAM, rest: linux()), files: linuxFiles),
        Case(
            "payload.linux-placement (memory over the IOAPIC)", "payload.linux-placement",
            invalid: manifest(regions: linuxRAM + "\n    - {name: high, base: 1️⃣0xfe00_0000, size: 16MiB}", rest: linux()),
            expect: [
                DiagnosticSpec("payload.linux-placement", message: "where the in-kernel IOAPIC of a Linux guest lives"),
                DiagnosticSpec("payload.linux-placement", message: "where the in-kernel local APIC of a Linux guest lives"),
            ],
            valid: manifest(regions: linuxRAM + "\n    - {name: high, base: 0xfe00_0000, size: 8MiB}", rest: linux()), files: linuxFiles),
    ]

    // MARK: Tests

    @Test("the invalid case has the rule's diagnostic at the marker", arguments: all)
    func invalid(_ c: Case) {
        let snippet = MarkedSnippet(c.invalid)
        let (_, diagnostics) = check(snippet.source, files: c.files, host: c.host)
        expectDiagnostics(diagnostics, c.expected, in: snippet)
        for d in diagnostics.all where d.id.rawValue == c.id {
            #expect(!d.path.components.isEmpty, "rule diagnostics name the offending value's data path: \(d)")
        }
        let reported = diagnostics.all.filter { $0.id.rawValue == c.id }.count
        #expect(reported == c.expected.filter { $0.id == c.id }.count, "each problem is reported once:\n\(render(diagnostics))")
    }

    @Test("the valid case has no diagnostic with the rule's id", arguments: all)
    func valid(_ c: Case) {
        #expect(!c.valid.contains("1️⃣"), "markers belong in the invalid case")
        let (_, diagnostics) = check(c.valid, files: c.files, host: c.host)
        #expect(!diagnostics.all.contains { $0.id.rawValue == c.id }, "\(render(diagnostics))")
    }

    @Test("every rule and every host id has a case")
    func coverage() {
        let covered = Set(Self.all.map(\.id))
        for rule in RuleRegistry.rules {
            #expect(covered.contains(rule.id.rawValue), "no case for \(rule.id)")
        }
        for doc in HostRules.documentation {
            #expect(covered.contains(doc.id.rawValue), "no case for \(doc.id)")
        }
        #expect(Set(Self.all.map(\.name)).count == Self.all.count, "case names are unique")
    }
}
