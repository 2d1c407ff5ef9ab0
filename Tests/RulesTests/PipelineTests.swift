import Compiler
import Diagnostics
import Foundation
import Manifest
import Rules
import TestSupport
import Testing

/// The check stage as a whole: samples, one-run reporting, damaged keys, performance, ELF parsing.
@Suite("Check pipeline")
struct PipelineTests {
    @Test("every sample manifest checks without errors", arguments: try samples())
    func samplesAreValid(_ name: String) throws {
        let bytes = try FileManagerShim.read(Repo.path("Manifests/\(name)"))
        let (checked, diagnostics) = CompilerPipeline(files: RepoFiles()).check(bytes: bytes, file: "Manifests/\(name)")
        expectCleanOutcome((checked, diagnostics))
        #expect(checked != nil, "\(render(diagnostics))")
        #expect(diagnostics.all.allSatisfy { $0.severity == .warning })
    }

    /// A flat payload too large to read still has a size: the rules that need only where it lies (fits, mode) still
    /// speak, beside "larger than 256MiB"; an empty one still has an entry outside it.
    @Test func aPayloadTooLargeToReadIsStillPlaced() {
        let text = manifest(
            regions: "    - {name: ram, base: 0x0, size: 2MiB}", rest: "payload:\n  path: huge.bin\n  load: ram+0x1000\n  mode: real\n")
        let huge = FakeFiles(payloads: ["huge.bin": PayloadFile(kind: .regular, size: 1 << 30, bytes: nil)])
        let ids = Set(check(text, files: huge).1.all.map(\.id.rawValue))
        #expect(ids.isSuperset(of: ["payload.file", "payload.fits", "payload.mode"]), "\(ids)")
        let empty = FakeFiles(payloads: ["huge.bin": FakeFiles.file([])])
        #expect(Set(check(text, files: empty).1.all.map(\.id.rawValue)).isSuperset(of: ["payload.file", "payload.entry"]))
    }

    @Test("five independent mistakes of parse and check give five diagnostics in one run")
    func fiveMistakes() {
        let snippet = MarkedSnippet(
            """
            kvmplan: 1
            name: 1️⃣Demo
            arch: x86_64
            platform: default
            2️⃣vcpu: 2
            memory:
              regions:
                - {name: ram, base: 0x0, size: 2MiB}
                - {name: dma, base: 3️⃣0x100000, size: 1MiB}
                - {name: rom, base: 4️⃣0x300800, size: 4KiB}
                - {name: buf, base: 0x400000, size: 4KiB, backing: guest-memfd, guest-memfd: {mmap: true, init-shared: true}, readonly: 5️⃣true}

            """)
        let (checked, diagnostics) = check(snippet.source)
        #expect(checked == nil)
        expectDiagnostics(
            diagnostics,
            [
                DiagnosticSpec("format.name", at: "1️⃣"), DiagnosticSpec("format.unknown-key", at: "2️⃣", note: "did you mean 'vcpus'?"),
                DiagnosticSpec("memory.overlap", at: "3️⃣"), DiagnosticSpec("memory.alignment", at: "4️⃣"),
                DiagnosticSpec("gmem.readonly", at: "5️⃣"),
            ], in: snippet, exhaustive: true)
    }

