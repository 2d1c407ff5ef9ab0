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

    public init(
        format: DiagnosticFormat, showSource: Bool = false, colour: Bool = false,
        sourceLine: @escaping @Sendable (String, Int) -> String? = { _, _ in nil }
    ) {
        self.format = format
        self.showSource = showSource
        self.colour = colour
        self.sourceLine = sourceLine
    }

    public func render(_ diagnostics: Diagnostics, catalogue: [DiagnosticID: RuleDocumentation] = [:]) -> String {
        let sorted = diagnostics.sorted
        switch format {
        case .text: return renderText(sorted, diagnostics)
        case .json: return Self.json(sorted, diagnostics).serialized(pretty: true) + "\n"
        case .sarif: return Self.sarif(sorted, catalogue: catalogue).serialized(pretty: true) + "\n"
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

    /// The diagnostic JSON object of DESIGN §3: exactly file, line, column, severity, id, message, path.
    public static func jsonObject(_ d: Diagnostic) -> JSONValue {
        .object([
            "file": .string(d.location.file),
            "line": .int(Int64(d.location.line)),
            "column": .int(Int64(d.location.column)),
            "severity": .string(d.severity.rawValue),
            "id": .string(d.id.rawValue),
            "message": .string(d.message + d.notes.map { "; note: \($0.message)" }.joined()),
            "path": .string(d.path.description),
        ])
    }

    static func json(_ sorted: [Diagnostic], _ all: Diagnostics) -> JSONValue {
        .object([
            "diagnostics": .array(sorted.map(jsonObject)),
            "errors": .int(Int64(all.errorCount)),
            "warnings": .int(Int64(all.warningCount)),
        ])
    }

    // MARK: - GitHub workflow annotations

    static func github(_ d: Diagnostic) -> String {
        let level: String
        switch d.severity {
        case .error: level = "error"
        case .warning: level = "warning"
        case .note: level = "notice"
        }
        let message = ("[\(d.id)] " + d.message + d.notes.map { "\n" + $0.message }.joined())
        return "::\(level) file=\(escapeProperty(d.location.file)),line=\(d.location.line),col=\(d.location.column),"
            + "title=\(escapeProperty("kvmplan " + d.id.rawValue))::\(escapeData(message))\n"
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

    static func sarif(_ sorted: [Diagnostic], catalogue: [DiagnosticID: RuleDocumentation]) -> JSONValue {
        let ids = Set(sorted.map(\.id)).sorted()
        let rules: [JSONValue] = ids.map { id in
            var rule: [String: JSONValue] = ["id": .string(id.rawValue)]
            if let doc = catalogue[id] {
                rule["shortDescription"] = .object(["text": .string(doc.summary)])
                rule["fullDescription"] = .object(["text": .string(doc.rationale)])
                rule["help"] = .object(["text": .string(doc.fix)])
            }
            return .object(rule)
        }
        let results: [JSONValue] = sorted.map { d in
            let level: String
            switch d.severity {
            case .error: level = "error"
            case .warning: level = "warning"
            case .note: level = "note"
            }
            return .object([
                "ruleId": .string(d.id.rawValue),
                "level": .string(level),
                "message": .object(["text": .string(d.message + d.notes.map { " Note: \($0.message)" }.joined())]),
                "locations": .array([
                    .object([
                        "physicalLocation": .object([
                            "artifactLocation": .object(["uri": .string(d.location.file)]),
                            "region": .object([
                                "startLine": .int(Int64(max(1, d.location.line))),
                                "startColumn": .int(Int64(max(1, d.location.column))),
                            ]),
                        ]),
                        "logicalLocations": .array([.object(["fullyQualifiedName": .string(d.path.description)])]),
                    ])
                ]),
            ])
        }
        return .object([
            "$schema": .string("https://json.schemastore.org/sarif-2.1.0.json"),
            "version": .string("2.1.0"),
            "runs": .array([
                .object([
                    "tool": .object([
                        "driver": .object([
                            "name": .string("kvmplan"),
                            "informationUri": .string("https://github.com/kvmplan/kvmplan"),
                            "rules": .array(rules),
                        ])
                    ]),
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
