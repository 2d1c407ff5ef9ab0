import CLibYAML
import Diagnostics

/// Turns manifest bytes into a `YAMLNode` tree, or located diagnostics. Never throws, never traps:
/// invalid UTF-8, NUL bytes, syntax errors, anchors and aliases (alias bombs), tags, duplicate keys, complex
/// keys, deep nesting and multiple documents are all reported at their place.
///
/// The tree is built from libyaml's *events*, not from a composed document: an anchor or alias is refused at
/// the event that carries it, so no alias is ever resolved or expanded; every repeated key is reported at the
/// repeated occurrence while the rest of the file is still checked; and a tag is reported only where the user
/// wrote one (libyaml's implicit tags never appear as events).
public enum ManifestSource {
    /// libyaml itself has no nesting limit; the builder stops at this depth (far beyond any manifest, and well
    /// inside what the recursive release of a `YAMLNode` tree can handle).
    static let maximumDepth = 1000

    /// The most YAML directives (`%YAML`, `%TAG`) a manifest may have. A manifest needs none; libyaml checks
    /// each `%TAG` against all earlier ones (80,000 of them took 10 s), so the excess is refused before libyaml
    /// sees it.
    public static let maximumDirectives = 16

    /// The most nodes (scalars and collections) a manifest's tree may have: a manifest with as many regions as
    /// KVM has memslots (32,764) has about 560,000. Bounds the tree's memory (about 170 bytes a node) whatever
    /// the input, e.g. a 63 MiB flow sequence of 31 million items.
    public static let maximumNodes = 1_000_000

    public static func parse(bytes input: [UInt8], file: String) -> (YAMLNode?, [Diagnostic]) {
        // A UTF-8 byte-order mark is allowed and ignored (it has no column of its own).
        let bytes = input.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(input.dropFirst(3)) : input
        if let bad = firstInvalidUTF8(bytes) {
            let at = location(ofByte: bad, in: bytes, file: file)
            return (nil, [ManifestMessages.encoding("the file is not valid UTF-8 (byte offset \(bad))", at: at)])
        }
        if let nul = bytes.firstIndex(of: 0) {
            let at = location(ofByte: nul, in: bytes, file: file)
            return (nil, [ManifestMessages.encoding("the file contains a NUL byte (byte offset \(nul))", at: at)])
        }
        if let excess = excessDirective(bytes) {
            let at = location(ofByte: excess, in: bytes, file: file)
            return (nil, [ManifestMessages.tooManyDirectives(maximumDirectives, at: at)])
        }
        return bytes.withUnsafeBufferPointer { buffer in
            var builder = TreeBuilder(file: file)
            return builder.build(buffer, bytes: bytes)
        }
    }

    // MARK: - Byte-level helpers

    /// The byte offset of the first directive beyond `maximumDirectives`: libyaml reads a `%` at column 0 as a
    /// directive wherever it starts a token, so every line that starts with `%` is counted (a quoted scalar's
    /// continuation line may too: 16 of those are never needed either).
    static func excessDirective(_ bytes: [UInt8]) -> Int? {
        // Lines end where libyaml's do: LF, CR, NEL (C2 85), LS (E2 80 A8) and PS (E2 80 A9).
        var count = 0
        var atLineStart = true
        var previous: (UInt8, UInt8) = (0, 0)
        for (offset, b) in bytes.enumerated() {
            if atLineStart && b == UInt8(ascii: "%") {
                count += 1
                if count > maximumDirectives { return offset }
            }
            atLineStart =
                b == 0x0A || b == 0x0D || (b == 0x85 && previous.1 == 0xC2)
                || ((b == 0xA8 || b == 0xA9) && previous == (0xE2, 0x80))
            previous = (previous.1, b)
        }
        return nil
    }

