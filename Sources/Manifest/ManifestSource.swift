import Diagnostics
import Yams

/// Turns manifest bytes into a `YAMLNode` tree, or located diagnostics. Never throws, never traps:
/// invalid UTF-8, NUL bytes, syntax errors, anchors and aliases (alias bombs), tags, duplicate keys and
/// multiple documents are all reported at their place.
public enum ManifestSource {
    public static func parse(bytes input: [UInt8], file: String) -> (YAMLNode?, [Diagnostic]) {
        // A UTF-8 byte-order mark is allowed and ignored (it has no column of its own).
        let bytes = input.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(input.dropFirst(3)) : input
        let start = SourceLocation(file: file, line: 1, column: 1)
        if let bad = firstInvalidUTF8(bytes) {
            let at = location(ofByte: bad, in: bytes, file: file)
            return (nil, [ManifestMessages.encoding("the file is not valid UTF-8 (byte offset \(bad))", at: at)])
        }
        if let nul = bytes.firstIndex(of: 0) {
            let at = location(ofByte: nul, in: bytes, file: file)
            return (nil, [ManifestMessages.encoding("the file contains a NUL byte (byte offset \(nul))", at: at)])
        }
        if let (offset, what) = AnchorScanner.firstAnchorOrAlias(bytes) {
            // Refused before composing: an alias bomb must never be expanded (DESIGN §2).
            let at = location(ofByte: offset, in: bytes, file: file)
            return (nil, [ManifestMessages.alias(what, at: at)])
        }
        // Yams stops at the first duplicate key. To report every duplicate at its *repeated* key and still
        // check the rest of the file, each repeated key is renamed to a placeholder the decoder skips, and
        // the document is parsed again (at most 64 times).
        var working = bytes
        var duplicateDiagnostics: [Diagnostic] = []
        var root: Node? = nil
        for round in 0...64 {
            do {
                // `.basic`: no regex tag resolution (kvmplan types scalars itself); `.utf8`: Yams would otherwise
                // read the environment for its default encoding on every parse.
                let parser = try Parser(yaml: String(decoding: working, as: UTF8.self), resolver: .basic, encoding: .utf8)
                root = try parser.singleRoot()
                break
            } catch YamlError.duplicatedKeysInMapping(let duplicates, let context) {
                let first = location(context.mark, file)
                guard round < 64, let name = duplicates.first,
                    let repeated = DuplicateKeyFinder.repeatedKey(name, after: context.mark, in: working)
                else {
                    let names = duplicates.map { "'\($0)'" }.joined(separator: ", ")
                    return (nil, duplicateDiagnostics + [ManifestMessages.duplicateKey(names, at: first)])
                }
                let at = ManifestSource.location(ofByte: repeated.lowerBound, in: working, file: file)
                duplicateDiagnostics.append(
                    ManifestMessages.duplicateKey("'\(name)'", at: at, first: first))
                let placeholder = Array((DuplicateKeyFinder.placeholderPrefix + String(round)).utf8)
                working.replaceSubrange(repeated, with: placeholder)
            } catch let error as YamlError {
                return (nil, duplicateDiagnostics + [yamlError(error, file: file, bytes: working)])
            } catch {
                return (nil, duplicateDiagnostics + [ManifestMessages.syntax("\(error)", at: start)])
            }
        }
        guard let root else { return (nil, duplicateDiagnostics + [ManifestMessages.empty(at: start)]) }
        var diagnostics: [Diagnostic] = duplicateDiagnostics
        // Backstop for aliases the lexical pre-scan cannot see: Yams shares aliased subtrees, so an alias bomb
        // composes cheaply but would expand here. Converting stops after a node budget far above any real
        // manifest (a 5 MB manifest has about 600,000 nodes).
        var budget = nodeBudget
        let tree = convert(root, path: .root, file: file, budget: &budget, diagnostics: &diagnostics)
        if budget < 0 {
            return (nil, diagnostics.filter { $0.id == "yaml.alias" } + [
                ManifestMessages.alias("alias", at: start, expansion: nodeBudget)
            ])
        }
        return (tree, diagnostics)
    }

    // MARK: - Yams → YAMLNode

    private static func location(_ mark: Mark?, _ file: String) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    static let nodeBudget = 4_000_000

