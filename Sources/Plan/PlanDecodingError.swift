import Diagnostics

/// Why a plan file could not be read: the step (index and id) and field at fault, or the validation issues of a
/// plan that decoded but is not valid.
public struct PlanDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    /// The field: relative to the step when `stepIndex` is set (`args.gpa`), else from the top (`requires.vm-type`).
    public var field: String?
    public var stepIndex: Int?
    public var stepID: String?
    /// The validation issues, when the plan decoded but `validate()` found problems.
    public var issues: [PlanIssue]

    public init(
        _ message: String, field: String? = nil, stepIndex: Int? = nil, stepID: String? = nil, issues: [PlanIssue] = []
    ) {
        self.message = message
        self.field = field
        self.stepIndex = stepIndex
        self.stepID = stepID
        self.issues = issues
    }

    /// `step 3 (slot.ram): args.gpa: expected an unsigned integer`.
    public var description: String {
        var out = ""
        if let stepIndex {
            out += "step \(stepIndex)"
            if let stepID { out += " (\(stepID))" }
            out += ": "
        }
        if let field { out += "\(field): " }
        out += message
        for issue in issues { out += "\n  " + issue.description }
        return out
    }
}

// MARK: - Reading JSON objects strictly

/// Where in the plan a reader is, to name it in errors.
struct DecodingContext {
    var stepIndex: Int?
    var stepID: String?

    func error(_ field: String, _ message: String) -> PlanDecodingError {
        PlanDecodingError(message, field: field.isEmpty ? nil : field, stepIndex: stepIndex, stepID: stepID)
    }
}

/// Reads the members of one JSON object, each exactly once, with typed accessors; `finish()` rejects members that
/// were not read. Errors name the full field path.
struct ObjectReader {
    let members: [String: JSONValue]
    let path: String
    let context: DecodingContext
    private var read: Set<String> = []

    init(_ value: JSONValue, path: String, context: DecodingContext) throws(PlanDecodingError) {
        guard case .object(let members) = value else { throw context.error(path, "expected an object") }
        self.members = members
        self.path = path
        self.context = context
    }

    func field(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    func error(_ key: String, _ message: String) -> PlanDecodingError { context.error(field(key), message) }

    /// The member `key`; an error when it is missing.
    mutating func value(_ key: String) throws(PlanDecodingError) -> JSONValue {
        guard let value = members[key] else { throw error(key, "missing") }
        read.insert(key)
        return value
    }

    /// The member `key`, or nil when absent.
    mutating func optional(_ key: String) -> JSONValue? {
        guard let value = members[key] else { return nil }
        read.insert(key)
        return value
    }

    mutating func uint64(_ key: String) throws(PlanDecodingError) -> UInt64 {
        guard let v = try value(key).uint64Value else { throw error(key, "expected an unsigned integer") }
        return v
    }

    mutating func uint32(_ key: String) throws(PlanDecodingError) -> UInt32 {
        guard let v = UInt32(exactly: try uint64(key)) else { throw error(key, "out of range for a 32-bit value") }
        return v
    }

    mutating func uint16(_ key: String) throws(PlanDecodingError) -> UInt16 {
        guard let v = UInt16(exactly: try uint64(key)) else { throw error(key, "out of range for a 16-bit value") }
        return v
    }

    mutating func uint8(_ key: String) throws(PlanDecodingError) -> UInt8 {
        guard let v = UInt8(exactly: try uint64(key)) else { throw error(key, "out of range for an 8-bit value") }
        return v
    }

    mutating func bool(_ key: String) throws(PlanDecodingError) -> Bool {
        guard let v = try value(key).boolValue else { throw error(key, "expected true or false") }
        return v
    }

    mutating func string(_ key: String) throws(PlanDecodingError) -> String {
        guard let v = try value(key).stringValue else { throw error(key, "expected a string") }
        return v
    }

    mutating func optionalString(_ key: String) throws(PlanDecodingError) -> String? {
        guard let value = optional(key) else { return nil }
        guard let v = value.stringValue else { throw error(key, "expected a string") }
        return v
    }

    /// A string member that must be one of an enum's raw values.
    mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, _: T.Type) throws(PlanDecodingError) -> T
    where T.RawValue == String {
        let text = try string(key)
        guard let v = T(rawValue: text) else {
            let allowed = T.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw error(key, "'\(text)' is not one of \(allowed)")
        }
        return v
    }

    /// An array of flag names.
    mutating func flags<F: NamedFlags>(_ key: String, _: F.Type) throws(PlanDecodingError) -> F {
        guard let items = try value(key).arrayValue else { throw error(key, "expected an array of flag names") }
        var names: [String] = []
        for item in items {
            guard let name = item.stringValue else { throw error(key, "expected an array of flag names") }
            names.append(name)
        }
        guard let flags = F(names: names) else {
            let allowed = F.named.map(\.name).joined(separator: ", ")
            throw error(key, "unknown flag in \(names); allowed: \(allowed)")
        }
        return flags
    }

    /// An fd reference (`"%gmem.ram"`) of one of `kinds`.
    mutating func fd(_ key: String, kinds: Set<FdKind>) throws(PlanDecodingError) -> FdRef {
        let text = try string(key)
        guard let ref = FdRef(parsing: text) else { throw error(key, "'\(text)' is not an fd reference such as %vm or %gmem.ram") }
        guard kinds.contains(ref.kind) else {
            let expected = kinds.sorted { $0.rawValue < $1.rawValue }.map(\.description).joined(separator: " or ")
            throw error(key, "wrong fd kind: expected \(expected), not \(ref)")
        }
        return ref
    }

    /// A nested object.
    mutating func object(_ key: String) throws(PlanDecodingError) -> ObjectReader {
        try ObjectReader(try value(key), path: field(key), context: context)
    }

    /// A nested object or null.
    mutating func optionalObject(_ key: String) throws(PlanDecodingError) -> ObjectReader? {
        let v = try value(key)
        if v == .null { return nil }
        return try ObjectReader(v, path: field(key), context: context)
    }

    /// `{"map": "%map.ram", "offset": 0}`.
    mutating func address(_ key: String) throws(PlanDecodingError) -> Address {
        var o = try object(key)
        return try o.addressBody()
    }

    mutating func optionalAddress(_ key: String) throws(PlanDecodingError) -> Address? {
        guard var o = try optionalObject(key) else { return nil }
        return try o.addressBody()
    }

    private mutating func addressBody() throws(PlanDecodingError) -> Address {
        let map = try fd("map", kinds: [.mapping])
        let offset = try uint64("offset")
        try finish()
        return Address(map, offset: offset)
    }

    /// A source location `"file:line:col"`, or nil when absent.
    mutating func source(_ key: String = "source") throws(PlanDecodingError) -> SourceLocation? {
        guard let text = try optionalString(key) else { return nil }
        guard let location = SourceLocation(parsing: text) else { throw error(key, "'\(text)' is not file:line:column") }
        return location
    }

    /// Rejects members that were not read.
    func finish() throws(PlanDecodingError) {
        let extra = members.keys.filter { !read.contains($0) }.sorted()
        if let first = extra.first { throw error(first, "unknown field") }
    }
}

extension SourceLocation {
    /// Parses `file:line:column` (the file may itself contain colons).
    init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, let column = Int(parts[parts.count - 1]), let line = Int(parts[parts.count - 2]),
            line >= 0, column >= 0
        else { return nil }
        let file = parts.dropLast(2).joined(separator: ":")
        guard !file.isEmpty else { return nil }
        self.init(file: file, line: line, column: column)
    }
}