    @Test("a damaged key keeps its dependent rules quiet")
    func damagedKeys() {
        // An unknown platform: no platform rule may pile follow-up errors on the format error.
        let (checked, diagnostics) = check(
            manifest(platform: "sev-snb", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: private}"))
        #expect(checked == nil)
        #expect(diagnostics.all.map(\.id) == ["format.value"], "\(render(diagnostics))")
    }

    @Test("without errors the result is a checked manifest, with warnings kept")
    func checkedWithWarnings() throws {
        let (checked, diagnostics) = check(
            manifest(platform: "sw-protected", regions: "    - {name: ram, base: 0x0, size: 2MiB, access: convertible}"))
        let checkedManifest = try #require(checked)
        #expect(checkedManifest.traits.platform == .swProtected)
        #expect(checkedManifest.context.accessType == .attribute)
        #expect(checkedManifest.context.convertibleNames == ["ram"])
        #expect(diagnostics.all.map(\.id) == ["platform.testing-only"])
    }

    @Test(
        "platform defaults are resolved from the platform table",
        arguments: [
            ("sev-snp", "", AccessType.cBit, 51 as Int?, [ConversionExit.hypercall, .fault]),
            ("tdx", "gpa-bits: 48\n", .gpaBit, 47, [.hypercall, .fault]),
            ("tdx", "gpa-bits: 52\n", .gpaBit, 51, [.hypercall, .fault]),
            ("sw-protected", "", .attribute, nil, [.hypercall]),
        ])
    func defaults(_ platform: String, _ top: String, _ type: AccessType, _ bit: Int?, _ exits: [ConversionExit]) throws {
        let (checked, diagnostics) = check(
            manifest(platform: platform, top: top, regions: "    - {name: ram, base: 0x0, size: 2MiB, access: convertible}"))
        let context = try #require(checked, "\(render(diagnostics))").context
        #expect(context.accessType == type)
        #expect(context.sharedBit == bit)
        #expect(context.conversion == exits)
    }

    @Test(
        "arm64 platform defaults",
        arguments: [
            ("cca", "gpa-bits: 44\n", AccessType.ipaBit, 43 as Int?, [ConversionExit.fault]),
            ("pkvm", "", .inPlace, nil, []),
        ])
    func armDefaults(_ platform: String, _ top: String, _ type: AccessType, _ bit: Int?, _ exits: [ConversionExit]) throws {
        let (checked, diagnostics) = check(
            manifest(
                arch: "arm64", platform: platform, top: top,
                regions: "    - {name: ram, base: 0x8000_0000, size: 2MiB, access: convertible, backing: \(platform == "pkvm" ? "anonymous" : "guest-memfd")}"))
        let context = try #require(checked, "\(render(diagnostics))").context
        #expect(context.accessType == type)
        #expect(context.sharedBit == bit)
        #expect(context.conversion == exits)
    }

    // MARK: Performance

    /// `count` non-overlapping 4 KiB regions in shuffled order, as a parsed manifest.
    static func manyRegions(_ count: Int) throws -> Manifest {
        var order = Array(0..<count)
        var rng = SplitMix64(seed: 42)
        order.shuffle(using: &rng)
        let regions = order.map { "    - {name: r\($0), base: \(ManifestInteger.formatHex(UInt64($0) << 13)), size: 4KiB}" }
        let text = manifest(regions: regions.joined(separator: "\n"))
        let (parsed, diagnostics) = ManifestParser.parse(bytes: Array(text.utf8), file: "many.yaml")
        #expect(diagnostics.isEmpty)
        return try #require(parsed)
    }

    @Test("the overlap rule on 20 000 regions runs well under a second", .timeLimit(.minutes(1)))
    func overlapPerformance() throws {
        var manifest = try Self.manyRegions(20_000)
        var diagnostics = Diagnostics()
        var start = ContinuousClock.now
        RegionOverlap.check(RuleContext(manifest: manifest), into: &diagnostics)
        var elapsed = ContinuousClock.now - start
        #expect(diagnostics.isEmpty)
        #expect(elapsed < .seconds(1), "overlap of 20 000 disjoint regions took \(elapsed)")

        // Every region overlapping the next: 19 999 findings, still fast.
        for n in manifest.memory.regions.indices { manifest.memory.regions[n].size.value = 12 << 10 }
        start = ContinuousClock.now
        RegionOverlap.check(RuleContext(manifest: manifest), into: &diagnostics)
        elapsed = ContinuousClock.now - start
        #expect(diagnostics.all.count == 19_999)
        #expect(elapsed < .seconds(1), "overlap of 20 000 chained regions took \(elapsed)")
    }

    @Test("all rules on 20 000 regions finish in a few seconds", .timeLimit(.minutes(1)))
    func allRulesPerformance() throws {
        let manifest = try Self.manyRegions(20_000)
        let start = ContinuousClock.now
        let diagnostics = RuleRegistry.check(RuleContext(manifest: manifest))
        let elapsed = ContinuousClock.now - start
        #expect(diagnostics.isEmpty, "\(render(diagnostics))")
        #expect(elapsed < .seconds(5), "the rule catalogue on 20 000 regions took \(elapsed)")
    }

    // MARK: ELF

    struct ELFCase: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        var reason: String
        var testDescription: String { name }
    }