    private static func convert(
        _ node: Node, path: DataPath, file: String, budget: inout Int, diagnostics: inout [Diagnostic]
    ) -> YAMLNode {
        budget -= 1
        let at = location(node.mark, file)
        if node.anchor != nil {
            diagnostics.append(ManifestMessages.alias("anchor", at: at))
        }
        switch node {
        case .scalar(let scalar):
            // libyaml tags quoted and block scalars `!!str` implicitly (`quoted_implicit`): that is no tag the user wrote.
            let implicitString = scalar.style != .plain && scalar.tag.rawValue == "tag:yaml.org,2002:str"
            if !scalar.tag.rawValue.isEmpty && !implicitString {
                diagnostics.append(ManifestMessages.tag(scalar.tag.rawValue, at: at, path: path))
            }
            return YAMLNode(kind: .scalar(scalar.string, plain: scalar.style == .plain), location: at, path: path)
        case .mapping(let mapping):
            if mapping.tag.rawValue.isEmpty == false {
                diagnostics.append(ManifestMessages.tag(mapping.tag.rawValue, at: at, path: path))
            }
            var pairs: [YAMLNode.Pair] = []
            pairs.reserveCapacity(mapping.count)
            for (keyNode, valueNode) in mapping where budget >= 0 {
                let keyAt = location(keyNode.mark, file)
                guard case .scalar(let keyScalar) = keyNode else {
                    diagnostics.append(ManifestMessages.complexKey(at: keyAt, path: path))
                    continue
                }
                let key = keyScalar.string
                // A repeated key, already reported: its value is not checked again.
                if key.hasPrefix(DuplicateKeyFinder.placeholderPrefix) { continue }
                let value = convert(valueNode, path: path.appending(key), file: file, budget: &budget, diagnostics: &diagnostics)
                pairs.append(YAMLNode.Pair(key: key, keyLocation: keyAt, value: value))
            }
            return YAMLNode(kind: .mapping(pairs), location: at, path: path)
        case .sequence(let sequence):
            if sequence.tag.rawValue.isEmpty == false {
                diagnostics.append(ManifestMessages.tag(sequence.tag.rawValue, at: at, path: path))
            }
            var items: [YAMLNode] = []
            items.reserveCapacity(sequence.count)
            for (n, item) in sequence.enumerated() where budget >= 0 {
                items.append(convert(item, path: path.appending(index: n), file: file, budget: &budget, diagnostics: &diagnostics))
            }
            return YAMLNode(kind: .sequence(items), location: at, path: path)
        case .alias(let alias):
            return YAMLNode(
                kind: .scalar("", plain: true), location: location(alias.mark, file), path: path)
        }
    }

    // MARK: - Errors from libyaml

    private static func yamlError(_ error: YamlError, file: String, bytes: [UInt8]) -> Diagnostic {
        let start = SourceLocation(file: file, line: 1, column: 1)
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = "YAML syntax error: \(problem)"
            if let context { message += " (\(context.text) at \(context.mark.line):\(context.mark.column))" }
            return ManifestMessages.syntax(message, at: location(mark, file))
        case .reader(let problem, let offset, _, _):
            let at = offset.map { location(ofByte: $0, in: bytes, file: file) } ?? start
            return ManifestMessages.encoding("unreadable YAML: \(problem)", at: at)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let names = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return ManifestMessages.duplicateKey(names, at: location(context.mark, file))
        default:
            return ManifestMessages.syntax("YAML error: \(error)", at: start)
        }
    }

    // MARK: - Byte-level helpers

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

/// Finds the repeated occurrence of a duplicated key, given the mark of its first occurrence.
enum DuplicateKeyFinder {
    static let placeholderPrefix = "__kvmplan_duplicate_"

    /// The byte range of the key's repeated occurrence: in a block mapping, a later line with the key at the
    /// same column; in a flow mapping, later on the same line after ',' or '{'.
    static func repeatedKey(_ name: String, after mark: Mark, in bytes: [UInt8]) -> Range<Int>? {
        let key = Array(name.utf8)
        guard !key.isEmpty else { return nil }
        // Line starts.
        var lineStarts = [0]
        for (i, b) in bytes.enumerated() where b == 0x0A { lineStarts.append(i + 1) }
        guard mark.line >= 1, mark.line <= lineStarts.count else { return nil }
        func lineEnd(_ line: Int) -> Int { line < lineStarts.count ? lineStarts[line] - 1 : bytes.count }
        func matchesKey(at offset: Int, lineEnd end: Int) -> Bool {
            guard offset + key.count <= end, Array(bytes[offset..<offset + key.count]) == key else { return false }
            var k = offset + key.count
            while k < end, bytes[k] == 0x20 || bytes[k] == 0x09 { k += 1 }
            return k < end && bytes[k] == UInt8(ascii: ":")
        }
        // Byte offset of a 1-based column (in Unicode scalars) on a line.
        func offset(line: Int, column: Int) -> Int? {
            var o = lineStarts[line - 1]
            var c = 1
            let end = lineEnd(line)
            while c < column && o < end {
                o += 1
                while o < end && bytes[o] & 0xC0 == 0x80 { o += 1 }
                c += 1
            }
            return c == column ? o : nil
        }
        // Same line (flow mapping): a later `, key:` or `{ key:`.
        if let first = offset(line: mark.line, column: mark.column) {
            let end = lineEnd(mark.line)
            var i = first + key.count
            while i < end {
                if bytes[i] == UInt8(ascii: ",") || bytes[i] == UInt8(ascii: "{") {
                    var k = i + 1
                    while k < end, bytes[k] == 0x20 { k += 1 }
                    if matchesKey(at: k, lineEnd: end) { return k..<k + key.count }
                }
                i += 1
            }
        }
        // Later lines (block mapping): the key at the same column, with only spaces before it.
        var line = mark.line + 1
        while line <= lineStarts.count {
            let start = lineStarts[line - 1]
            let end = lineEnd(line)
            var indent = 0
            while start + indent < end, bytes[start + indent] == 0x20 { indent += 1 }
            if start + indent < end, bytes[start + indent] != UInt8(ascii: "#") {
                // A line less indented than the key ends its mapping.
                if indent + 1 < mark.column, bytes[start + indent] != UInt8(ascii: "-") { return nil }
                if indent + 1 == mark.column, matchesKey(at: start + indent, lineEnd: end) {
                    return start + indent..<start + indent + key.count
                }
            }
            line += 1
        }
        return nil
    }
}
