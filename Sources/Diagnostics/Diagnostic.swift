/// How serious a diagnostic is.
public enum Severity: String, Sendable, Hashable, Comparable, CaseIterable {
    case note
    case warning
    case error

    private var rank: Int {
        switch self {
        case .note: 0
        case .warning: 1
        case .error: 2
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// A stable diagnostic identifier such as `memory.overlap`. Users' tooling depends on these; never rename one.
public struct DiagnosticID: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }
    public static func < (lhs: DiagnosticID, rhs: DiagnosticID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A note attached to a diagnostic, optionally pointing at another place (the other region of an overlap, say).
public struct DiagnosticNote: Hashable, Sendable {
    public var message: String
    public var location: SourceLocation?

    public init(_ message: String, at location: SourceLocation? = nil) {
        self.message = message
        self.location = location
    }
}

/// One finding about an input: a value, never a thrown string.
public struct Diagnostic: Hashable, Sendable {
    public var id: DiagnosticID
    public var severity: Severity
    public var message: String
    /// Where the problem is. A problem with a whole file (one that cannot be read) has line 0
    /// (`SourceLocation.wholeFile`).
    public var location: SourceLocation
    /// The data path of the offending value (`memory.regions[1].size`); empty for file-level problems.
    public var path: DataPath
    public var notes: [DiagnosticNote]

    public init(
        id: DiagnosticID, severity: Severity, message: String,
        at location: SourceLocation, path: DataPath = .root, notes: [DiagnosticNote] = []
    ) {
        self.id = id
        self.severity = severity
        self.message = message
        self.location = location
        self.path = path
        self.notes = notes
    }

    public static func error(
        _ id: DiagnosticID, _ message: String, at location: SourceLocation, path: DataPath = .root,
        notes: [DiagnosticNote] = []
    ) -> Diagnostic {
        Diagnostic(id: id, severity: .error, message: message, at: location, path: path, notes: notes)
    }

    /// A failure of kvmplan to do its work rather than a finding about a manifest: an `io.*` id (a file
    /// that cannot be read, a host profile that cannot be loaded). It exits 2, and SARIF reports it as a
    /// tool execution notification as well as a result.
    public var isToolFailure: Bool { id.rawValue.hasPrefix("io.") }

    public static func warning(
        _ id: DiagnosticID, _ message: String, at location: SourceLocation, path: DataPath = .root,
        notes: [DiagnosticNote] = []
    ) -> Diagnostic {
        Diagnostic(id: id, severity: .warning, message: message, at: location, path: path, notes: notes)
    }
}

/// Collects diagnostics from the stages of the pipeline. Stages append; the edge renders.
public struct Diagnostics: Sendable, Hashable, Sequence {
    public private(set) var all: [Diagnostic] = []

    public init(_ all: [Diagnostic] = []) { self.all = all }

    public mutating func append(_ diagnostic: Diagnostic) { all.append(diagnostic) }
    public mutating func append(contentsOf other: some Sequence<Diagnostic>) { all.append(contentsOf: other) }

    public var errorCount: Int { all.count { $0.severity == .error } }
    public var warningCount: Int { all.count { $0.severity == .warning } }
    public var hasErrors: Bool { all.contains { $0.severity == .error } }
    public var isEmpty: Bool { all.isEmpty }

    /// Diagnostics in source order (file, line, column), then in the order found, so output is stable.
    public var sorted: [Diagnostic] {
        all.enumerated().sorted { a, b in
            if a.element.location != b.element.location { return a.element.location < b.element.location }
            return a.offset < b.offset
        }.map(\.element)
    }

    /// The most diagnostics of one id a file reports (issue 15: a million unknown keys printed 324 MiB of JSON).
    public static let limitPerID = 100

    /// At most `limit` diagnostics of each id (the first ones, in the order found); for each id with more, one
    /// `summary(id, left out, first left out)` in place of the rest. Apply to one file's diagnostics.
    public func limited(
        perID limit: Int = Diagnostics.limitPerID, summary: (DiagnosticID, Int, Diagnostic) -> Diagnostic
    ) -> Diagnostics {
        var counts: [DiagnosticID: Int] = [:]
        var firstLeftOut: [DiagnosticID: Diagnostic] = [:]
        var order: [DiagnosticID] = []
        var kept: [Diagnostic] = []
        for diagnostic in all {
            let seen = counts[diagnostic.id, default: 0]
            counts[diagnostic.id] = seen + 1
            if seen < limit {
                kept.append(diagnostic)
            } else if seen == limit {
                firstLeftOut[diagnostic.id] = diagnostic
                order.append(diagnostic.id)
            }
        }
        guard !order.isEmpty else { return self }
        for id in order {
            if let first = firstLeftOut[id] { kept.append(summary(id, counts[id, default: 0] - limit, first)) }
        }
        return Diagnostics(kept)
    }

    /// `--strict`: warnings become errors.
    public func promotingWarnings() -> Diagnostics {
        Diagnostics(
            all.map { d in
                var d = d
                if d.severity == .warning { d.severity = .error }
                return d
            })
    }

    public func makeIterator() -> IndexingIterator<[Diagnostic]> { all.makeIterator() }
}

/// Documentation of one diagnostic id, shown by `kvmplan explain`.
public struct RuleDocumentation: Sendable, Hashable {
    public var id: DiagnosticID
    public var severity: Severity
    /// One line: what the rule checks.
    public var summary: String
    /// Why it matters.
    public var rationale: String
    /// What the kernel does when the rule is broken (the late EINVAL this rule prevents), if anything.
    public var kernel: String
    /// How to fix a manifest that breaks it.
    public var fix: String

    public init(id: DiagnosticID, severity: Severity, summary: String, rationale: String, kernel: String, fix: String) {
        self.id = id
        self.severity = severity
        self.summary = summary
        self.rationale = rationale
        self.kernel = kernel
        self.fix = fix
    }
}