    /// The byte offset of the first byte that is not part of a valid UTF-8 sequence.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                i += 1
                continue
            }
            let length: Int
            var minimum: UInt32
            var value: UInt32
            switch b {
            case 0xC2...0xDF: (length, minimum, value) = (2, 0x80, UInt32(b & 0x1F))
            case 0xE0...0xEF: (length, minimum, value) = (3, 0x800, UInt32(b & 0x0F))
            case 0xF0...0xF4: (length, minimum, value) = (4, 0x10000, UInt32(b & 0x07))
            default: return i
            }
            guard i + length <= n else { return i }
            for k in 1..<length {
                let c = bytes[i + k]
                guard c & 0xC0 == 0x80 else { return i }
                value = value << 6 | UInt32(c & 0x3F)
            }
            if value < minimum || value > 0x10FFFF || (0xD800...0xDFFF).contains(value) { return i }
            i += length
        }
        return nil
    }

    /// Line and column (in Unicode scalars) of a byte offset.
    public static func location(ofByte offset: Int, in bytes: [UInt8], file: String) -> SourceLocation {
        var line = 1
        var column = 1
        var i = 0
        let end = min(offset, bytes.count)
        while i < end {
            let b = bytes[i]
            if b == 0x0A {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
            i += 1
        }
        return SourceLocation(file: file, line: line, column: column)
    }
}

/// Builds a `YAMLNode` tree from libyaml's event stream with an explicit stack (no recursion).
private struct TreeBuilder {
    /// A collection being built.
    private struct Frame {
        var isMapping: Bool
        var location: SourceLocation
        var path: DataPath
        var items: [YAMLNode] = []
        var pairs: [YAMLNode.Pair] = []
        /// In a mapping: the key whose value comes next, and whether that value is dropped (a repeated or
        /// complex key, already reported).
        var pendingKey: (name: String, location: SourceLocation, drop: Bool)? = nil
        /// In a mapping: where each key was first written.
        var seen: [String: SourceLocation] = [:]
    }

    /// The diagnostic an event ended the build with.
    private struct Stop: Error {
        var diagnostic: Diagnostic
    }

    let file: String
    private var stack: [Frame] = []
    private var root: YAMLNode? = nil
    private var documents = 0
    private var nodes = 0
    private var diagnostics: [Diagnostic] = []

    init(file: String) { self.file = file }

