import Foundation
import TestSupport
import Testing

/// `Scripts/known-issues.sh`, which .ci/run runs on the `swift test` log: the known issues listed once each at
/// the end, the run's closing line last.
@Suite("Known-issue summary of a test log")
struct KnownIssuesScriptTests {
    static func summarise(_ log: String) throws -> RunResult {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-log-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Data(log.utf8).write(to: URL(fileURLWithPath: file))
        return try run("/bin/sh", [Repo.path("Scripts/known-issues.sh"), file])
    }

    @Test("tests with known issues are listed with their counts; suites and the run line are not; the closing line is last")
    func summary() throws {
        let log = """
            ◇ Test run started.
            ━ Test "a known bug" recorded a known issue at X.swift:1:1: Expectation failed
            ━ Test "a known bug" passed after 0.1 seconds with 1 known issue.
            ✔ Test "fine" passed after 0.1 seconds.
            ━ Test "cases" with 4 test cases passed after 2.0 seconds with 8 known issues.
            ━ Suite "Known bugs" passed after 2.0 seconds with 9 known issues.
            ━ Test run with 3 tests in 1 suite passed after 2.0 seconds with 9 known issues.

            """
        let result = try Self.summarise(log)
        #expect(result.status == 0, "\(result)")
        #expect(
            result.stdout == """

                Known issues (expected; each is a reproduced bug kept as a withKnownIssue test, not a failure):
                  - a known bug (1)
                  - cases (8)
                ━ Test run with 3 tests in 1 suite passed after 2.0 seconds with 9 known issues.

                """)
    }

    @Test("a log without known issues prints only the closing line")
    func none() throws {
        let result = try Self.summarise("✔ Test \"fine\" passed after 0.1 seconds.\n✔ Test run with 1 test in 1 suite passed after 0.1 seconds.\n")
        #expect(result.stdout == "✔ Test run with 1 test in 1 suite passed after 0.1 seconds.\n")
    }
}
