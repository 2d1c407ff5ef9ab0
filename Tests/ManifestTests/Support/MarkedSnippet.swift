import Diagnostics
import Manifest
import Testing

// MARK: - Markers

/// A YAML snippet with location markers (`1️⃣`, `2️⃣`, …) as swift-syntax and swift-format tests write them
/// (STYLE rule 10). The markers are removed from `source`; each one's place becomes a 1-based line and
/// column, counted in Unicode scalars like `SourceLocation`.
struct MarkedSnippet {
    static let markerNames = ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟"]
    static let file = "guest.yaml"

    let source: String
    private(set) var markers: [String: (line: Int, column: Int)] = [:]

    init(_ marked: String) {
        var out = String.UnicodeScalarView()
        var line = 1
        var column = 1
        var rest = Substring(marked)
        outer: while let first = rest.unicodeScalars.first {
            for name in Self.markerNames where rest.hasPrefix(name) {
                markers[name] = (line, column)
                rest = rest.dropFirst(name.count)
                continue outer
            }
            out.append(first)
            if first == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
            rest = Substring(rest.unicodeScalars.dropFirst())
        }
        source = String(out)
    }

    var bytes: [UInt8] { Array(source.utf8) }

    func location(_ marker: String, file: String = MarkedSnippet.file) -> ManifestLocation {
        guard let at = markers[marker] else {
            Issue.record("marker \(marker) is not in the snippet")
            return ManifestLocation(file: file, line: 0, column: 0)
        }
        return ManifestLocation(file: file, line: at.line, column: at.column)
    }
}

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