    mutating func build(_ input: UnsafeBufferPointer<UInt8>, bytes: [UInt8]) -> (YAMLNode?, [Diagnostic]) {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            return (nil, [ManifestMessages.syntax("the YAML parser could not be initialised (out of memory)", at: start)])
        }
        defer { yaml_parser_delete(&parser) }
        // SAFETY: `input` stays valid for the whole loop (the caller's `withUnsafeBufferPointer`); libyaml only
        // reads it. An empty buffer has a nil base address, for which libyaml gets a valid empty pointer.
        let empty: [UInt8] = [0]
        empty.withUnsafeBufferPointer { fallback in
            yaml_parser_set_input_string(&parser, input.baseAddress ?? fallback.baseAddress, input.count)
        }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else {
                return (nil, diagnostics + [error(of: parser, bytes: bytes)])
            }
            defer { yaml_event_delete(&event) }
            if event.type == YAML_STREAM_END_EVENT { break }
            do throws(Stop) {
                try handle(event)
            } catch {
                let refusal = error.diagnostic
                return (nil, refusal.id == "yaml.alias" ? [refusal] : diagnostics + [refusal])
            }
        }
        guard let root else { return (nil, diagnostics + [ManifestMessages.empty(at: start)]) }
        return (root, diagnostics)
    }

    private var start: SourceLocation { SourceLocation(file: file, line: 1, column: 1) }

    private func location(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?, count: Int) -> String {
        guard let pointer, count > 0 else { return "" }
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    private static func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    /// The data path of the node that starts now.
    private var nextPath: DataPath {
        guard let top = stack.last else { return .root }
        if top.isMapping {
            guard let key = top.pendingKey else { return top.path }  // a key's own path is its mapping's
            return top.path.appending(key.name)
        }
        return top.path.appending(index: top.items.count)
    }

    private mutating func handle(_ event: yaml_event_t) throws(Stop) {
        let at = location(event.start_mark)
        switch event.type {
        case YAML_SCALAR_EVENT, YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            nodes += 1
            if nodes > ManifestSource.maximumNodes {
                throw Stop(diagnostic: ManifestMessages.tooManyNodes(ManifestSource.maximumNodes, at: at))
            }
        default:
            break
        }
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                let message = "YAML syntax error: a manifest is one YAML document, but another document starts here"
                throw Stop(diagnostic: ManifestMessages.syntax(message, at: at))
            }
        case YAML_ALIAS_EVENT:
            // Refused, never resolved: an alias bomb cannot expand (DESIGN §2).
            throw Stop(diagnostic: ManifestMessages.alias("alias", at: at))
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            try refuseAnchor(scalar.anchor, at: at)
            let path = nextPath
            reportTag(scalar.tag, at: at, path: path)
            let text = Self.string(scalar.value, count: Int(scalar.length))
            add(YAMLNode(kind: .scalar(text, plain: scalar.style == YAML_PLAIN_SCALAR_STYLE), location: at, path: path))
        case YAML_SEQUENCE_START_EVENT:
            try refuseAnchor(event.data.sequence_start.anchor, at: at)
            try open(isMapping: false, tag: event.data.sequence_start.tag, at: at)
        case YAML_MAPPING_START_EVENT:
            try refuseAnchor(event.data.mapping_start.anchor, at: at)
            try open(isMapping: true, tag: event.data.mapping_start.tag, at: at)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { return }
            let kind: YAMLNode.Kind = frame.isMapping ? .mapping(frame.pairs) : .sequence(frame.items)
            add(YAMLNode(kind: kind, location: frame.location, path: frame.path))
        default:
            break  // stream start/end, document end
        }
    }

    private func refuseAnchor(_ anchor: UnsafeMutablePointer<yaml_char_t>?, at: SourceLocation) throws(Stop) {
        if anchor != nil { throw Stop(diagnostic: ManifestMessages.alias("anchor", at: at)) }
    }

    /// Only a tag the user wrote reaches an event: libyaml's implicit tags do not.
    private mutating func reportTag(_ tag: UnsafeMutablePointer<yaml_char_t>?, at: SourceLocation, path: DataPath) {
        if let tag = Self.string(tag) { diagnostics.append(ManifestMessages.tag(tag, at: at, path: path)) }
    }

    private mutating func open(isMapping: Bool, tag: UnsafeMutablePointer<yaml_char_t>?, at: SourceLocation) throws(Stop) {
        guard stack.count < ManifestSource.maximumDepth else {
            let message = "YAML syntax error: collections nested deeper than \(ManifestSource.maximumDepth) levels"
            throw Stop(diagnostic: ManifestMessages.syntax(message, at: at))
        }
        let path = nextPath
        reportTag(tag, at: at, path: path)
        stack.append(Frame(isMapping: isMapping, location: at, path: path))
    }

    /// Places a finished node: the root, the next list item, a mapping key, or a mapping value.
    private mutating func add(_ node: YAMLNode) {
        guard !stack.isEmpty else {
            root = node
            return
        }
        let top = stack.count - 1
        guard stack[top].isMapping else {
            stack[top].items.append(node)
            return
        }
        if let key = stack[top].pendingKey {
            stack[top].pendingKey = nil
            if !key.drop { stack[top].pairs.append(YAMLNode.Pair(key: key.name, keyLocation: key.location, value: node)) }
            return
        }
        guard case .scalar(let name, _) = node.kind else {
            diagnostics.append(ManifestMessages.complexKey(at: node.location, path: stack[top].path))
            stack[top].pendingKey = ("", node.location, true)
            return
        }
        if let first = stack[top].seen[name] {
            // Reported at the repeated key; its value is not checked, and the rest of the file still is.
            diagnostics.append(ManifestMessages.duplicateKey("'\(ManifestMessages.clip(name))'", at: node.location, first: first))
            stack[top].pendingKey = (name, node.location, true)
            return
        }
        stack[top].seen[name] = node.location
        stack[top].pendingKey = (name, node.location, false)
    }

    // MARK: - Errors from libyaml

    private func error(of parser: yaml_parser_t, bytes: [UInt8]) -> Diagnostic {
        let problem = Self.string(parser.problem) ?? "unknown problem"
        switch parser.error {
        case YAML_READER_ERROR:
            let at = ManifestSource.location(ofByte: Int(parser.problem_offset), in: bytes, file: file)
            return ManifestMessages.encoding("unreadable YAML: \(problem)", at: at)
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR:
            var message = "YAML syntax error: \(problem)"
            if let context = Self.string(parser.context) {
                message += " (\(context) at \(parser.context_mark.line + 1):\(parser.context_mark.column + 1))"
            }
            return ManifestMessages.syntax(message, at: location(parser.problem_mark))
        default:
            return ManifestMessages.syntax("YAML error: \(problem)", at: start)
        }
    }
}
