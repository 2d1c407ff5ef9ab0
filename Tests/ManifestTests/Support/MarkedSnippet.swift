import Diagnostics
import Manifest
import TestSupport
import Testing

// `MarkedSnippet` (the marked snippet itself) lives in TestSupport.

// MARK: - Expected diagnostics

// `DiagnosticSpec` and the matching itself live in TestSupport.

/// `expectDiagnostics` with the parser's defaults: exhaustive, and a spec without a severity expects an error.
func expectDiagnostics(
    _ diagnostics: Diagnostics, _ specs: [DiagnosticSpec], in snippet: MarkedSnippet, exhaustive: Bool = true,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    TestSupport.expectDiagnostics(
        diagnostics, specs, in: snippet, exhaustive: exhaustive, defaultSeverity: { _ in .error }, sourceLocation: sourceLocation)
}

/// Parses a marked snippet, checking on the way that every diagnostic is located and documented.
func parse(_ snippet: MarkedSnippet) -> (Manifest?, Diagnostics) {
    let result = ManifestParser.parse(bytes: snippet.bytes, file: MarkedSnippet.file)
    expectLocatedAndDocumented(result.1)
    return result
}

/// Every diagnostic is located (line and column ≥ 1) and its id is documented for `kvmplan explain`.
func expectLocatedAndDocumented(_ diagnostics: Diagnostics, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    let documented = Set(ManifestMessages.documentation.map(\.id))
    for d in diagnostics {
        #expect(documented.contains(d.id), "undocumented diagnostic id \(d.id)", sourceLocation: sourceLocation)
        #expect(d.location.line >= 1 && d.location.column >= 1, "unlocated diagnostic \(d)", sourceLocation: sourceLocation)
    }
}

// MARK: - A valid manifest to damage

/// A small valid manifest; tests replace a line of it to introduce one mistake.
let validManifest = """
    kvmplan: 1
    name: demo
    arch: x86_64
    platform: default
    vcpus: 2
    memory:
      regions:
        - name: ram
          base: 0x0
          size: 2MiB
          access: shared
          backing: anonymous

    """

extension String {
    /// `validManifest` with `line` (exact text, indentation included) replaced.
    func replacing(line: String, with replacement: String) -> String {
        let lines = split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        precondition(lines.contains(line), "no line '\(line)'")
        return lines.map { $0 == line ? replacement : $0 }.joined(separator: "\n")
    }
}
