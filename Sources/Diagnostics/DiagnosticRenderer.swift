/// The output formats of diagnostics.
public enum DiagnosticFormat: String, Sendable, CaseIterable {
    case text
    case json
    case sarif
    case github
}

/// Turns collected diagnostics into text for people or tools. Rendering happens at the edge only.
public struct DiagnosticRenderer: Sendable {
    public var format: DiagnosticFormat
    /// Show the source line with a caret under the column (text format, on a terminal).
    public var showSource: Bool
    /// Use ANSI colour (text format, on a terminal).
    public var colour: Bool
    /// Returns line `n` (1-based) of `file`, for the caret display.
    public var sourceLine: @Sendable (_ file: String, _ line: Int) -> String?
    /// kvmplan's version, for SARIF's `tool.driver.version`.
    public var toolVersion: String?

    public init(
        format: DiagnosticFormat, showSource: Bool = false, colour: Bool = false, toolVersion: String? = nil,
        sourceLine: @escaping @Sendable (String, Int) -> String? = { _, _ in nil }
    ) {
        self.format = format
        self.showSource = showSource
        self.colour = colour
        self.toolVersion = toolVersion
        self.sourceLine = sourceLine
    }

    public func render(_ diagnostics: Diagnostics, catalogue: [DiagnosticID: RuleDocumentation] = [:]) -> String {
        let sorted = diagnostics.sorted
        switch format {
        case .text: return renderText(sorted, diagnostics)
        case .json: return Self.json(sorted, diagnostics).serialized(pretty: true) + "\n"
        case .sarif: return Self.sarif(sorted, catalogue: catalogue, toolVersion: toolVersion).serialized(pretty: true) + "\n"
        case .github: return sorted.map(Self.github).joined()
        }
    }

    // MARK: - Text

    private func paint(_ s: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }

    private func renderText(_ sorted: [Diagnostic], _ all: Diagnostics) -> String {
        var out = ""
        for d in sorted {
            let sev: String
            switch d.severity {
            case .error: sev = paint("error", "1;31")
            case .warning: sev = paint("warning", "1;35")
            case .note: sev = paint("note", "1;36")
            }
            out += "\(paint(d.location.description, "1")): \(sev)[\(d.id)]: \(d.message)\n"
            if showSource, let line = sourceLine(d.location.file, d.location.line) {
                let gutter = String(d.location.line)
                let pad = String(repeating: " ", count: gutter.count)
                out += " \(gutter) | \(line)\n"
                let prefix = line.unicodeScalars.prefix(max(0, d.location.column - 1)).map { $0 == "\t" ? "\t" : " " }
                    .joined()
                out += " \(pad) | \(prefix)\(paint("^", "1;32"))\n"
            }
            for note in d.notes {
                if let at = note.location {
                    out += "    note: \(note.message) (\(at))\n"
                } else {
                    out += "    note: \(note.message)\n"
                }
            }
        }
        return out
    }

    // MARK: - JSON

    /// The diagnostic JSON objects of DESIGN §3, each with exactly its seven keys: file, line, column, severity,
    /// id, message, path. A diagnostic's notes follow it as objects of severity `note` with the same id and path,
    /// at the note's place (or the diagnostic's, for a note that points nowhere). A problem with a whole file (it
    /// cannot be read) has line and column 0.
    public static func jsonObjects(_ d: Diagnostic) -> [JSONValue] {
        var out = [object(d.location, severity: d.severity.rawValue, id: d.id.rawValue, message: d.message, path: d.path.description)]
        for note in d.notes {
            out.append(object(note.location ?? d.location, severity: "note", id: d.id.rawValue, message: note.message, path: d.path.description))
        }
        return out
    }

    static func object(_ at: SourceLocation, severity: String, id: String, message: String, path: String) -> JSONValue {
        .object([
            "file": .string(at.file), "line": .int(Int64(at.line)), "column": .int(Int64(at.column)), "severity": .string(severity),
            "id": .string(id), "message": .string(message), "path": .string(path),
        ])
    }

    /// The `--format json` document, `{"diagnostics": [...], "errors": N, "warnings": N}` (the counts count
    /// diagnostics, not their notes), as a value (a command may add keys of its own before printing it).
    public static func jsonDocument(_ diagnostics: Diagnostics) -> JSONValue { json(diagnostics.sorted, diagnostics) }

    static func json(_ sorted: [Diagnostic], _ all: Diagnostics) -> JSONValue {
        .object([
            "diagnostics": .array(sorted.flatMap(jsonObjects)),
            "errors": .int(Int64(all.errorCount)),
            "warnings": .int(Int64(all.warningCount)),
        ])
    }

    // MARK: - GitHub workflow annotations

    /// One annotation per diagnostic; notes without a place go into its message, and each note that points
    /// at another place becomes a `::notice` there (the other region of an overlap, the first of two
    /// duplicate keys), so the pull-request view shows both ends.
    static func github(_ d: Diagnostic) -> String {
        let level: String
        switch d.severity {
        case .error: level = "error"
        case .warning: level = "warning"
        case .note: level = "notice"
        }
        let notes = d.notes.map { note in "\n" + note.message + (note.location.map { " (\($0))" } ?? "") }
        let message = "[\(d.id)] " + d.message + notes.joined()
        var out = "::\(level) \(githubPlace(d.location)),title=\(escapeProperty("kvmplan " + d.id.rawValue))::\(escapeData(message))\n"
        for note in d.notes {
            guard let at = note.location else { continue }
            out +=
                "::notice \(githubPlace(at)),title=\(escapeProperty("kvmplan " + d.id.rawValue + " (note)"))::"
                + escapeData("note: \(note.message) (for \(d.location): \(d.message))") + "\n"
        }
        return out
    }