    /// The bytes of the simple ELF file with one header field changed.
    static func built(_ change: (inout ELFBuilder) -> Void) -> [UInt8] {
        var builder = ELFBuilder.simple()
        change(&builder)
        return builder.bytes
    }

    static func patched(_ builder: ELFBuilder = .simple(), _ patch: (inout [UInt8]) -> Void) -> [UInt8] {
        var bytes = builder.bytes
        patch(&bytes)
        return bytes
    }

    static let elfCases: [ELFCase] = [
        ELFCase(name: "empty", bytes: [], reason: "no \\x7fELF magic"),
        ELFCase(name: "text", bytes: Array("#!/bin/sh\necho hello, this is not an ELF file at all, and it is long enough\n".utf8), reason: "no \\x7fELF magic"),
        ELFCase(name: "truncated header", bytes: Array(ELFBuilder.simple().bytes.prefix(40)), reason: "no \\x7fELF magic"),
        ELFCase(name: "32-bit", bytes: built { $0.elfClass = 1 }, reason: "not a 64-bit ELF file"),
        ELFCase(name: "big-endian", bytes: built { $0.dataEncoding = 2 }, reason: "not a little-endian"),
        ELFCase(name: "relocatable object", bytes: built { $0.type = 1 }, reason: "not an executable"),
        ELFCase(name: "no program headers", bytes: ELFBuilder(entry: 0, segments: []).bytes, reason: "no program headers"),
        ELFCase(
            name: "small program header entries", bytes: built { $0.programHeaderSize = 32 },
            reason: "program header size 32 is too small"),
        ELFCase(name: "program headers outside the file", bytes: patched { $0[32...33] = [0xFF, 0xFF] }, reason: "program headers lie outside the file"),
        ELFCase(name: "many program headers", bytes: patched { $0[56...57] = [0xFF, 0xFF] }, reason: "lies outside the file"),
        ELFCase(name: "segment beyond the file", bytes: patched { $0[64 + 32 + 2] = 0x10 }, reason: "extends beyond the end of the file"),
        ELFCase(name: "segment offset overflow", bytes: patched { for i in 0..<8 { $0[64 + 8 + i] = 0xFF } }, reason: "extends beyond the end of the file"),
        ELFCase(
            name: "memsz below filesz",
            bytes: ELFBuilder(entry: 0, segments: [.init(physicalAddress: 0x100000, contents: [1, 2, 3], memorySize: 1)]).bytes,
            reason: "p_memsz < p_filesz"),
        ELFCase(
            name: "segment wraps the address space",
            bytes: ELFBuilder(entry: 0, segments: [.init(physicalAddress: UInt64.max - 1, contents: [1, 2, 3])]).bytes,
            reason: "wraps the address space"),
        ELFCase(
            name: "no PT_LOAD", bytes: ELFBuilder(entry: 0, segments: [.init(type: 4, physicalAddress: 0, contents: [1])]).bytes,
            reason: "no PT_LOAD segment"),
    ]

    @Test("malformed ELF files give a reason, never a trap", arguments: elfCases)
    func elfFailures(_ c: ELFCase) {
        switch ELFImage.parse(c.bytes) {
        case .success(let image): Issue.record("parsed: \(image)")
        case .failure(let failure): #expect(failure.reason.contains(c.reason), "\(failure.reason)")
        }
    }

