import Diagnostics
import Testing

/// The four output formats of DESIGN §3. The JSON shape is a contract with users' tooling.
@Suite("DiagnosticRenderer")
struct RendererTests {

    static func at(_ line: Int, _ column: Int, file: String = "guest.yaml") -> Location {
        Location(file: file, line: line, column: column)
    }

    /// Out of source order on purpose: renderers sort.
    static let diagnostics = Diagnostics([
        .warning(
            "platform.testing-only", "platform 'sw-protected' is for development and testing only", at: at(5, 11),
            path: DataPath([.key("platform")])),
        .error(
            "memory.overlap", "region 'dma' overlaps 'ram' (0x1000_0000..0x1fff_ffff)", at: at(14, 11),
            path: DataPath([.key("memory"), .key("regions"), .index(1), .key("base")]),
            notes: [DiagnosticNote("'ram' is declared here", at: at(9, 11))]),
        Diagnostic(
            id: "memory.initial", severity: .note, message: "a note-level finding", at: at(14, 3),
            path: DataPath([.key("memory"), .key("regions"), .index(1)])),
        .error("format.empty", "the manifest is empty", at: at(1, 1, file: "empty.yaml")),
    ])

    // MARK: Text

    @Test("text: file:line:col: severity[id]: message, notes indented, sorted by location")
    func textPlain() {
        let text = DiagnosticRenderer(format: .text).render(Self.diagnostics)
        #expect(
            text == """
                empty.yaml:1:1: error[format.empty]: the manifest is empty
                guest.yaml:5:11: warning[platform.testing-only]: platform 'sw-protected' is for development and testing only
                guest.yaml:14:3: note[memory.initial]: a note-level finding
                guest.yaml:14:11: error[memory.overlap]: region 'dma' overlaps 'ram' (0x1000_0000..0x1fff_ffff)
                    note: 'ram' is declared here (guest.yaml:9:11)

                """)
    }

    @Test("text: the source line with a caret under the column")
    func textCaret() {
        let lines = ["kvmplan: 1", "name: demo", "\tvcpus: 0", "size: 16EiB"]
        let renderer = DiagnosticRenderer(
            format: .text, showSource: true,
            sourceLine: { _, line in line >= 1 && line <= lines.count ? lines[line - 1] : nil })
        let diagnostics = Diagnostics([
            .error("format.integer", "bad size", at: Self.at(4, 7)),
            .error("format.range", "no vCPUs", at: Self.at(3, 9)),
            .error("format.missing-key", "beyond the file", at: Self.at(9, 1)),
        ])
        #expect(
            renderer.render(diagnostics) == """
                guest.yaml:3:9: error[format.range]: no vCPUs
                 3 | \tvcpus: 0
                   | \t       ^
                guest.yaml:4:7: error[format.integer]: bad size
                 4 | size: 16EiB
                   |       ^
                guest.yaml:9:1: error[format.missing-key]: beyond the file

                """)
    }

    @Test("text: colour only when asked, and then as ANSI SGR")
    func textColour() {
        let diagnostic = Diagnostics([.error("memory.overlap", "overlap", at: Self.at(2, 3))])
        let plain = DiagnosticRenderer(format: .text).render(diagnostic)
        #expect(!plain.contains("\u{1B}"))
        let coloured = DiagnosticRenderer(format: .text, colour: true).render(diagnostic)
        #expect(coloured.contains("\u{1B}[1;31merror\u{1B}[0m"))
        #expect(coloured.contains("\u{1B}[1mguest.yaml:2:3\u{1B}[0m"))
    }

    @Test("no diagnostics: empty text, empty github output, an empty JSON list")
    func empty() throws {
        #expect(DiagnosticRenderer(format: .text).render(Diagnostics()) == "")
        #expect(DiagnosticRenderer(format: .github).render(Diagnostics()) == "")
        let json = try JSONValue.parse(DiagnosticRenderer(format: .json).render(Diagnostics()))
        #expect(json == .object(["diagnostics": .array([]), "errors": .int(0), "warnings": .int(0)]))
    }

    // MARK: JSON

    @Test("json: exactly {diagnostics, errors, warnings}; every object exactly the seven contract keys, notes as severity note")
    func jsonShape() throws {
        let output = DiagnosticRenderer(format: .json).render(Self.diagnostics)
        #expect(output.hasSuffix("}\n"))
        let json = try JSONValue.parse(output)
        #expect(json.objectValue.map { Set($0.keys) } == ["diagnostics", "errors", "warnings"])
        #expect(json["errors"] == .int(2))
        #expect(json["warnings"] == .int(1))
        let items = try #require(json["diagnostics"]?.arrayValue)
        #expect(items.count == Self.diagnostics.all.count + Self.diagnostics.all.map(\.notes.count).reduce(0, +))
        for item in items {
            #expect(item.objectValue.map { Set($0.keys) } == ["file", "line", "column", "severity", "id", "message", "path"])
            #expect(["error", "warning", "note"].contains(item["severity"]?.stringValue ?? ""))
            #expect((item["line"]?.uint64Value ?? 0) >= 1)
            #expect((item["column"]?.uint64Value ?? 0) >= 1)
        }
        let index = try #require(items.firstIndex { $0["id"] == .string("memory.overlap") })
        #expect(
            items[index]
                == .object([
                    "file": .string("guest.yaml"), "line": .int(14), "column": .int(11), "severity": .string("error"),
                    "id": .string("memory.overlap"),
                    "message": .string("region 'dma' overlaps 'ram' (0x1000_0000..0x1fff_ffff)"),
                    "path": .string("memory.regions[1].base"),
                ]))
        // Its note follows it, at the note's place, with the diagnostic's id and path.
        #expect(
            items[index + 1]
                == .object([
                    "file": .string("guest.yaml"), "line": .int(9), "column": .int(11), "severity": .string("note"),
                    "id": .string("memory.overlap"), "message": .string("'ram' is declared here"),
                    "path": .string("memory.regions[1].base"),
                ]))
        #expect(items.first?["file"] == .string("empty.yaml") && items.first?["path"] == .string(""))
    }

    @Test("json: a note without a place is at its diagnostic's place; an unreadable file has line and column 0")
    func jsonNotesAndWholeFile() throws {
        let diagnostics = Diagnostics([
            .error("format.value", "bad", at: Self.at(2, 3), notes: [DiagnosticNote("use one of a, b")]),
            .error("io.read", "cannot read 'gone.yaml': no such file", at: .wholeFile("gone.yaml")),
        ])
        let json = try JSONValue.parse(DiagnosticRenderer(format: .json).render(diagnostics))
        let items = try #require(json["diagnostics"]?.arrayValue)
        #expect(items.map { $0["id"]?.stringValue ?? "" } == ["io.read", "format.value", "format.value"])
        #expect(items[0]["line"] == .int(0))
        #expect(items[0]["column"] == .int(0))
        #expect(items[2]["severity"] == .string("note") && items[2]["message"] == .string("use one of a, b"))
        #expect(items[2]["line"] == items[1]["line"] && items[2]["column"] == items[1]["column"])
        #expect(json["errors"] == .int(2))
        #expect(SourceLocation.wholeFile("gone.yaml").description == "gone.yaml")
    }

    @Test("json: messages with quotes, backslashes and newlines stay valid JSON")
    func jsonEscaping() throws {
        let message = "value '\"a\\b\"'\nsecond line\ttab \u{1}"
        let output = DiagnosticRenderer(format: .json).render(
            Diagnostics([.error("format.value", message, at: Self.at(1, 1, file: "dir with space/\"q\".yaml"))]))
        let json = try JSONValue.parse(output)
        #expect(json["diagnostics"]?.arrayValue?.first?["message"]?.stringValue == message)
        #expect(json["diagnostics"]?.arrayValue?.first?["file"]?.stringValue == "dir with space/\"q\".yaml")
    }

    @Test("--strict: warnings become errors and the counts follow")
    func strict() throws {
        let promoted = Self.diagnostics.promotingWarnings()
        #expect(promoted.errorCount == 3)
        #expect(promoted.warningCount == 0)
        let json = try JSONValue.parse(DiagnosticRenderer(format: .json).render(promoted))
        #expect(json["errors"] == .int(3))
        #expect(json["warnings"] == .int(0))
    }

    // MARK: GitHub

    @Test("github: one workflow command per diagnostic, and a notice at each note that points somewhere")
    func github() {
        let output = DiagnosticRenderer(format: .github).render(Self.diagnostics)
        #expect(
            output == """
                ::error file=empty.yaml,line=1,col=1,title=kvmplan format.empty::[format.empty] the manifest is empty
                ::warning file=guest.yaml,line=5,col=11,title=kvmplan platform.testing-only::[platform.testing-only] platform 'sw-protected' is for development and testing only
                ::notice file=guest.yaml,line=14,col=3,title=kvmplan memory.initial::[memory.initial] a note-level finding
                ::error file=guest.yaml,line=14,col=11,title=kvmplan memory.overlap::[memory.overlap] region 'dma' overlaps 'ram' (0x1000_0000..0x1fff_ffff)%0A'ram' is declared here (guest.yaml:9:11)
                ::notice file=guest.yaml,line=9,col=11,title=kvmplan memory.overlap (note)::note: 'ram' is declared here (for guest.yaml:14:11: region 'dma' overlaps 'ram' (0x1000_0000..0x1fff_ffff))

                """)
    }

    @Test("github: an unreadable file is an error annotation on the file, without line or column")
    func githubWholeFile() {
        let d = Diagnostic.error("io.read", "cannot read 'gone.yaml': no such file", at: .wholeFile("gone.yaml"))
        #expect(
            DiagnosticRenderer(format: .github).render(Diagnostics([d]))
                == "::error file=gone.yaml,title=kvmplan io.read::[io.read] cannot read 'gone.yaml': no such file\n")
    }

    @Test("github: properties escape % CR LF : and ,; messages escape % CR LF")
    func githubEscaping() {
        let d = Diagnostic.error(
            "format.value", "100% wrong: a,b\nnext\rline", at: Self.at(3, 4, file: "c:/odd,dir/50%/x\ny.yaml"))
        let output = DiagnosticRenderer(format: .github).render(Diagnostics([d]))
        #expect(
            output
                == "::error file=c%3A/odd%2Cdir/50%25/x%0Ay.yaml,line=3,col=4,title=kvmplan format.value::[format.value] 100%25 wrong: a,b%0Anext%0Dline\n"
        )
        #expect(output.unicodeScalars.filter { $0 == "\n" || $0 == "\r" }.count == 1, "one line per annotation")
    }

    @Test(
        "github: a CR LF pair in a message is escaped too",
        .bug(id: "github-crlf", "was: \"\\r\\n\" is one grapheme, matched by neither \"\\r\" nor \"\\n\", and stayed raw"))
    func githubCRLF() {
        let d = Diagnostic.error("format.value", "first\r\nsecond", at: Self.at(1, 1, file: "a\r\nb.yaml"))
        let output = DiagnosticRenderer(format: .github).render(Diagnostics([d]))
        #expect(output == "::error file=a%0D%0Ab.yaml,line=1,col=1,title=kvmplan format.value::[format.value] first%0D%0Asecond\n")
        #expect(output.unicodeScalars.filter { $0 == "\n" || $0 == "\r" }.count == 1, "one line per annotation")
    }

    // MARK: SARIF

    @Test("sarif: a 2.1.0 log with one run, rules from the catalogue and located results")
    func sarif() throws {
        let catalogue: [DiagnosticID: RuleDocumentation] = [
            "memory.overlap": RuleDocumentation(
                id: "memory.overlap", severity: .error, summary: "Two regions overlap.", rationale: "Each GPA has one region.",
                kernel: "EEXIST", fix: "Move a region.")
        ]
        let output = DiagnosticRenderer(format: .sarif, toolVersion: "9.8.7").render(Self.diagnostics, catalogue: catalogue)
        let log = try JSONValue.parse(output)
        #expect(log["version"] == .string("2.1.0"))
        #expect(log["$schema"]?.stringValue?.contains("sarif") == true)
        let runs = try #require(log["runs"]?.arrayValue)
        #expect(runs.count == 1)
        let driver = try #require(runs[0]["tool"]?["driver"])
        #expect(driver["name"] == .string("kvmplan"))
        #expect(driver["version"] == .string("9.8.7"))
        #expect(runs[0]["invocations"] == .array([.object(["executionSuccessful": .bool(true)])]))
        let rules = try #require(driver["rules"]?.arrayValue)
        #expect(rules.map { $0["id"]?.stringValue ?? "" } == ["format.empty", "memory.initial", "memory.overlap", "platform.testing-only"])
        let overlapRule = try #require(rules.first { $0["id"] == .string("memory.overlap") })
        #expect(overlapRule["shortDescription"]?["text"] == .string("Two regions overlap."))
        #expect(overlapRule["fullDescription"]?["text"] == .string("Each GPA has one region."))
        #expect(overlapRule["help"]?["text"] == .string("Move a region."))
        #expect(overlapRule["defaultConfiguration"]?["level"] == .string("error"))

        let results = try #require(runs[0]["results"]?.arrayValue)
        #expect(results.count == 4)
        #expect(results.map { $0["level"]?.stringValue ?? "" } == ["error", "warning", "note", "error"])
        let overlap = try #require(results.last)
        #expect(overlap["ruleId"] == .string("memory.overlap"))
        #expect(overlap["message"]?["text"]?.stringValue?.hasPrefix("region 'dma' overlaps 'ram'") == true)
        let location = try #require(overlap["locations"]?.arrayValue?.first)
        let physical = try #require(location["physicalLocation"])
        #expect(physical["artifactLocation"]?["uri"] == .string("guest.yaml"))
        #expect(physical["region"]?["startLine"] == .int(14))
        #expect(physical["region"]?["startColumn"] == .int(11))
        #expect(location["logicalLocations"]?.arrayValue?.first?["fullyQualifiedName"] == .string("memory.regions[1].base"))
        #expect(overlap["message"]?["text"] == .string("region 'dma' overlaps 'ram' (0x1000_0000..0x1fff_ffff)"))
        let related = try #require(overlap["relatedLocations"]?.arrayValue)
        #expect(related.count == 1)
        #expect(related.first?["id"] == .int(0))
        #expect(related.first?["message"]?["text"] == .string("'ram' is declared here"))
        #expect(related.first?["physicalLocation"]?["region"]?["startLine"] == .int(9))
        #expect(related.first?["physicalLocation"]?["artifactLocation"]?["uri"] == .string("guest.yaml"))
        #expect(results[0]["relatedLocations"] == nil, "no notes, no related locations")
        for result in results {
            let levels: Set<String> = ["error", "warning", "note", "none"]
            #expect(levels.contains(result["level"]?.stringValue ?? ""))
        }
    }

    @Test("sarif: an unreadable file's line 0 becomes startLine 1 (SARIF lines are ≥ 1)")
    func sarifLineZero() throws {
        let d = Diagnostic.error("yaml.encoding", "unreadable", at: Self.at(0, 0))
        let log = try JSONValue.parse(DiagnosticRenderer(format: .sarif).render(Diagnostics([d])))
        let region = log["runs"]?.arrayValue?.first?["results"]?.arrayValue?.first?["locations"]?.arrayValue?.first?["physicalLocation"]?["region"]
        #expect(region?["startLine"] == .int(1))
        #expect(region?["startColumn"] == .int(1))
    }

    @Test("sarif: an io.* failure is a result and a tool execution notification; the invocation failed")
    func sarifToolFailure() throws {
        let diagnostics = Diagnostics([
            .error("io.read", "cannot read 'a b/<x>.yaml': no such file", at: .wholeFile("a b/<x>.yaml")),
            .error("format.value", "bad", at: Self.at(2, 3), notes: [DiagnosticNote("use one of a, b")]),
        ])
        let log = try JSONValue.parse(DiagnosticRenderer(format: .sarif).render(diagnostics))
        let run = try #require(log["runs"]?.arrayValue?.first)
        #expect(run["tool"]?["driver"]?["version"] == nil, "no version unless given")
        let invocation = try #require(run["invocations"]?.arrayValue?.first)
        #expect(invocation["executionSuccessful"] == .bool(false))
        let notification = try #require(invocation["toolExecutionNotifications"]?.arrayValue?.first)
        #expect(notification["level"] == .string("error"))
        #expect(notification["descriptor"]?["id"] == .string("io.read"))
        #expect(
            notification["locations"]?.arrayValue?.first?["physicalLocation"]?["artifactLocation"]?["uri"]
                == .string("a%20b/%3Cx%3E.yaml"))
        let results = try #require(run["results"]?.arrayValue)
        #expect(results.map { $0["ruleId"]?.stringValue ?? "" } == ["io.read", "format.value"])
        #expect(results[1]["message"]?["text"] == .string("bad Note: use one of a, b"), "notes without a place stay in the text")
    }

    // MARK: Values

    @Test(
        "data paths print as memory.regions[1].size",
        arguments: [
            (DataPath.root, ""), (DataPath([.key("name")]), "name"),
            (DataPath([.key("memory"), .key("regions"), .index(1), .key("size")]), "memory.regions[1].size"),
            (DataPath([.index(0), .index(2)]), "[0][2]"), (DataPath.root.appending("sharing").appending("convertible").appending(index: 3), "sharing.convertible[3]"),
        ])
    func dataPath(_ path: DataPath, _ expected: String) {
        #expect(path.description == expected)
    }

    @Test("diagnostics sort by file, line, column, then keep insertion order")
    func sorting() {
        let a = Diagnostic.error("b.second", "same place, second", at: Self.at(2, 2))
        let b = Diagnostic.error("a.first", "same place, first", at: Self.at(2, 2))
        let c = Diagnostic.error("c", "earlier column", at: Self.at(2, 1))
        let d = Diagnostic.error("d", "other file", at: Self.at(1, 1, file: "a.yaml"))
        let sorted = Diagnostics([b, a, c, d]).sorted.map(\.id.rawValue)
        #expect(sorted == ["d", "c", "a.first", "b.second"])
    }

    @Test("severities order note < warning < error")
    func severities() {
        #expect(Severity.allCases.sorted() == [.note, .warning, .error])
    }
}
