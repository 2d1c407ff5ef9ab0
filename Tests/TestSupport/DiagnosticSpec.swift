import Diagnostics

// Testing exists only where tests are built; `swift build -c release` builds this target too.
#if canImport(Testing)
import Testing
#endif

// Shared by ManifestTests and RulesTests, each with its own defaults (see their `expectDiagnostics`).

/// One expected diagnostic: its id, the marker it points at, its severity (the caller's default when nil),
/// and optionally fragments of its message and of one of its notes.
public struct DiagnosticSpec: CustomStringConvertible, Sendable {
    public var id: String
    public var marker: String
    public var severity: Severity?
    public var message: String?
    public var note: String?

    public init(_ id: String, at marker: String = "1️⃣", severity: Severity? = nil, message: String? = nil, note: String? = nil) {
        self.id = id
        self.marker = marker
        self.severity = severity
        self.message = message
        self.note = note
    }

    public var description: String { "\(id) at \(marker)" }
}

/// Diagnostics as `kvmplan check --format text` prints them, for failure messages.
public func render(_ diagnostics: Diagnostics) -> String {
    DiagnosticRenderer(format: .text).render(diagnostics)
}

#if canImport(Testing)
/// Asserts that each spec has a diagnostic with its id at its marker, of the spec's severity or else
/// `defaultSeverity(id)`. With `exhaustive`, also that there are no other diagnostics.
public func expectDiagnostics(
    _ diagnostics: Diagnostics, _ specs: [DiagnosticSpec], in snippet: MarkedSnippet, exhaustive: Bool,
    defaultSeverity: (DiagnosticID) -> Severity?, sourceLocation: Testing.SourceLocation = #_sourceLocation
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
        let severity = spec.severity ?? defaultSeverity(d.id)
        #expect(d.severity == severity, "severity of \(spec)", sourceLocation: sourceLocation)
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
#endif
