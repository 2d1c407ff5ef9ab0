import Diagnostics
import Manifest
import TestSupport
import Testing

// `MarkedSnippet` (the marked snippet itself) lives in TestSupport.

// MARK: - Expected diagnostics

/// One expected diagnostic: its id, the marker it points at, and optionally its severity, a fragment
/// of its message and a fragment of one of its notes.
struct DiagnosticSpec: CustomStringConvertible, Sendable {
    var id: String
    var marker: String
    var severity: Severity
    var message: String?
    var note: String?

    init(_ id: String, at marker: String, severity: Severity = .error, message: String? = nil, note: String? = nil) {
        self.id = id
        self.marker = marker
        self.severity = severity
        self.message = message
        self.note = note
    }

    var description: String { "\(id) at \(marker)" }
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

/// Asserts that each spec has a diagnostic with its id at its marker. With `exhaustive`, also that there
/// are no other diagnostics.
func expectDiagnostics(
    _ diagnostics: Diagnostics, _ specs: [DiagnosticSpec], in snippet: MarkedSnippet, exhaustive: Bool = true,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    var unmatched = diagnostics.all
    for spec in specs {
        let at = snippet.location(spec.marker)
        guard let index = unmatched.firstIndex(where: { $0.id.rawValue == spec.id && $0.location == at }) else {
            let sameID = diagnostics.all.filter { $0.id.rawValue == spec.id }.map { "\($0.location.line):\($0.location.column)" }
            Issue.record(
                "expected \(spec.id) at \(at.line):\(at.column) (\(spec.marker)); \(spec.id) seen at \(sameID); all:\n\(render(diagnostics))",
                sourceLocation: sourceLocation)
            continue
        }
        let d = unmatched.remove(at: index)
        #expect(d.severity == spec.severity, "\(spec)", sourceLocation: sourceLocation)
        if let fragment = spec.message {
            #expect(d.message.contains(fragment), "message of \(spec): \(d.message)", sourceLocation: sourceLocation)
        }
        if let fragment = spec.note {
            #expect(d.notes.contains { $0.message.contains(fragment) }, "notes of \(spec): \(d.notes)", sourceLocation: sourceLocation)
        }
    }
    if exhaustive && !unmatched.isEmpty {
        Issue.record("unexpected diagnostics:\n\(render(Diagnostics(unmatched)))", sourceLocation: sourceLocation)
    }
}

func render(_ diagnostics: Diagnostics) -> String {
    DiagnosticRenderer(format: .text).render(diagnostics)
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