    @Test("an ELF64 executable gives its entry, machine and PT_LOAD segments")
    func elfSegments() throws {
        let builder = ELFBuilder(
            machine: 183, entry: 0x8000_1000,
            segments: [
                .init(flags: 5, physicalAddress: 0x8000_0000, contents: [UInt8](repeating: 1, count: 100)),
                .init(type: 4, physicalAddress: 0, contents: [0]),  // PT_NOTE: skipped
                .init(flags: 6, physicalAddress: 0x8010_0000, contents: [2, 2], memorySize: 0x2000),
            ])
        let image = try ELFImage.parse(builder.bytes).get()
        #expect(image.entry == 0x8000_1000)
        #expect(image.machine == ELFImage.machineAArch64)
        #expect(image.segments.map(\.physicalAddress) == [0x8000_0000, 0x8010_0000])
        #expect(image.segments.map(\.memorySize) == [100, 0x2000])
        #expect(image.segments.map(\.fileSize) == [100, 2])
        #expect(image.segments.map(\.executable) == [true, false])
    }

    @Test("every prefix of a valid ELF file parses or fails cleanly")
    func elfPrefixes() {
        let bytes = ELFBuilder(
            entry: 0x100000,
            segments: [.init(physicalAddress: 0x100000, contents: [1, 2, 3, 4]), .init(physicalAddress: 0x200000, contents: [5])]
        ).bytes
        for n in 0...bytes.count {
            _ = ELFImage.parse(Array(bytes.prefix(n)))
        }
    }

    // MARK: Local files

    /// A scratch directory with `guest.bin` (4 KiB), removed afterwards.
    static func withScratch(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-payload-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(repeating: 0xF4, count: 4096).write(to: URL(fileURLWithPath: directory + "/guest.bin"))
        try body(directory)
    }

    static let payloadManifest = manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB}", rest: "payload:\n  path: PATH\n  load: ram+0x100000\n")

    @Test("payload paths resolve against the manifest's directory, on the real file system")
    func relativePayload() throws {
        try Self.withScratch { directory in
            let text = Self.payloadManifest.replacingOccurrences(of: "PATH", with: "guest.bin")
            let (checked, diagnostics) = CompilerPipeline().check(bytes: Array(text.utf8), file: directory + "/guest.yaml")
            #expect(checked != nil, "\(render(diagnostics))")
            let (_, elsewhere) = CompilerPipeline().check(bytes: Array(text.utf8), file: directory + "/sub/guest.yaml")
            #expect(elsewhere.all.map(\.id) == ["payload.file"])
            #expect(elsewhere.all.first?.message.contains(directory + "/sub/guest.bin") == true)
            let (_, directoryPayload) = CompilerPipeline().check(
                bytes: Array(Self.payloadManifest.replacingOccurrences(of: "PATH", with: ".").utf8), file: directory + "/guest.yaml")
            #expect(directoryPayload.all.contains { $0.id == "payload.file" && $0.message.contains("is a directory") })
        }
    }

    @Test(
        "a payload behind a symbolic link is the file it points to",
        .bug(id: "payload-symlink", "LocalFileAccess.payload uses attributesOfItem, which does not follow symbolic links: a link to a regular file is 'not a regular file'"))
    func symlinkPayload() throws {
        try Self.withScratch { directory in
            try FileManager.default.createSymbolicLink(atPath: directory + "/link.bin", withDestinationPath: "guest.bin")
            let text = Self.payloadManifest.replacingOccurrences(of: "PATH", with: "link.bin")
            let (checked, diagnostics) = CompilerPipeline().check(bytes: Array(text.utf8), file: directory + "/guest.yaml")
            #expect(checked != nil, "\(render(diagnostics))")
        }
    }

    // MARK: Known bugs

    @Test(
        "an empty payload outside RAM is a diagnostic, not a crash",
        .bug(id: "payload-fits-underflow", "fixed: PayloadFits formatted end - 1 with end == 0"))
    func emptyPayloadAtZero() async {
        await #expect(processExitsWith: .success) {
            let text = manifest(
                regions: "    - {name: ram, base: 0x100000, size: 2MiB}", rest: "payload:\n  path: g.bin\n  load: 0x0\n  mode: real\n")
            let files = FakeFiles.only(PayloadFile(kind: .regular, size: 0, bytes: []))
            _ = CompilerPipeline(files: files).check(bytes: Array(text.utf8), file: "guest.yaml")
        }
    }
}
