/// Text for a terminal that is safe to print whatever it came from (issue 15: manifest strings and plan
/// strings reached the terminal raw, and ESC/BEL sequences retitled and cleared it).
///
/// Every control character except newline and tab (C0, DEL and the C1 range U+0080–U+009F) is written as a
/// visible escape: `\e` for ESC, `\a` for BEL, `\r` for CR, `\0` for NUL, `\xHH` / `\u{HH}` for the others.
/// With `keepingColour`, the SGR sequences (`ESC [ digits ; … m`, colour and bold only: they cannot move the
/// cursor, clear the screen or set the title) are kept, for renderers that colour their own output.
public enum TerminalText {
    /// Whether `scalar` is a control character that `escaped` rewrites.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        return (v < 0x20 && v != 0x0A && v != 0x09) || v == 0x7F || (0x80...0x9F).contains(v)
    }

    /// Whether `text` contains a control character (newline and tab included: not allowed in paths or names).
    public static func containsControl(_ text: String) -> Bool {
        text.unicodeScalars.contains { isControl($0) || $0 == "\n" || $0 == "\t" }
    }

    /// `text` with control characters made visible; `keepingColour` keeps SGR sequences.
    public static func escaped(_ text: String, keepingColour: Bool = false) -> String {
        // Fast path: most text has nothing to escape.
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            let s = scalars[i]
            if s == "\u{1B}", keepingColour, let end = sgrEnd(scalars, from: i) {
                out.append(contentsOf: scalars[i...end])
                i = end + 1
                continue
            }
            if isControl(s) {
                out.append(contentsOf: visible(s).unicodeScalars)
            } else {
                out.append(s)
            }
            i += 1
        }
        return String(out)
    }

    /// The visible spelling of one control character.
    public static func visible(_ s: Unicode.Scalar) -> String {
        switch s.value {
        case 0x00: return "\\0"
        case 0x07: return "\\a"
        case 0x08: return "\\b"
        case 0x09: return "\\t"
        case 0x0A: return "\\n"
        case 0x0D: return "\\r"
        case 0x1B: return "\\e"
        case 0..<0x100:
            let digits = String(s.value, radix: 16)
            return (s.value < 0x80 ? "\\x" : "\\u{") + (digits.count < 2 ? "0" : "") + digits + (s.value < 0x80 ? "" : "}")
        default: return String(s)
        }
    }

    /// `text` with every control character escaped, newline and tab included (for one-line values: paths, names).
    public static func oneLine(_ text: String) -> String {
        guard containsControl(text) else { return text }
        var out = ""
        for s in text.unicodeScalars {
            if isControl(s) || s == "\n" || s == "\t" { out += visible(s) } else { out.unicodeScalars.append(s) }
        }
        return out
    }

    /// The index of the final `m` of an SGR sequence starting at `start` (ESC), or nil.
    private static func sgrEnd(_ scalars: [Unicode.Scalar], from start: Int) -> Int? {
        var i = start + 1
        guard i < scalars.count, scalars[i] == "[" else { return nil }
        i += 1
        while i < scalars.count, i - start < 32 {
            let s = scalars[i]
            if s == "m" { return i }
            guard ("0"..."9").contains(s) || s == ";" else { return nil }
            i += 1
        }
        return nil
    }
}
