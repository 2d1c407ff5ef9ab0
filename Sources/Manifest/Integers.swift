/// Integer syntax of manifests: decimal, `0x` hex, `_` separators, and sizes with a binary suffix
/// (`KiB`, `MiB`, `GiB`, `TiB`, optionally after one space). All arithmetic is checked 64-bit.
public enum ManifestInteger {
    public enum Failure: Error, Equatable, Sendable {
        case empty
        case negative
        case notANumber
        case tooLarge
        case badSuffix(String)

        public var message: String {
            switch self {
            case .empty: "is empty; expected an integer"
            case .negative: "is negative; sizes and addresses are unsigned"
            case .notANumber: "is not an integer (use decimal, 0x hex, or a size such as 512MiB)"
            case .tooLarge: "does not fit in 64 bits"
            case .badSuffix(let s): "has an unknown size suffix '\(s)' (use KiB, MiB, GiB or TiB)"
            }
        }
    }

    private static let suffixes: [(String, UInt64)] = [
        ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
    ]

    public static func parse(_ text: String) -> Result<UInt64, Failure> {
        var s = Substring(text)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        if s.isEmpty { return .failure(.empty) }
        if s.first == "-" { return .failure(.negative) }
        if s.first == "+" { s.removeFirst() }
        var multiplier: UInt64 = 1
        if s.hasPrefix("0x") || s.hasPrefix("0X") {
            return digits(s.dropFirst(2), radix: 16).map { $0 }
        }
        // Split a trailing alphabetic suffix.
        var numberEnd = s.endIndex
        while numberEnd > s.startIndex, let c = s[s.index(before: numberEnd)].asciiValue,
            (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
        {
            numberEnd = s.index(before: numberEnd)
        }
        let suffix = s[numberEnd...]
        var number = s[..<numberEnd]
        if !suffix.isEmpty {
            guard let match = suffixes.first(where: { $0.0 == suffix }) else {
                if number.isEmpty || !number.allSatisfy({ $0.isNumber || $0 == "_" || $0 == " " }) {
                    return .failure(.notANumber)
                }
                return .failure(.badSuffix(String(suffix)))
            }
            multiplier = match.1
            if number.last == " " { number.removeLast() }
        }
        switch digits(number, radix: 10) {
        case .failure(let f): return .failure(f)
        case .success(let v):
            let (product, overflow) = v.multipliedReportingOverflow(by: multiplier)
            return overflow ? .failure(.tooLarge) : .success(product)
        }
    }

    private static func digits(_ s: Substring, radix: UInt64) -> Result<UInt64, Failure> {
        var value: UInt64 = 0
        var sawDigit = false
        var lastWasUnderscore = false
        for c in s.utf8 {
            if c == UInt8(ascii: "_") {
                guard sawDigit, !lastWasUnderscore else { return .failure(.notANumber) }
                lastWasUnderscore = true
                continue
            }
            let d: UInt64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: d = UInt64(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: d = UInt64(c - UInt8(ascii: "A") + 10)
            default: return .failure(.notANumber)
            }
            let (m, o1) = value.multipliedReportingOverflow(by: radix)
            let (a, o2) = m.addingReportingOverflow(d)
            if o1 || o2 { return .failure(.tooLarge) }
            value = a
            sawDigit = true
            lastWasUnderscore = false
        }
        guard sawDigit, !lastWasUnderscore else { return .failure(.notANumber) }
        return .success(value)
    }

    /// Formats a size for people: `512MiB` when exact, else hex.
    public static func formatSize(_ v: UInt64) -> String {
        if v == 0 { return "0" }
        for (name, unit) in suffixes.reversed() where v % unit == 0 {
            return "\(v / unit)\(name)"
        }
        return formatHex(v)
    }

    /// Formats an address as `0x1000_0000` style hex with `_` every four digits.
    public static func formatHex(_ v: UInt64) -> String {
        let hex = String(v, radix: 16)
        var out = ""
        for (i, c) in hex.enumerated() {
            if i > 0 && (hex.count - i) % 4 == 0 { out += "_" }
            out.append(c)
        }
        return "0x" + out
    }
}
