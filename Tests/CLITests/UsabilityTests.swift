import Foundation
import TestSupport
import Testing

/// `--help` that fits a terminal and lists every exit status, suggestions for typos, and messages that say
/// what is wrong with a value (issue 14).
@Suite("kvmplan usability: help, suggestions, values", .requiresBinary)
struct UsabilityTests {
    static func kvmplan(_ arguments: [String], columns: Int? = nil) throws -> RunResult {
        let binary = try #require(KVMPlanBinary.path)
        var environment = ProcessInfo.processInfo.environment
        if let columns { environment["COLUMNS"] = String(columns) }
        return try run(binary, arguments, environment: environment)
    }

    @Test("kvmplan --help fits 80 columns and lists every exit status, 128 + signal included")
    func help() throws {
        let result = try Self.kvmplan(["--help"], columns: 80)
        #expect(result.status == 0)
        let long = result.stdout.split(separator: "\n").filter { $0.count > 80 }
        #expect(long.isEmpty, "\(long)")
        for needle in ["124 --timeout", "125 kvmplan's own failure", "126 the host lacks", "130 SIGINT", "143 SIGTERM", "129 SIGHUP", "2 usage"] {
            #expect(result.stdout.contains(needle), "\(needle)")
        }
        // Each exit-status line is one line, not re-wrapped (was: "124\ntimeout;").
        #expect(result.stdout.contains("\n  diff         0 same; 1 different; 2 error (as diff(1))\n"))
    }

    @Test(
        "a misspelt subcommand gets a suggestion and exit 2",
        arguments: [("chekc", "check"), ("lauch", "launch"), ("plna", "plan"), ("expalin", "explain")])
    func subcommandTypo(_ typo: String, _ meant: String) throws {
        let result = try Self.kvmplan([typo, "Manifests/hello-long.yaml"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("kvmplan: unknown command '\(typo)'; did you mean '\(meant)'?"), "\(result)")
    }

    @Test("an unknown word far from every subcommand lists the commands")
    func unknownSubcommand() throws {
        let result = try Self.kvmplan(["frobnicate"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("(commands: check, plan, diff, map, explain, schema, probe, launch)"), "\(result)")
        #expect(!result.stderr.contains("did you mean"))
    }

    @Test("a misspelt rule id gets a suggestion and exit 2")
    func ruleTypo() throws {
        let result = try Self.kvmplan(["explain", "memory.overlapp"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("did you mean 'memory.overlap'?"), "\(result)")
    }

    @Test("--timeout with a negative or zero value says what is wrong with it (was: 'missing value')", arguments: ["-1", "0", "-0.5"])
    func timeout(_ value: String) throws {
        let result = try Self.kvmplan(["launch", "--timeout", value, "Manifests/hello-long.yaml"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("--timeout must be a positive number of seconds, not "), "\(result)")
        #expect(!result.stderr.contains("Missing value"), "\(result)")
    }

    @Test("help and usage still work: 'kvmplan help check', 'kvmplan check --help' exit 0")
    func helpForms() throws {
        #expect(try Self.kvmplan(["help", "check"]).status == 0)
        #expect(try Self.kvmplan(["check", "--help"]).status == 0)
        #expect(try Self.kvmplan(["launch", "--help"]).stdout.contains("SIGTERM"))
    }
}
