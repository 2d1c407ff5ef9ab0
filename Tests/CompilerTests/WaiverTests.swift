import Compiler
import Diagnostics
import Testing

/// `Waivers`: the inline comment scanner and which findings may be waived.
@Suite("Waivers")
struct WaiverTests {
    static func comments(_ text: String) -> [[String]] {
        Waivers.inlineComments(in: Array(text.utf8)).map { ["\($0.line)"] + $0.ids.map { "\($0.id)@\($0.column)" } }
    }

    @Test(
        "inline comments: after a value, on a line of their own, several ids; not inside a word",
        arguments: [
            ("a: 1  # kvmplan: ignore[x.y]\n", [["1", "x.y@25"]]),
            ("# kvmplan: ignore[a.b, c.d]\nb: 2\n", [["1", "a.b@19", "c.d@24"]]),
            ("a: 1\nb: 2\t#kvmplan:ignore[a.b,c.d]\n", [["2", "a.b@22", "c.d@26"]]),
            ("a: x#kvmplan: ignore[a.b]\n", []),
            ("a: 1  # kvmplan: ignore[]\n", []),
            ("a: 1  # other comment kvmplan: ignore[a.b]\n", []),
            ("é: 1  # kvmplan: ignore[a.b]\n", [["1", "a.b@25"]]),
        ])
    func scanner(_ text: String, _ expected: [[String]]) {
        #expect(Self.comments(text) == expected)
    }

    @Test("waivable: warnings, notes and host.* errors; not other errors, not io.* failures")
    func waivable() {
        let at = SourceLocation(file: "g.yaml", line: 1, column: 1)
        #expect(Waivers.isWaivable(.warning("platform.testing-only", "w", at: at)))
        #expect(Waivers.isWaivable(.error("host.vm-type", "h", at: at)))
        #expect(!Waivers.isWaivable(.error("memory.overlap", "e", at: at)))
        #expect(!Waivers.isWaivable(.error("io.read", "e", at: .wholeFile("g.yaml"))))
        #expect(Waivers.waiverProblem(for: "platform.testing-only") == nil)
        #expect(Waivers.waiverProblem(for: "host.vm-type") == nil)
        #expect(Waivers.waiverProblem(for: "memory.overlap")?.contains("cannot be waived") == true)
        #expect(Waivers.waiverProblem(for: "no.such-id")?.hasPrefix("unknown rule id") == true)
    }

    @Test("apply: --ignore and inline drop only what they name, on the right line, and report unused waivers")
    func apply() {
        let diagnostics = Diagnostics([
            .warning("platform.testing-only", "w", at: SourceLocation(file: "g.yaml", line: 4, column: 11)),
            .warning("platform.unmerged-uapi", "u", at: SourceLocation(file: "g.yaml", line: 4, column: 11)),
        ])
        let inline = Waivers.inlineComments(in: Array("a\nb\nc\nplatform: x  # kvmplan: ignore[platform.testing-only]\n# kvmplan: ignore[platform.unmerged-uapi]\n".utf8))
        let out = Waivers().apply(diagnostics, file: "g.yaml", inline: inline)
        #expect(out.all.map(\.id.rawValue) == ["platform.unmerged-uapi", "ignore.unused"])
        #expect(out.all.last?.location == SourceLocation(file: "g.yaml", line: 5, column: 19))
        let flagged = Waivers(ignored: ["platform.unmerged-uapi"]).apply(diagnostics, file: "g.yaml", inline: [])
        #expect(flagged.all.map(\.id.rawValue) == ["platform.testing-only"])
    }
}
