import Compiler
import Diagnostics
import Foundation
import Manifest
import Rules
import TestSupport
import Testing

// `MarkedSnippet` (the marked snippet itself) lives in TestSupport.

// MARK: - Expected diagnostics

// `DiagnosticSpec` and the matching itself live in TestSupport.

/// `expectDiagnostics` with the rules' defaults: other diagnostics allowed unless `exhaustive`, and a spec
/// without a severity expects the one the rule catalogue documents.
func expectDiagnostics(
    _ diagnostics: Diagnostics, _ specs: [DiagnosticSpec], in snippet: MarkedSnippet, exhaustive: Bool = false,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    TestSupport.expectDiagnostics(
        diagnostics, specs, in: snippet, exhaustive: exhaustive, defaultSeverity: { RuleCatalogue.byID[$0]?.severity },
        sourceLocation: sourceLocation)
}

// MARK: - Running the pipeline

/// Every diagnostic id any test in this target has seen, for the catalogue test.
final class SeenIDs: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: Set<DiagnosticID> = []

    func insert(_ more: some Sequence<DiagnosticID>) { lock.withLock { ids.formUnion(more) } }
    var all: Set<DiagnosticID> { lock.withLock { ids } }
}

let seenIDs = SeenIDs()

/// `CompilerPipeline.check(bytes:file:)` with files from `files`, asserting on the way what holds for every
/// run: each diagnostic is located, and its id is documented in the rule catalogue.
func check(
    _ source: String, file: String = MarkedSnippet.file, files: any FileAccess = FakeFiles(), host: HostProfile? = nil,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) -> (CheckedManifest?, Diagnostics) {
    let result = CompilerPipeline(files: files, host: host).check(bytes: Array(source.utf8), file: file)
    expectCleanOutcome(result, sourceLocation: sourceLocation)
    return result
}

/// What every outcome of the pipeline must be: located, documented diagnostics; a checked manifest or an error.
func expectCleanOutcome(_ result: (CheckedManifest?, Diagnostics), sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    let (checked, diagnostics) = result
    seenIDs.insert(diagnostics.all.map(\.id))
    for d in diagnostics {
        #expect(!d.id.rawValue.isEmpty, sourceLocation: sourceLocation)
        #expect(RuleCatalogue.byID[d.id] != nil, "undocumented id \(d.id)", sourceLocation: sourceLocation)
        #expect(d.location.line >= 1 && d.location.column >= 1, "unlocated: \(d)", sourceLocation: sourceLocation)
    }
    #expect((checked != nil) != diagnostics.hasErrors, "a checked manifest xor an error", sourceLocation: sourceLocation)
}

// MARK: - Fake files

/// `FileAccess` without a file system: payloads by resolved path, with a default for any other path.
struct FakeFiles: FileAccess {
    var payloads: [String: PayloadFile] = [:]
    /// What `payload(at:)` returns for paths not in `payloads`; nil means "does not exist".
    var fallback: PayloadFile? = FakeFiles.flat(size: 4096)

    func payload(at path: String) -> PayloadFile? { payloads[path] ?? fallback }

    static func flat(size: Int) -> PayloadFile {
        PayloadFile(kind: .regular, size: UInt64(size), bytes: [UInt8](repeating: 0xF4, count: size))
    }

    static func file(_ bytes: [UInt8]) -> PayloadFile { PayloadFile(kind: .regular, size: UInt64(bytes.count), bytes: bytes) }

    static func only(_ file: PayloadFile) -> FakeFiles { FakeFiles(fallback: file) }
}

// MARK: - Host profiles

/// A host profile with every capability kvmplan checks, to be narrowed by each test.
func makeHost(
    arch: String = "x86_64", vmTypes: [String]? = nil, caps: [String: UInt64]? = nil, perVMType: [String: [String: UInt64]] = [:],
    pageSize: Int = 4096, physAddrBits: Int = 52, sevCBit: Int? = 51, maxMemslots: Int = 32764, maxVCPUs: Int = 1024
) -> HostProfile {
    HostProfile(
        kernel: "6.18.0-test", arch: arch,
        vmTypes: vmTypes ?? (arch == "x86_64" ? ["default", "sw-protected", "sev-snp", "tdx"] : ["default", "pkvm", "cca"]),
        caps: caps ?? [
            "KVM_CAP_GUEST_MEMFD": 1, "KVM_CAP_USER_MEMORY2": 1, "KVM_CAP_MEMORY_ATTRIBUTES": 8,
            "KVM_CAP_EXIT_HYPERCALL": 1 << 12, "KVM_CAP_READONLY_MEM": 1, "KVM_CAP_GUEST_MEMFD_FLAGS": 3,
        ],
        perVMType: perVMType, pageSize: pageSize, cpuVendor: arch == "x86_64" ? "AuthenticAMD" : "", physAddrBits: physAddrBits,
        sevCBit: sevCBit, maxMemslots: maxMemslots, maxVCPUs: maxVCPUs)
}

// MARK: - Manifests

/// A manifest around the parts a rule test cares about. `regions` are list items, already indented by 4.
func manifest(
    arch: String = "x86_64", platform: String = "default", top: String = "", regions: String, rest: String = ""
) -> String {
    "kvmplan: 1\nname: t\narch: \(arch)\nplatform: \(platform)\n\(top)memory:\n  regions:\n\(regions)\n\(rest)"
}
