import Foundation

// Testing exists only where tests are built; `swift build -c release` builds this target too.
#if canImport(Testing)
import Testing
#endif

/// Golden files (STYLE rule 10): outputs compared byte for byte with the files of one directory of the
/// repository, re-recorded with `RECORD_SNAPSHOTS=1` in the environment and reviewed as a git diff.
public struct Golden: Sendable {
    /// Whether this run records golden files instead of comparing with them (`RECORD_SNAPSHOTS=1`).
    public static var isRecording: Bool { ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1" }

    /// The directory of the golden files, relative to the repository root (`Tests/CompilerTests/Golden`).
    public let directory: String

    public init(_ directory: String) { self.directory = directory }

    /// The absolute path of the golden file `name` (`diff/layout.txt`).
    public func path(_ name: String) -> String { Repo.path(directory + "/" + name) }

    /// The golden file `name`, or nil when it does not exist.
    public func read(_ name: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path(name)) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    #if canImport(Testing)
    /// Compares `actual` with the golden file `name`, or records it when `recording`. The failure names the
    /// first line that differs, with both versions of it. Pass `recording: false` where another test records
    /// the file (the same golden checked through the built binary, say).
    public func assert(
        _ actual: String, matches name: String, recording: Bool = Golden.isRecording,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        let file = path(name)
        if recording {
            do {
                try FileManager.default.createDirectory(
                    atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try actual.write(toFile: file, atomically: true, encoding: .utf8)
            } catch {
                Issue.record("cannot record \(directory)/\(name): \(error)", sourceLocation: sourceLocation)
            }
            return
        }
        guard let expected = read(name) else {
            Issue.record(
                "golden file \(directory)/\(name) is missing; record it with RECORD_SNAPSHOTS=1 and review the diff",
                sourceLocation: sourceLocation)
            return
        }
        if let difference = Self.firstDifference(expected: expected, actual: actual) {
            Issue.record(
                "\(directory)/\(name) differs from its golden file (re-record with RECORD_SNAPSHOTS=1 if intended):\n\(difference)",
                sourceLocation: sourceLocation)
        }
    }
    #endif

    /// `first difference at line 12, column 3 (…):\n  expected: …\n  actual:   …`, or nil when the texts are equal.
    public static func firstDifference(expected: String, actual: String) -> String? {
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
