import struct Diagnostics.SourceLocation

// Testing exists only where tests are built; `swift build -c release` builds this target too.
#if canImport(Testing)
import Testing
#endif

// Shared by ManifestTests and RulesTests.

/// A YAML snippet with location markers (`1️⃣`, `2️⃣`, …) as swift-syntax and swift-format tests write them
/// (STYLE rule 10). The markers are removed from `source`; each one's place becomes a 1-based line and
/// column, counted in Unicode scalars like `SourceLocation`.
public struct MarkedSnippet {
    public static let markerNames = ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟"]
    public static let file = "guest.yaml"

    public let source: String
    public private(set) var markers: [String: (line: Int, column: Int)] = [:]

    public init(_ marked: String) {
        var out = String.UnicodeScalarView()
        var line = 1
        var column = 1
        var rest = Substring(marked)
        outer: while let first = rest.unicodeScalars.first {
            for name in Self.markerNames where rest.hasPrefix(name) {
                markers[name] = (line, column)
                rest = rest.dropFirst(name.count)
                continue outer
            }
            out.append(first)
            if first == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
            rest = Substring(rest.unicodeScalars.dropFirst())
        }
        source = String(out)
    }

    public var bytes: [UInt8] { Array(source.utf8) }

    public func location(_ marker: String, file: String = MarkedSnippet.file) -> SourceLocation {
        guard let at = markers[marker] else {
            #if canImport(Testing)
            Issue.record("marker \(marker) is not in the snippet")
            #endif
            return SourceLocation(file: file, line: 0, column: 0)
        }
        return SourceLocation(file: file, line: at.line, column: at.column)
    }
}
