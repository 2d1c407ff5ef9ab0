/// A lexical pre-scan for YAML anchors (`&a`) and aliases (`*a`). Manifests are data: both are refused,
/// and they are refused *before* composing, so an alias bomb is never expanded or hashed. The scan is
/// linear, knows quoted scalars, comments, flow collections and block scalars, and looks only at token
/// starts, so `a*b` or `"&x"` are not mistaken for anchors.
enum AnchorScanner {
    private enum Quote { case none, single, double }

    static func firstAnchorOrAlias(_ bytes: [UInt8]) -> (offset: Int, what: String)? {
        // Fast path: no '&' and no '*' at all.
        guard bytes.contains(UInt8(ascii: "&")) || bytes.contains(UInt8(ascii: "*")) else { return nil }
        let n = bytes.count
        var i = 0
        var quote = Quote.none
        var flowDepth = 0
        // Block scalar state: the indentation of the line that opened it, and of its first content line.
        var blockParent: Int? = nil
        var blockContent: Int? = nil
        while i < n {
            // One line per iteration.
            var lineEnd = i
            while lineEnd < n && bytes[lineEnd] != 0x0A { lineEnd += 1 }
            var indent = 0
            while i + indent < lineEnd && bytes[i + indent] == 0x20 { indent += 1 }
            let blank = i + indent == lineEnd
            if let parent = blockParent {
                if blank {
                    i = lineEnd + 1
                    continue
                }
                if blockContent == nil && indent > parent { blockContent = indent }
                if let content = blockContent, indent >= content {
                    i = lineEnd + 1
                    continue
                }
                blockParent = nil
                blockContent = nil
            }
            var k = i + indent
            // Document markers `---` and `...` at column 0 may be followed by a node on the same line.
            if indent == 0, quote == .none, lineEnd - i >= 3,
                (bytes[i] == UInt8(ascii: "-") && bytes[i + 1] == UInt8(ascii: "-") && bytes[i + 2] == UInt8(ascii: "-"))
                    || (bytes[i] == UInt8(ascii: ".") && bytes[i + 1] == UInt8(ascii: ".") && bytes[i + 2] == UInt8(ascii: ".")),
                lineEnd - i == 3 || bytes[i + 3] == 0x20 || bytes[i + 3] == 0x09
            {
                k = i + 3
            }
            var tokenStart = quote == .none
            var prevSpace = true
            while k < lineEnd {
                let c = bytes[k]
                let next: UInt8 = k + 1 < lineEnd ? bytes[k + 1] : 0x20
                switch quote {
                case .double:
                    if c == UInt8(ascii: "\\") {
                        k += 2
                        continue
                    }
                    k += 1
                    if c == UInt8(ascii: "\"") {
                        quote = .none
                        // A quoted key may be followed directly by ':' ("a":&x): a value starts after it.
                        if k < lineEnd, bytes[k] == UInt8(ascii: ":") {
                            k += 1
                            tokenStart = true
                        }
                    }
                    continue
                case .single:
                    if c == UInt8(ascii: "'") {
                        if next == UInt8(ascii: "'") {
                            k += 2
                            continue
                        }
                        quote = .none
                        k += 1
                        if k < lineEnd, bytes[k] == UInt8(ascii: ":") {
                            k += 1
                            tokenStart = true
                        }
                        continue
                    }
                    k += 1
                    continue
                case .none:
                    break
                }
                if c == 0x20 || c == 0x09 || c == 0x0D {
                    prevSpace = true
                    k += 1
                    continue
                }
                if c == UInt8(ascii: "#") && prevSpace { break }
                prevSpace = false
                let nextIsBreak = next == 0x20 || next == 0x09 || next == 0x0D
                if tokenStart {
                    switch c {
                    case UInt8(ascii: "&"): return (k, "anchor")
                    case UInt8(ascii: "*"): return (k, "alias")
                    case UInt8(ascii: "\""):
                        quote = .double
                        tokenStart = false
                    case UInt8(ascii: "'"):
                        quote = .single
                        tokenStart = false
                    case UInt8(ascii: "["), UInt8(ascii: "{"):
                        flowDepth += 1
                    case UInt8(ascii: "-"), UInt8(ascii: "?"), UInt8(ascii: ":"):
                        // An indicator ("- ", "? ", ": ") keeps the token start; otherwise a plain scalar begins.
                        if !nextIsBreak { tokenStart = false }
                    case UInt8(ascii: "|"), UInt8(ascii: ">"):
                        if flowDepth == 0 {
                            blockParent = indent
                            blockContent = nil
                            k = lineEnd
                            continue
                        }
                        tokenStart = false
                    case UInt8(ascii: "!"):
                        while k + 1 < lineEnd && bytes[k + 1] != 0x20 && bytes[k + 1] != 0x09 { k += 1 }
                    case UInt8(ascii: "]"), UInt8(ascii: "}"):
                        flowDepth = max(0, flowDepth - 1)
                        tokenStart = false
                    case UInt8(ascii: ","):
                        break
                    default:
                        tokenStart = false
                    }
                    k += 1
                    continue
                }
                // Inside a plain scalar or after a closed quote.
                if c == UInt8(ascii: ":") && (nextIsBreak || (flowDepth > 0 && (next == UInt8(ascii: ",")
                    || next == UInt8(ascii: "]") || next == UInt8(ascii: "}"))))
                {
                    tokenStart = true
                } else if flowDepth > 0 {
                    if c == UInt8(ascii: ",") {
                        tokenStart = true
                    } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                        flowDepth -= 1
                    }
                }
                k += 1
            }
            i = lineEnd + 1
        }
        return nil
    }
}
