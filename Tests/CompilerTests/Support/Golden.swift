import Foundation
import Testing
import TestSupport

/// Golden files (STYLE rule 10): compiler outputs compared byte for byte with files under
/// `Tests/CompilerTests/Golden/`, re-recorded with `RECORD_SNAPSHOTS=1` and reviewed as a git diff.
enum Golden {
    static let directory = Repo.path("Tests/CompilerTests/Golden")

    static var isRecording: Bool { ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1" }

    static func path(_ relative: String) -> String { directory + "/" + relative }

    static func read(_ relative: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path(relative)) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// Compares `actual` with the golden file `relative` (or records it). The failure names the first line
    /// that differs, with both versions of it.
    static func assert(_ actual: String, matches relative: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let file = path(relative)
        if isRecording {
            do {
                try FileManager.default.createDirectory(
                    atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try actual.write(toFile: file, atomically: true, encoding: .utf8)
            } catch {
                Issue.record("cannot record \(relative): \(error)", sourceLocation: sourceLocation)
            }
            return
        }
        guard let expected = read(relative) else {
            Issue.record(
                "golden file \(relative) is missing; record it with RECORD_SNAPSHOTS=1 and review the diff",
                sourceLocation: sourceLocation)
            return
        }
        if let difference = firstDifference(expected: expected, actual: actual) {
            Issue.record(
                "\(relative) differs from its golden file (re-record with RECORD_SNAPSHOTS=1 if intended):\n\(difference)",
                sourceLocation: sourceLocation)
        }
    }

    /// `line 12:\n  expected: …\n  actual:   …`, or nil when the texts are equal.
    static func firstDifference(expected: String, actual: String) -> String? {
        guard expected != actual else { return nil }
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        for i in 0..<max(e.count, a.count) {
            let el = i < e.count ? String(e[i]) : nil
            let al = i < a.count ? String(a[i]) : nil
            if el != al {
                var column = 1
                if let el, let al {
                    column = zip(el, al).prefix { $0 == $1 }.count + 1
                }
                return """
                    first difference at line \(i + 1), column \(column) (expected \(e.count) lines, got \(a.count)):
                      expected: \(el.map { "\"\($0)\"" } ?? "(end of file)")
                      actual:   \(al.map { "\"\($0)\"" } ?? "(end of file)")
                    """
            }
        }
        return "the texts differ only in their line endings"
    }
}
