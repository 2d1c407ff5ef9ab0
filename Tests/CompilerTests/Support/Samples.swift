import Compiler
import Diagnostics
import Foundation
import Plan
import Rules
import TestSupport
import Testing

// MARK: - Files

/// Reads files named relative to the repository root (`Manifests/hello-long.yaml`,
/// `Manifests/../Examples/guests/hello-long.bin`) from the checkout, so plans compiled in tests name the
/// same paths on every machine. `virtual` files (generated payloads) are served from memory.
struct RepoFileAccess: FileAccess {
    var virtual: [String: [UInt8]] = [:]

    /// The path with `.` and `..` resolved lexically (`Manifests/gen/../../Examples` → `Examples`), so
    /// manifests may live in folders that exist only in memory.
    static func normalized(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." {
                parts.removeLast()
            } else {
                parts.append(part)
            }
        }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    func absolute(_ path: String) -> String {
        let path = Self.normalized(path)
        return path.hasPrefix("/") ? path : Repo.path(path)
    }

    func read(_ path: String) throws -> [UInt8] {
        if let bytes = virtual[Self.normalized(path)] { return bytes }
        return try LocalFileAccess().read(absolute(path))
    }

    func payload(at path: String) -> PayloadFile? {
        if let bytes = virtual[Self.normalized(path)] { return PayloadFile(kind: .regular, size: UInt64(bytes.count), bytes: bytes) }
        return LocalFileAccess().payload(at: absolute(path))
    }
}

// MARK: - Samples

/// The sample manifests of `Manifests/` (DESIGN §2), by name.
enum Samples {
    /// Every sample, one per platform and then some.
    static let all = [
        "hello-long", "hello-real", "hello-protected", "hello-elf", "memtest", "mmio", "smp",
        "sw-protected", "sev-snp", "tdx", "arm64-default", "pkvm", "cca",
    ]

    /// The default-platform x86_64 samples: the ones this host's KVM can set up.
    static let defaultX86 = ["hello-long", "hello-real", "hello-protected", "hello-elf", "memtest", "mmio", "smp"]

    /// `Manifests/NAME.yaml`: the repo-relative file name plans are compiled with.
    static func file(_ name: String) -> String { "Manifests/\(name).yaml" }
}

/// A compiled manifest: its bytes, the checked manifest, the plan and the check's diagnostics.
struct Compiled {
    var file: String
    var bytes: [UInt8]
    var checked: CheckedManifest
    var plan: Plan
    var diagnostics: Diagnostics

    var lines: [Substring] { String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) }
}

enum Compile {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// parse → check → lower of the repo file `file` (repo-relative).
    static func file(_ file: String, files: RepoFileAccess = RepoFileAccess()) throws -> Compiled {
        try bytes(try files.read(file), file: file, files: files)
    }

    static func sample(_ name: String) throws -> Compiled { try file(Samples.file(name)) }

    /// parse → check → lower of `bytes` named `file`; throws with the diagnostics when check rejects it.
    static func bytes(_ bytes: [UInt8], file: String, files: RepoFileAccess = RepoFileAccess()) throws -> Compiled {
        let pipeline = CompilerPipeline(files: files)
        let (checked, diagnostics) = pipeline.check(bytes: bytes, file: file)
        guard let checked else {
            throw Failure(description: "\(file) does not check:\n" + diagnostics.all.map { "\($0.location): \($0.id): \($0.message)" }.joined(separator: "\n"))
        }
        return Compiled(file: file, bytes: bytes, checked: checked, plan: Lowering().lower(checked), diagnostics: diagnostics)
    }
}

// MARK: - Renderings

/// The three renderings of `kvmplan plan --format text|json|c`, byte for byte as the CLI writes them. The raw
/// value is the golden file's extension: C goldens are `NAME.c.txt`, since a `.c` file in a test target's
/// folder would be compiled as a source of the target.
enum PlanFormatKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case text = "txt"
    case json
    case c = "c.txt"

    var testDescription: String { rawValue }

    func render(_ plan: Plan) -> String {
        switch self {
        case .text: PlanTextRenderer().render(plan)
        case .json: plan.jsonString(pretty: true) + "\n"
        case .c: PlanCRenderer().render(plan)
        }
    }
}
