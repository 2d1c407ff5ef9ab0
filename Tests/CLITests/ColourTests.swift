import Foundation
import TestSupport
import Testing

/// `--color auto|always|never`, `NO_COLOR` and `TERM=dumb` (issue 14). A terminal comes from `script(1)`.
@Suite("--color, NO_COLOR, TERM=dumb", .requiresBinary)
struct ColourTests {
    static let invalid = "Manifests/invalid/overlapping-regions.yaml"
    static let escape = "\u{1B}["

    /// Runs kvmplan on a pseudo-terminal with exactly `environment`, and returns what the terminal showed.
    static func onTerminal(_ arguments: [String], environment: [String: String]) throws -> String {
        let binary = try #require(KVMPlanBinary.path)
        let command = ([binary] + arguments).map { "'\($0)'" }.joined(separator: " ")
        var env = ["PATH": "/usr/bin:/bin"]
        env.merge(environment) { _, new in new }
        let result = try run("/usr/bin/script", ["-qec", command, "/dev/null"], environment: env)
        return result.stdout
    }

    static let hasScript = FileManager.default.isExecutableFile(atPath: "/usr/bin/script")

    @Test("into a pipe: no colour by default or with never; --color always colours check and diff")
    func pipe() throws {
        #expect(!(try kvmplan("check", Self.invalid).stdout.contains(Self.escape)))
        #expect(!(try kvmplan("check", "--color", "never", Self.invalid).stdout.contains(Self.escape)))
        let always = try kvmplan("check", "--color", "always", Self.invalid)
        #expect(always.status == 1)
        #expect(always.stdout.contains("\u{1B}[1;31merror\u{1B}[0m"), "\(always)")
        let diff = try kvmplan("diff", "--color", "always", "Manifests/diff/exposure-region-shared.a.yaml", "Manifests/diff/exposure-region-shared.b.yaml")
        #expect(diff.stdout.contains(Self.escape), "\(diff)")
        let plainDiff = try kvmplan("diff", "Manifests/diff/exposure-region-shared.a.yaml", "Manifests/diff/exposure-region-shared.b.yaml")
        #expect(!plainDiff.stdout.contains(Self.escape))
    }

    @Test("plan and launch report a manifest's diagnostics on stderr in colour with --color always")
    func stderrDiagnostics() throws {
        let plan = try kvmplan("plan", "--color", "always", Self.invalid)
        #expect(plan.status == 1)
        #expect(plan.stderr.contains("\u{1B}[1;31merror\u{1B}[0m"), "\(plan)")
        let launch = try kvmplan("launch", "--color", "always", "--dry-run", Self.invalid)
        #expect(launch.status == 125)
        #expect(launch.stderr.contains("\u{1B}[1;31merror\u{1B}[0m"), "\(launch)")
    }

    @Test(
        "on a terminal: auto colours, unless NO_COLOR is non-empty or TERM=dumb; --color beats both",
        .enabled(if: hasScript, "script(1) is not available"),
        arguments: [
            ([], ["TERM": "xterm"], true),
            ([], ["TERM": "xterm", "NO_COLOR": "1"], false),
            ([], ["TERM": "xterm", "NO_COLOR": ""], true),
            ([], ["TERM": "dumb"], false),
            (["--color", "always"], ["TERM": "dumb", "NO_COLOR": "1"], true),
            (["--color", "never"], ["TERM": "xterm"], false),
        ] as [([String], [String: String], Bool)])
    func terminal(_ options: [String], _ environment: [String: String], _ coloured: Bool) throws {
        let screen = try Self.onTerminal(["check"] + options + [Self.invalid], environment: environment)
        #expect(screen.contains("error[memory.overlap]") || screen.contains("error\u{1B}[0m[memory.overlap]"), "\(screen)")
        #expect(screen.contains(Self.escape) == coloured, "\(screen)")
    }

    @Test("an unknown --color value is a usage error")
    func unknownValue() throws {
        let result = try kvmplan("check", "--color", "sometimes", "Manifests/hello-long.yaml")
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("--color"))
    }
}
