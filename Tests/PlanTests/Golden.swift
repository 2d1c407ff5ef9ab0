import Foundation
import TestSupport
import Testing

/// Compares `actual` with the golden file `Tests/PlanTests/Golden/<name>`; with `RECORD_SNAPSHOTS=1` in the
/// environment, (re-)records it instead. Review re-recorded goldens as a diff.
func assertGolden(_ actual: String, named name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    let path = Repo.path("Tests/PlanTests/Golden/\(name)")
    if ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1" {
        try actual.write(toFile: path, atomically: true, encoding: .utf8)
        return
    }
    guard let expected = try? String(contentsOfFile: path, encoding: .utf8) else {
        Issue.record("missing golden file \(path); run with RECORD_SNAPSHOTS=1 to record it", sourceLocation: sourceLocation)
        return
    }
    if actual != expected {
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let line = (0..<min(a.count, e.count)).first { a[$0] != e[$0] } ?? min(a.count, e.count)
        let got = line < a.count ? String(a[line]) : "<end>"
        let want = line < e.count ? String(e[line]) : "<end>"
        Issue.record(
            "\(name) differs from the golden at line \(line + 1):\n  golden: \(want)\n  actual: \(got)\n(RECORD_SNAPSHOTS=1 re-records)",
            sourceLocation: sourceLocation)
    }
}
