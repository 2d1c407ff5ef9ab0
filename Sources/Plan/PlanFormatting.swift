import Crypto
import Diagnostics

/// Number and digest spellings shared by the JSON codec and the renderers.
enum PlanFormatting {
    private static let hexDigits = Array("0123456789abcdef")

    /// `0x` followed by lowercase hex digits without leading zeros: `0x0`, `0xfe000000`.
    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// A string for a double-quoted plan text or C literal: `\\`, `\"` and control bytes as `\xNN`.
    static func escaped(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                out += "\\x" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A byte count in the largest binary unit that divides it exactly (`512MiB`, `4KiB`), else decimal.
    static func size(_ value: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (unit, suffix) in units where value != 0 && value % unit == 0 {
            return "\(value / unit)\(suffix)"
        }
        return String(value)
    }

    /// Lowercase hex of bytes.
    static func hex<Bytes: Sequence<UInt8>>(bytes: Bytes) -> String {
        var out = ""
        for b in bytes {
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 0xf)])
        }
        return out
    }

    /// `sha256:` + hex of the SHA-256 of the UTF-8 bytes of `text`.
    static func sha256(of text: String) -> String {
        PayloadDigest.sha256(Array(text.utf8))
    }

    /// Whether `text` is `sha256:` followed by exactly 64 lowercase hex digits.
    static func isSHA256Digest(_ text: String) -> Bool {
        guard text.hasPrefix("sha256:") else { return false }
        let hexPart = text.utf8.dropFirst(7)
        return hexPart.count == 64
            && hexPart.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    /// A shortened digest for people: `sha256:3f1c2a9b8e7d…`.
    static func shortDigest(_ digest: String) -> String {
        guard isSHA256Digest(digest) else { return digest }
        return String(digest.prefix(7 + 12)) + "…"
    }

    /// Whether `name` is a manifest name: `[a-z0-9][a-z0-9-]*`.
    static func isManifestName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isLowerAlnum(first) else { return false }
        return name.utf8.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    /// Whether `text` is a decimal number without sign or leading zeros that fits in UInt32.
    static func isCanonicalIndex(_ text: String) -> Bool {
        guard let value = UInt32(text) else { return false }
        return String(value) == text
    }

    static func isLowerAlnum(_ b: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
    }
}

extension JSONValue {
    /// An unsigned integer as the JSON parser would produce it (`.int` when it fits, else `.uint`), so
    /// encoded and re-parsed values compare equal.
    static func number(_ value: UInt64) -> JSONValue {
        value <= UInt64(Int64.max) ? .int(Int64(value)) : .uint(value)
    }
}

/// The one SHA-256 of kvmplan (swift-crypto): plan, manifest and payload digests, and the launcher's check of
/// every byte it loads.
public enum PayloadDigest {
    /// `sha256:` + 64 lowercase hex digits of the digest of `bytes`.
    public static func sha256(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { digest($0) }
    }

    /// The same for part of a file (a load step's segment), without copying it.
    public static func sha256(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.withUnsafeBytes { digest($0) }
    }

    private static func digest(_ buffer: UnsafeRawBufferPointer) -> String {
        // SAFETY: `buffer` is the caller's `withUnsafeBytes` view, valid for this call only; it is only read.
        var hasher = SHA256()
        hasher.update(bufferPointer: buffer)
        return "sha256:" + PlanFormatting.hex(bytes: hasher.finalize())
    }
}
