/// A position in a manifest: file, 1-based line and 1-based column (in Unicode scalars).
public struct SourceLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:col`, or only `file` for a problem with the whole file (line 0, such as an unreadable file).
    public var description: String { isWholeFile ? file : "\(file):\(line):\(column)" }

    /// A location that names a file but no position in it (line 0): the file could not be read, say.
    public var isWholeFile: Bool { line == 0 }

    /// The whole of `file`.
    public static func wholeFile(_ file: String) -> SourceLocation { SourceLocation(file: file, line: 0, column: 0) }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// A path into the manifest's data tree, such as `memory.regions[1].size`.
public struct DataPath: Hashable, Sendable, CustomStringConvertible {
    public enum Component: Hashable, Sendable {
        case key(String)
        case index(Int)
    }

    public var components: [Component]

    public init(_ components: [Component] = []) { self.components = components }

    public static let root = DataPath()

    public func appending(_ key: String) -> DataPath { DataPath(components + [.key(key)]) }
    public func appending(index: Int) -> DataPath { DataPath(components + [.index(index)]) }

    public var description: String {
        var out = ""
        for component in components {
            switch component {
            case .key(let key):
                if !out.isEmpty { out += "." }
                out += key
            case .index(let index):
                out += "[\(index)]"
            }
        }
        return out
    }
}
