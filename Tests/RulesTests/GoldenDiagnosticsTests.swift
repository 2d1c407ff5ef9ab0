import Compiler
import Diagnostics
import Foundation
import Rules
import TestSupport
import Testing

/// `Manifests/invalid/NAME.yaml` holds a typical mistake; `NAME.expected` holds exactly what
/// `kvmplan check --format text Manifests/invalid/NAME.yaml` prints, run from the repository root.
/// Re-record with `RECORD_SNAPSHOTS=1 swift test --filter GoldenDiagnosticsTests` and review the diff.
@Suite("Golden diagnostics")
struct GoldenDiagnosticsTests {
    static let directory = "Manifests/invalid"
    static let goldens = Golden(directory)

    static let names: [String] = (try? FileManagerShim.yamlFiles(in: Repo.path(directory))) ?? []

    /// What `kvmplan check --format text` prints for one file (stdout, not a terminal: no caret, no colour).
    static func render(_ name: String) throws -> (String, Diagnostics) {
        let file = "\(directory)/\(name)"
        let bytes = try FileManagerShim.read(Repo.path(file))
        let (checked, diagnostics) = CompilerPipeline(files: RepoFiles()).check(bytes: bytes, file: file)
        expectCleanOutcome((checked, diagnostics))
        return (DiagnosticRenderer(format: .text).render(diagnostics, catalogue: RuleCatalogue.byID), diagnostics)
    }

    @Test("there are 8 to 12 typical mistakes, each with its golden file")
    func inventory() throws {
        #expect((8...12).contains(Self.names.count), "\(Self.names)")
        let all = try FileManager.default.contentsOfDirectory(atPath: Repo.path(Self.directory))
        let expected = Set(all.filter { $0.hasSuffix(".expected") }.map { String($0.dropLast(".expected".count)) })
        let manifests = Set(Self.names.map { String($0.dropLast(".yaml".count)) })
        #expect(expected == manifests, "each NAME.yaml needs a NAME.expected and the reverse")
    }

    @Test("the diagnostics match the golden file", arguments: names)
    func golden(_ name: String) throws {
        let (text, diagnostics) = try Self.render(name)
        #expect(diagnostics.hasErrors, "an invalid example must have an error")
        Self.goldens.assert(text, matches: "\(name.dropLast(".yaml".count)).expected")
    }

    @Test("each example says in a comment header what is wrong", arguments: names)
    func header(_ name: String) throws {
        let text = try String(contentsOfFile: Repo.path("\(Self.directory)/\(name)"), encoding: .utf8)
        let header = text.split(separator: "\n").prefix { $0.hasPrefix("#") }
        #expect(header.first?.hasPrefix("# WRONG:") == true, "the first line says what is wrong")
        #expect(header.contains { $0.contains("Expected:") }, "the header names the expected diagnostics")
    }

    @Test("the ids the header expects are the ids reported", arguments: names)
    func headerNamesTheIDs(_ name: String) throws {
        let text = try String(contentsOfFile: Repo.path("\(Self.directory)/\(name)"), encoding: .utf8)
        let header = text.split(separator: "\n").prefix { $0.hasPrefix("#") }.joined(separator: " ")
        let (_, diagnostics) = try Self.render(name)
        for d in diagnostics where d.severity == .error {
            #expect(header.contains(d.id.rawValue), "\(name): the header does not mention \(d.id)")
        }
    }
}