    /// `file=…,line=…,col=…`, or only `file=…` for a problem with the whole file.
    private static func githubPlace(_ at: SourceLocation) -> String {
        at.isWholeFile
            ? "file=\(escapeProperty(at.file))"
            : "file=\(escapeProperty(at.file)),line=\(at.line),col=\(at.column)"
    }

    private static func escapeData(_ s: String) -> String { escape(s, property: false) }

    private static func escapeProperty(_ s: String) -> String { escape(s, property: true) }

    /// Workflow-command escaping, scalar by scalar (so a CR LF pair is two escapes, not one grapheme).
    private static func escape(_ s: String, property: Bool) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "%": out += "%25"
            case "\r": out += "%0D"
            case "\n": out += "%0A"
            case ":" where property: out += "%3A"
            case "," where property: out += "%2C"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    // MARK: - SARIF 2.1.0

    private static func sarifLevel(_ severity: Severity) -> String {
        switch severity {
        case .error: "error"
        case .warning: "warning"
        case .note: "note"
        }
    }

    /// A SARIF `physicalLocation`; a whole-file problem (line 0) points at line 1 (SARIF lines are ≥ 1).
    private static func sarifPhysical(_ at: SourceLocation) -> JSONValue {
        .object([
            "artifactLocation": .object(["uri": .string(sarifURI(at.file))]),
            "region": .object([
                "startLine": .int(Int64(max(1, at.line))),
                "startColumn": .int(Int64(max(1, at.column))),
            ]),
        ])
    }

    /// A file path as a SARIF URI reference: every byte outside RFC 3986's unreserved set and `/` is
    /// percent-encoded (a space, `<stdin>`, a non-ASCII name).
    static func sarifURI(_ path: String) -> String {
        var out = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out += "%"
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0xF)])
            }
        }
        return out
    }

    /// The SARIF log: one run; rules from the catalogue; each result with its location, its data path as a
    /// logical location and every located note as a related location; `invocations` says whether kvmplan
    /// could do its work, with each `io.*` failure as a tool execution notification.
    static func sarif(_ sorted: [Diagnostic], catalogue: [DiagnosticID: RuleDocumentation], toolVersion: String?) -> JSONValue {
        let ids = Set(sorted.map(\.id)).sorted()
        let rules: [JSONValue] = ids.map { id in
            var rule: [String: JSONValue] = ["id": .string(id.rawValue)]
            if let doc = catalogue[id] {
                rule["shortDescription"] = .object(["text": .string(doc.summary)])
                rule["fullDescription"] = .object(["text": .string(doc.rationale)])
                rule["help"] = .object(["text": .string(doc.fix)])
                rule["defaultConfiguration"] = .object(["level": .string(sarifLevel(doc.severity))])
            }
            return .object(rule)
        }
        let results: [JSONValue] = sorted.map { d in
            let unlocated = d.notes.filter { $0.location == nil }
            var result: [String: JSONValue] = [
                "ruleId": .string(d.id.rawValue),
                "level": .string(sarifLevel(d.severity)),
                "message": .object(["text": .string(d.message + unlocated.map { " Note: \($0.message)" }.joined())]),
                "locations": .array([
                    .object([
                        "physicalLocation": sarifPhysical(d.location),
                        "logicalLocations": .array([.object(["fullyQualifiedName": .string(d.path.description)])]),
                    ])
                ]),
            ]
            let related: [JSONValue] = d.notes.compactMap { note in
                note.location.map { (note.message, $0) }
            }.enumerated().map { index, note in
                .object([
                    "id": .int(Int64(index)),
                    "message": .object(["text": .string(note.0)]),
                    "physicalLocation": sarifPhysical(note.1),
                ])
            }
            if !related.isEmpty { result["relatedLocations"] = .array(related) }
            return .object(result)
        }
        let failures = sorted.filter(\.isToolFailure)
        let notifications: [JSONValue] = failures.map { d in
            .object([
                "level": .string(sarifLevel(d.severity)),
                "message": .object(["text": .string(d.message)]),
                "descriptor": .object(["id": .string(d.id.rawValue)]),
                "locations": .array([.object(["physicalLocation": sarifPhysical(d.location)])]),
            ])
        }
        var invocation: [String: JSONValue] = ["executionSuccessful": .bool(failures.isEmpty)]
        if !notifications.isEmpty { invocation["toolExecutionNotifications"] = .array(notifications) }
        var driver: [String: JSONValue] = [
            "name": .string("kvmplan"),
            "informationUri": .string("https://github.com/kvmplan/kvmplan"),
            "rules": .array(rules),
        ]
        if let toolVersion { driver["version"] = .string(toolVersion) }
        return .object([
            "$schema": .string("https://json.schemastore.org/sarif-2.1.0.json"),
            "version": .string("2.1.0"),
            "runs": .array([
                .object([
                    "tool": .object(["driver": .object(driver)]),
                    "invocations": .array([.object(invocation)]),
                    "results": .array(results),
                ])
            ]),
        ])
    }
}

extension String {
    /// Replaces every occurrence of `target` with `replacement`, without Foundation.
    package func replacingAll(_ target: String, _ replacement: String) -> String {
        guard !target.isEmpty, self.contains(target) else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        out += rest
        return out
    }
}
