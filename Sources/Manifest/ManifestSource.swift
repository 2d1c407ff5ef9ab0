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
        let text = String(decoding: bytes, as: UTF8.self)
        if let (offset, what) = AnchorScanner.firstAnchorOrAlias(bytes) {
            // Refused before composing: an alias bomb must never be expanded (DESIGN §2).
            let at = location(ofByte: offset, in: bytes, file: file)
            return (nil, [ManifestMessages.alias(what, at: at)])
        }
        let root: Node?
        do {
            // `.basic`: no regex tag resolution (kvmplan types scalars itself); `.utf8`: Yams would otherwise read
            // the environment for its default encoding on every parse.
            let parser = try Parser(yaml: text, resolver: .basic, encoding: .utf8)
            root = try parser.singleRoot()
        } catch let error as YamlError {
            return (nil, [yamlError(error, file: file, bytes: bytes)])
        } catch {
            return (nil, [ManifestMessages.syntax("\(error)", at: start)])
        }
        guard let root else { return (nil, [ManifestMessages.empty(at: start)]) }
        var diagnostics: [Diagnostic] = []
        let tree = convert(root, path: .root, file: file, diagnostics: &diagnostics)
        return (tree, diagnostics)
    }

    // MARK: - Yams → YAMLNode

    private static func location(_ mark: Mark?, _ file: String) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    private static func convert(
        _ node: Node, path: DataPath, file: String, diagnostics: inout [Diagnostic]
    ) -> YAMLNode {
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
            for (keyNode, valueNode) in mapping {
                let keyAt = location(keyNode.mark, file)
                guard case .scalar(let keyScalar) = keyNode else {
                    diagnostics.append(ManifestMessages.complexKey(at: keyAt, path: path))
                    continue
                }
                let key = keyScalar.string
                let value = convert(valueNode, path: path.appending(key), file: file, diagnostics: &diagnostics)
                pairs.append(YAMLNode.Pair(key: key, keyLocation: keyAt, value: value))
            }
            return YAMLNode(kind: .mapping(pairs), location: at, path: path)
        case .sequence(let sequence):
            if sequence.tag.rawValue.isEmpty == false {
                diagnostics.append(ManifestMessages.tag(sequence.tag.rawValue, at: at, path: path))
            }
            var items: [YAMLNode] = []
            items.reserveCapacity(sequence.count)
            for (n, item) in sequence.enumerated() {
                items.append(convert(item, path: path.appending(index: n), file: file, diagnostics: &diagnostics))
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
