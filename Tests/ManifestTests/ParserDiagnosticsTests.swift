import Diagnostics
import Manifest
import TestSupport
import Testing

/// Every `yaml.*` and `format.*` diagnostic, with its exact id and location, asserted with markers.
@Suite("Parser diagnostics")
struct ParserDiagnosticsTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var snippet: String
        var expected: [DiagnosticSpec]
        /// Other diagnostics may follow from the same mistake (missing keys after an unknown one).
        var exhaustive = true
        var testDescription: String { name }
    }

    // MARK: yaml.*

    static let yamlCases: [Case] = [
        Case(
            name: "yaml.alias: an anchor",
            snippet: validManifest.replacing(line: "name: demo", with: "name: 1️⃣&n demo"),
            expected: [DiagnosticSpec("yaml.alias", at: "1️⃣", message: "anchors are not allowed", note: "a manifest is data")]),
        Case(
            name: "yaml.alias: an alias",
            snippet: validManifest.replacing(line: "arch: x86_64", with: "arch: 1️⃣*arch"),
            expected: [DiagnosticSpec("yaml.alias", at: "1️⃣")]),
        Case(
            name: "yaml.alias: an anchor in a flow sequence",
            snippet: validManifest.replacing(line: "vcpus: 2", with: "vcpus: 2\nx: [a, 1️⃣&b c]"),
            expected: [DiagnosticSpec("yaml.alias", at: "1️⃣")]),
        Case(
            name: "yaml.alias: the first of anchor and alias is reported",
            snippet: "kvmplan: 1\nname: 1️⃣&n demo\nother: *n\n",
            expected: [DiagnosticSpec("yaml.alias", at: "1️⃣")]),
        Case(
            name: "yaml.complex-key: a list as a key",
            snippet: validManifest + "? 1️⃣[a, b]\n: 1\n",
            expected: [DiagnosticSpec("yaml.complex-key", at: "1️⃣", message: "mapping keys must be plain strings")]),
        Case(
            name: "yaml.complex-key: a mapping as a key in a flow mapping",
            snippet: validManifest + "x: {1️⃣{a: 1}: 2}\n",
            expected: [DiagnosticSpec("yaml.complex-key", at: "1️⃣")], exhaustive: false),
        Case(
            name: "yaml.syntax: unclosed flow sequence",
            snippet: "kvmplan: 1\nname: [demo\n1️⃣",
            expected: [DiagnosticSpec("yaml.syntax", at: "1️⃣", message: "YAML syntax error")]),
        Case(
            name: "yaml.syntax: a mapping value where none is allowed",
            snippet: "kvmplan: 1\nname: demo1️⃣: x\n",
            expected: [DiagnosticSpec("yaml.syntax", at: "1️⃣")]),
        Case(
            name: "yaml.syntax: a tab as indentation",
            snippet: "kvmplan: 1\nmemory:\n1️⃣\tregions: []\n",
            expected: [DiagnosticSpec("yaml.syntax", at: "1️⃣")]),
        Case(
            name: "yaml.too-many-directives: the 17th directive is refused before libyaml reads it",
            snippet: (1...16).map { "%TAG !t\($0)! tag:x,\($0):\n" }.joined() + "1️⃣%TAG !t17! tag:x,17:\n---\n" + validManifest,
            expected: [DiagnosticSpec("yaml.too-many-directives", at: "1️⃣", message: "more than 16 YAML directives")]),
        Case(
            name: "yaml.too-large: the node after the millionth is refused",
            // Nodes: the root mapping, the key 'x', the sequence, then 999,997 items before the marked one.
            snippet: "x: [" + String(repeating: "1,", count: 999_997) + "1️⃣1,1]\n",
            expected: [DiagnosticSpec("yaml.too-large", at: "1️⃣", message: "more than 1000000 nodes")]),
        Case(
            name: "yaml.syntax: a second document",
            snippet: "kvmplan: 1\n1️⃣---\nkvmplan: 1\n",
            expected: [DiagnosticSpec("yaml.syntax", at: "1️⃣", message: "another document")]),
        Case(
            name: "yaml.syntax: a document end and more content",
            snippet: "kvmplan: 1\n...\n1️⃣name: demo\n",
            expected: [DiagnosticSpec("yaml.syntax", at: "1️⃣")]),
        Case(
            name: "yaml.tag: a standard tag on a scalar",
            snippet: validManifest.replacing(line: "name: demo", with: "name: 1️⃣!!str demo"),
            expected: [DiagnosticSpec("yaml.tag", at: "1️⃣", message: "YAML tag")]),
        Case(
            name: "yaml.tag: a local tag on an integer",
            snippet: validManifest.replacing(line: "vcpus: 2", with: "vcpus: 1️⃣!count 2"),
            expected: [DiagnosticSpec("yaml.tag", at: "1️⃣", message: "'!count'")]),
        Case(
            name: "yaml.tag: a tag on a mapping",
            snippet: validManifest.replacing(line: "memory:", with: "memory: 1️⃣!!map"),
            expected: [DiagnosticSpec("yaml.tag", at: "1️⃣")]),
        Case(
            name: "yaml.tag: a tag on a sequence",
            snippet: validManifest.replacing(line: "  regions:", with: "  regions: 1️⃣!!seq"),
            expected: [DiagnosticSpec("yaml.tag", at: "1️⃣")]),
        Case(
            name: "yaml.duplicate-key: top level, at the repeated key",
            snippet: validManifest.replacing(line: "name: demo", with: "name: demo\n1️⃣name: other"),
            expected: [DiagnosticSpec("yaml.duplicate-key", at: "1️⃣", message: "duplicate key 'name'", note: "first written here")]),
        Case(
            name: "yaml.duplicate-key: in a region",
            snippet: validManifest.replacing(line: "      size: 2MiB", with: "      size: 2MiB\n      1️⃣size: 4MiB"),
            expected: [DiagnosticSpec("yaml.duplicate-key", at: "1️⃣", message: "'size'")]),
        Case(
            name: "yaml.duplicate-key: in a flow mapping",
            snippet: validManifest.replacing(line: "      backing: anonymous", with: "      backing: guest-memfd\n      guest-memfd: {mmap: true, 1️⃣mmap: false}"),
            expected: [DiagnosticSpec("yaml.duplicate-key", at: "1️⃣", message: "'mmap'")]),
        Case(
            name: "yaml.duplicate-key: a key three times is reported twice",
            snippet: validManifest.replacing(line: "vcpus: 2", with: "vcpus: 2\n1️⃣vcpus: 3\n2️⃣vcpus: 4"),
            expected: [DiagnosticSpec("yaml.duplicate-key", at: "1️⃣"), DiagnosticSpec("yaml.duplicate-key", at: "2️⃣")]),
        Case(
            name: "yaml.duplicate-key: two keys, each reported",
            snippet: validManifest.replacing(line: "vcpus: 2", with: "vcpus: 2\n1️⃣vcpus: 3").replacing(
                line: "arch: x86_64", with: "arch: x86_64\n2️⃣arch: arm64"),
            expected: [DiagnosticSpec("yaml.duplicate-key", at: "1️⃣"), DiagnosticSpec("yaml.duplicate-key", at: "2️⃣")]),
    ]

    // MARK: format.*

    static let formatCases: [Case] = [
        Case(
            name: "format.control-character: a NUL inside the payload path",
            snippet: validManifest + "payload:\n  format: flat\n  path: 1️⃣\"guests/a.bin\\0.txt\"\n  load: 0x1000\n",
            expected: [DiagnosticSpec("format.control-character", at: "1️⃣", message: "'guests/a.bin\\0.txt' contains a control character")]),
        Case(
            name: "format.control-character: a terminal escape in the payload path, shown escaped",
            snippet: validManifest + "payload:\n  format: flat\n  path: 1️⃣\"\\e]0;owned\\a.bin\"\n  load: 0x1000\n",
            expected: [DiagnosticSpec("format.control-character", at: "1️⃣", message: "'\\e]0;owned\\a.bin'")]),
        Case(
            name: "format.more-diagnostics: the 101st unknown key and after are one note",
            snippet: validManifest + (1...100).map { "k\($0): 1\n" }.joined() + "1️⃣k101: 1\nk102: 1\n",
            expected: [DiagnosticSpec("format.more-diagnostics", at: "1️⃣", severity: .note, message: "2 more format.unknown-key diagnostics")],
            exhaustive: false),
        Case(
            name: "format.name: a terminal escape in a name reaches the message escaped, never raw",
            snippet: validManifest.replacing(line: "name: demo", with: "name: 1️⃣\"\\e[2J\\e]0;owned\\a\""),
            expected: [DiagnosticSpec("format.name", at: "1️⃣", message: "'\\e[2J\\e]0;owned\\a' is not a valid name")]),
        Case(name: "format.empty: an empty file", snippet: "1️⃣", expected: [DiagnosticSpec("format.empty", at: "1️⃣")]),
        Case(
            name: "format.empty: only comments", snippet: "1️⃣# a manifest\n# to be written\n",
            expected: [DiagnosticSpec("format.empty", at: "1️⃣")]),
        Case(
            name: "format.empty: only blank lines", snippet: "1️⃣\n\n   \n",
            expected: [DiagnosticSpec("format.empty", at: "1️⃣")]),
        Case(
            name: "format.integer: not a number",
            snippet: validManifest.replacing(line: "      base: 0x0", with: "      base: 1️⃣zero"),
            expected: [DiagnosticSpec("format.integer", at: "1️⃣", message: "'base' value 'zero' is not an integer")]),
        Case(
            name: "format.integer: payload entry too large",
            snippet: validManifest + "payload:\n  path: g.bin\n  load: 0x100000\n  entry: 1️⃣0x1_0000_0000_0000_0000\n",
            expected: [DiagnosticSpec("format.integer", at: "1️⃣")]),
        Case(
            name: "format.integer: load offset",
            snippet: validManifest + "payload:\n  path: g.bin\n  load: 1️⃣ram+lots\n",
            expected: [DiagnosticSpec("format.integer", at: "1️⃣")]),
        Case(
            name: "format.missing-key: top level",
            snippet: "1️⃣kvmplan: 1\nname: demo\narch: x86_64\nplatform: default\n",
            expected: [DiagnosticSpec("format.missing-key", at: "1️⃣", message: "missing required key 'memory'")]),
        Case(
            name: "format.missing-key: every required top-level key",
            snippet: "1️⃣vcpus: 1\n",
            expected: ["kvmplan", "name", "arch", "platform", "memory"].map {
                DiagnosticSpec("format.missing-key", at: "1️⃣", message: "'\($0)'")
            }),
        Case(
            name: "format.missing-key: regions",
            snippet: "kvmplan: 1\nname: demo\narch: x86_64\nplatform: default\nmemory: 1️⃣{}\n",
            expected: [DiagnosticSpec("format.missing-key", at: "1️⃣", message: "'regions'")]),
        Case(
            name: "format.missing-key: region size",
            snippet: validManifest.replacing(line: "    - name: ram", with: "    - 1️⃣name: ram").replacing(
                line: "      size: 2MiB", with: ""),
            expected: [DiagnosticSpec("format.missing-key", at: "1️⃣", message: "'size' in region 0")]),
        Case(
            name: "format.missing-key: payload path",
            snippet: validManifest + "payload:\n  1️⃣load: 0x100000\n",
            expected: [DiagnosticSpec("format.missing-key", at: "1️⃣", message: "'path'")]),
        Case(
            name: "format.name: upper case and underscore",
            snippet: validManifest.replacing(line: "name: demo", with: "name: 1️⃣Demo_1"),
            expected: [DiagnosticSpec("format.name", at: "1️⃣", message: "'Demo_1' is not a valid name")]),
        Case(
            name: "format.name: leading dash in a region name",
            snippet: validManifest.replacing(line: "    - name: ram", with: "    - name: 1️⃣-ram"),
            expected: [DiagnosticSpec("format.name", at: "1️⃣")]),
        Case(
            name: "format.name: 64 characters",
            snippet: validManifest.replacing(line: "name: demo", with: "name: 1️⃣" + String(repeating: "a", count: 64)),
            expected: [DiagnosticSpec("format.name", at: "1️⃣")]),
        Case(
            name: "format.range: no vCPUs",
            snippet: validManifest.replacing(line: "vcpus: 2", with: "vcpus: 1️⃣0"),
            expected: [DiagnosticSpec("format.range", at: "1️⃣", message: "'vcpus' is 0")]),
        Case(
            name: "format.range: gpa-bits beyond 64",
            snippet: validManifest.replacing(line: "vcpus: 2", with: "gpa-bits: 1️⃣65"),
            expected: [DiagnosticSpec("format.range", at: "1️⃣")]),
        Case(
            name: "format.range: no regions",
            snippet: "kvmplan: 1\nname: demo\narch: x86_64\nplatform: default\nmemory:\n  regions: 1️⃣[]\n",
            expected: [DiagnosticSpec("format.range", at: "1️⃣", message: "'regions' is empty")]),
        Case(
            name: "format.range: shared-bit beyond 63",
            snippet: validManifest + "sharing:\n  shared-bit: 1️⃣64\n",
            expected: [DiagnosticSpec("format.range", at: "1️⃣")]),
        Case(
            name: "format.type: memory is a list",
            snippet: "kvmplan: 1\nname: demo\narch: x86_64\nplatform: default\nmemory: 1️⃣[]\n",
            expected: [DiagnosticSpec("format.type", at: "1️⃣", message: "'memory' must be a mapping, found a list")]),
        Case(
            name: "format.type: the manifest is a list",
            snippet: "1️⃣- kvmplan: 1\n",
            expected: [DiagnosticSpec("format.type", at: "1️⃣")]),
        Case(
            name: "format.type: the manifest is a scalar",
            snippet: "1️⃣kvmplan\n",
            expected: [DiagnosticSpec("format.type", at: "1️⃣")]),
        Case(
            name: "format.type: yes is not a boolean",
            snippet: validManifest.replacing(line: "      backing: anonymous", with: "      backing: anonymous\n      readonly: 1️⃣yes"),
            expected: [DiagnosticSpec("format.type", at: "1️⃣", message: "'readonly' must be true or false")]),
        Case(
            name: "format.type: a list for an integer",
            snippet: validManifest.replacing(line: "vcpus: 2", with: "vcpus: 1️⃣[2]"),
            expected: [DiagnosticSpec("format.type", at: "1️⃣", message: "'vcpus' must be a scalar")]),
        Case(
            name: "format.type: null size",
            snippet: validManifest.replacing(line: "      size: 2MiB", with: "      size: 1️⃣~"),
            expected: [DiagnosticSpec("format.type", at: "1️⃣", message: "found null")]),
        Case(
            name: "format.type: regions is a mapping",
            snippet: "kvmplan: 1\nname: demo\narch: x86_64\nplatform: default\nmemory:\n  regions: 1️⃣{ram: 1}\n",
            expected: [DiagnosticSpec("format.type", at: "1️⃣", message: "must be a list")]),
        Case(
            name: "format.type: load is not an address",
            snippet: validManifest + "payload:\n  path: g.bin\n  load: 1️⃣RAM+0x10\n",
            expected: [DiagnosticSpec("format.type", at: "1️⃣", message: "REGION+OFFSET")]),
        Case(
            name: "format.unknown-key: a misspelt region key, at the key, with a suggestion",
            snippet: validManifest.replacing(line: "      backing: anonymous", with: "      backing: anonymous\n      1️⃣readonyl: true"),
            expected: [
                DiagnosticSpec("format.unknown-key", at: "1️⃣", message: "unknown key 'readonyl'", note: "did you mean 'readonly'?")
            ]),
        Case(
            name: "format.unknown-key: a misspelt top-level key",
            snippet: validManifest.replacing(line: "vcpus: 2", with: "1️⃣vcpu: 2"),
            expected: [DiagnosticSpec("format.unknown-key", at: "1️⃣", note: "did you mean 'vcpus'?")]),
        Case(
            name: "format.unknown-key: a misspelt required key also misses the key",
            snippet: "2️⃣kvmplan: 1\nname: demo\narch: x86_64\n1️⃣platfrom: tdx\nmemory:\n  regions: [{name: ram, base: 0, size: 4KiB}]\n",
            expected: [
                DiagnosticSpec("format.unknown-key", at: "1️⃣", note: "did you mean 'platform'?"),
                DiagnosticSpec("format.missing-key", at: "2️⃣", message: "'platform'"),
            ]),
        Case(
            name: "format.unknown-key: in guest-memfd options",
            snippet: validManifest.replacing(line: "      backing: anonymous", with: "      backing: guest-memfd\n      guest-memfd: { 1️⃣mmapp: true }"),
            expected: [DiagnosticSpec("format.unknown-key", at: "1️⃣", note: "did you mean 'mmap'?")]),
        Case(
            name: "format.unknown-key: no suggestion for an unrelated word",
            snippet: validManifest.replacing(line: "vcpus: 2", with: "1️⃣colour: blue"),
            expected: [DiagnosticSpec("format.unknown-key", at: "1️⃣", note: "allowed keys here")]),
        Case(
            name: "format.value: an unknown platform, with a suggestion",
            snippet: validManifest.replacing(line: "platform: default", with: "platform: 1️⃣sev-snb"),
            expected: [DiagnosticSpec("format.value", at: "1️⃣", message: "found 'sev-snb'", note: "did you mean 'sev-snp'?")]),
        Case(
            name: "format.value: an unknown arch",
            snippet: validManifest.replacing(line: "arch: x86_64", with: "arch: 1️⃣riscv64"),
            expected: [DiagnosticSpec("format.value", at: "1️⃣", message: "x86_64, arm64")]),
        Case(
            name: "format.value: access",
            snippet: validManifest.replacing(line: "      access: shared", with: "      access: 1️⃣privat"),
            expected: [DiagnosticSpec("format.value", at: "1️⃣", note: "did you mean 'private'?")]),
        Case(
            name: "format.value: a conversion exit",
            snippet: validManifest + "sharing:\n  conversion: [fault, 1️⃣hypercal]\n",
            expected: [DiagnosticSpec("format.value", at: "1️⃣")]),
        Case(
            name: "format.version: 2",
            snippet: validManifest.replacing(line: "kvmplan: 1", with: "kvmplan: 1️⃣2"),
            expected: [DiagnosticSpec("format.version", at: "1️⃣", message: "unsupported manifest format '2'")]),
        Case(
            name: "format.version: 1.0",
            snippet: validManifest.replacing(line: "kvmplan: 1", with: "kvmplan: 1️⃣1.0"),
            expected: [DiagnosticSpec("format.version", at: "1️⃣")]),
    ]

    @Test("yaml.* diagnostics", arguments: yamlCases)
    func yaml(_ c: Case) {
        let snippet = MarkedSnippet(c.snippet)
        let (_, diagnostics) = parse(snippet)
        expectDiagnostics(diagnostics, c.expected, in: snippet, exhaustive: c.exhaustive)
    }

    @Test("format.* diagnostics", arguments: formatCases)
    func format(_ c: Case) {
        let snippet = MarkedSnippet(c.snippet)
        let (_, diagnostics) = parse(snippet)
        expectDiagnostics(diagnostics, c.expected, in: snippet, exhaustive: c.exhaustive)
    }

    @Test("every documented parser id has a case")
    func everyIDCovered() {
        let covered = Set((Self.yamlCases + Self.formatCases).flatMap { $0.expected.map(\.id) } + ["yaml.encoding"])
        for doc in ManifestMessages.documentation {
            #expect(covered.contains(doc.id.rawValue), "no test case for \(doc.id)")
        }
    }

    @Test("the sample manifest used by these tests is valid")
    func validManifestIsValid() {
        let (manifest, diagnostics) = parse(MarkedSnippet(validManifest))
        #expect(manifest != nil)
        #expect(diagnostics.isEmpty, "\(render(diagnostics))")
    }

    // MARK: Data paths

    @Test("diagnostics carry the data path of the offending value")
    func dataPaths() {
        let snippet = MarkedSnippet(
            validManifest.replacing(line: "      access: shared", with: "      access: secret")
                .replacing(line: "      backing: anonymous", with: "      backing: anonymous\n      flavour: x"))
        let (_, diagnostics) = parse(snippet)
        let paths = Dictionary(diagnostics.all.map { ($0.id.rawValue, $0.path.description) }, uniquingKeysWith: { a, _ in a })
        #expect(paths["format.value"] == "memory.regions[0].access")
        #expect(paths["format.unknown-key"] == "memory.regions[0].flavour")
    }

    // MARK: Regressions

    @Test(
        "a duplicate key is reported at the repeated key, with a note at the first",
        .bug(id: "duplicate-key-location", "was: reported at the first occurrence"))
    func duplicateAtRepeatedKey() {
        let snippet = MarkedSnippet("kvmplan: 1\n1️⃣name: a\n2️⃣name: b\n")
        let (_, diagnostics) = parse(snippet)
        let duplicate = diagnostics.all.first { $0.id == "yaml.duplicate-key" }
        #expect(duplicate?.location == snippet.location("2️⃣"))
        #expect(duplicate?.notes.first?.location == snippet.location("1️⃣"))
    }

    @Test(
        "a duplicate key does not hide the file's other diagnostics",
        .bug(id: "duplicate-key-stops-parse", "was: a duplicate key aborted composition, hiding every other diagnostic (DESIGN §3)"))
    func duplicateKeyAndOtherMistakes() {
        let snippet = MarkedSnippet(
            validManifest.replacing(line: "vcpus: 2", with: "vcpus: 2️⃣0")
                .replacing(line: "      size: 2MiB", with: "      size: 2MiB\n      1️⃣size: 4MiB"))
        let (_, diagnostics) = parse(snippet)
        expectDiagnostics(
            diagnostics, [DiagnosticSpec("yaml.duplicate-key", at: "1️⃣"), DiagnosticSpec("format.range", at: "2️⃣")], in: snippet)
    }

    @Test("the alias message is spelt correctly", .bug(id: "aliass", "was: 'YAML aliass are not allowed'"))
    func aliasMessageSpelling() {
        let (_, diagnostics) = parse(MarkedSnippet("kvmplan: 1\nname: *x\n"))
        #expect(diagnostics.all.first?.message == "YAML aliases are not allowed in a manifest")
    }

    @Test(
        "a swapped-letter typo of a short key gets a suggestion",
        .bug(id: "did-you-mean-transposition", "was: 'nmae' at edit distance 2 from 'name' got no suggestion"))
    func transpositionSuggestion() {
        let snippet = MarkedSnippet(validManifest.replacing(line: "name: demo", with: "1️⃣nmae: demo"))
        let (_, diagnostics) = parse(snippet)
        expectDiagnostics(
            diagnostics, [DiagnosticSpec("format.unknown-key", at: "1️⃣", note: "did you mean 'name'?")], in: snippet,
            exhaustive: false)
    }

    // MARK: Former bugs

    @Test(
        "a repeated key does not shift the columns of later diagnostics on its line",
        .bug(
            id: "duplicate-key-placeholder-columns",
            "was: ManifestSource renamed a repeated key to a longer placeholder and re-parsed; later columns on that line moved right"))
    func duplicateKeyColumns() {
        let snippet = MarkedSnippet(
            validManifest.replacing(line: "      size: 2MiB", with: "      size: 2MiB\n      guest-memfd: {mmap: true, 1️⃣mmap: false, init-shared: 2️⃣maybe}")
                .replacing(line: "      backing: anonymous", with: "      backing: guest-memfd"))
        let (_, diagnostics) = parse(snippet)
        expectDiagnostics(diagnostics, [DiagnosticSpec("yaml.duplicate-key", at: "1️⃣")], in: snippet, exhaustive: false)
        expectDiagnostics(diagnostics, [DiagnosticSpec("format.type", at: "2️⃣")], in: snippet, exhaustive: false)
    }

    @Test(
        "quoted, explicit and multi-line repeated keys are reported at the repeated key, with the rest of the file",
        .bug(
            id: "duplicate-key-fallback",
            "was: a quoted repeated key, an explicit '? key', or a flow mapping spanning lines was reported at the first occurrence and nothing else of the file was checked"),
        arguments: [
            ("quoted repeated key", "kvmplan: 1\nname: a\n1️⃣\"name\": b\nvcpus: 2️⃣0\n"),
            ("explicit key", "kvmplan: 1\nname: a\n? 1️⃣name\n: b\nvcpus: 2️⃣0\n"),
            ("flow mapping over two lines", "kvmplan: 1\nvcpus: 2️⃣0\nmemory: {regions: [{name: a,\n   1️⃣name: b}]}\n"),
        ])
    func duplicateKeyFallback(_ name: String, _ text: String) {
        let snippet = MarkedSnippet(text)
        let (_, diagnostics) = parse(snippet)
        #expect(diagnostics.all.contains { $0.id == "yaml.duplicate-key" }, "\(name)")
        expectDiagnostics(
            diagnostics, [DiagnosticSpec("yaml.duplicate-key", at: "1️⃣"), DiagnosticSpec("format.range", at: "2️⃣")],
            in: snippet, exhaustive: false)
    }

    @Test(
        "an explicit !!str tag on a quoted or block scalar is refused like any tag",
        .bug(
            id: "explicit-str-tag",
            "was: every non-plain scalar tagged tag:yaml.org,2002:str was taken for libyaml's implicit tag, so a written !!str was accepted"),
        arguments: ["name: 1️⃣!!str \"demo\"", "name: 1️⃣!!str 'demo'", "name: 1️⃣!!str |-\n  demo"])
    func explicitStrTag(_ line: String) {
        let snippet = MarkedSnippet(validManifest.replacing(line: "name: demo", with: line))
        let (_, diagnostics) = parse(snippet)
        expectDiagnostics(diagnostics, [DiagnosticSpec("yaml.tag", at: "1️⃣")], in: snippet)
    }
}
