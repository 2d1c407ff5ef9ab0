import Diagnostics
import Manifest
import TestSupport
import Testing

/// The integer syntax of manifests (DESIGN §2): decimal, `0x` hex, `_` separators, binary size suffixes;
/// everything checked against 64 bits.
@Suite("ManifestInteger")
struct IntegerTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var text: String
        var expected: Result<UInt64, ManifestInteger.Failure>
        var testDescription: String { "\(name): '\(text)'" }

        static func ok(_ name: String, _ text: String, _ value: UInt64) -> Case {
            Case(name: name, text: text, expected: .success(value))
        }
        static func bad(_ name: String, _ text: String, _ failure: ManifestInteger.Failure) -> Case {
            Case(name: name, text: text, expected: .failure(failure))
        }
    }

    static let cases: [Case] = [
        // decimal
        .ok("zero", "0", 0),
        .ok("decimal", "4096", 4096),
        .ok("decimal with separators", "1_000_000", 1_000_000),
        .ok("leading plus", "+12", 12),
        .ok("surrounding spaces", "  7 ", 7),
        .ok("UInt64.max", "18446744073709551615", UInt64.max),
        // hex
        .ok("hex", "0x1000", 0x1000),
        .ok("upper-case hex prefix", "0X1F", 0x1f),
        .ok("mixed-case hex digits", "0xDeadBeef", 0xdead_beef),
        .ok("hex with separators", "0x1000_0000", 0x1000_0000),
        .ok("hex max", "0xffff_ffff_ffff_ffff", UInt64.max),
        // sizes
        .ok("KiB", "4KiB", 4 << 10),
        .ok("MiB", "512MiB", 512 << 20),
        .ok("GiB", "4GiB", 4 << 30),
        .ok("TiB", "2TiB", 2 << 40),
        .ok("size after one space", "512 MiB", 512 << 20),
        .ok("size with separators", "1_024KiB", 1 << 20),
        .ok("largest TiB", "16777215TiB", 16_777_215 << 40),
        .ok("zero size", "0MiB", 0),
        // failures
        .bad("empty", "", .empty),
        .bad("only spaces", "   ", .empty),
        .bad("negative", "-1", .negative),
        .bad("negative size", "-4KiB", .negative),
        .bad("negative hex", "-0x10", .negative),
        .bad("decimal overflow", "18446744073709551616", .tooLarge),
        .bad("hex overflow", "0x1_0000_0000_0000_0000", .tooLarge),
        .bad("size overflow", "16777216TiB", .tooLarge),
        .bad("GiB overflow", "17179869184GiB", .tooLarge),
        .bad("exbibytes", "16EiB", .badSuffix("EiB")),
        .bad("lower-case suffix", "4kib", .badSuffix("kib")),
        .bad("SI suffix", "4MB", .badSuffix("MB")),
        .bad("fraction", "1.5", .notANumber),
        .bad("fractional size", "1.5GiB", .notANumber),
        .bad("exponent", "1e3", .notANumber),
        .bad("suffix only", "MiB", .notANumber),
        .bad("bare hex prefix", "0x", .notANumber),
        .bad("hex with suffix", "0x10MiB", .notANumber),
        .bad("binary literal", "0b101", .notANumber),
        .bad("octal-looking letters", "0o17", .notANumber),
        .bad("leading separator", "_1", .notANumber),
        .bad("trailing separator", "1_", .notANumber),
        .bad("double separator", "1__0", .notANumber),
        .bad("separator after hex prefix", "0x_1", .notANumber),
        .bad("two spaces before suffix", "512  MiB", .notANumber),
        .bad("word", "lots", .notANumber),
        .bad("YAML null", "~", .notANumber),
        .bad("inner space", "1 2", .notANumber),
    ]

    @Test("parses", arguments: cases)
    func parses(_ c: Case) {
        #expect(ManifestInteger.parse(c.text) == c.expected)
    }

    @Test(
        "formats sizes for people",
        arguments: [
            (UInt64(0), "0"), (4096, "4KiB"), (512 << 20, "512MiB"), (3 << 30, "3GiB"), (5 << 40, "5TiB"), (4097, "0x1001"),
        ])
    func formatSize(_ value: UInt64, _ expected: String) {
        #expect(ManifestInteger.formatSize(value) == expected)
    }

    @Test(
        "formats addresses with a separator every four digits",
        arguments: [
            (UInt64(0), "0x0"), (0xfff, "0xfff"), (0x1000, "0x1000"), (0x1_0000, "0x1_0000"), (0xfe00_0000, "0xfe00_0000"),
            (UInt64.max, "0xffff_ffff_ffff_ffff"),
        ])
    func formatHex(_ value: UInt64, _ expected: String) {
        #expect(ManifestInteger.formatHex(value) == expected)
    }

    @Test("formatted sizes and addresses parse back", arguments: [UInt64(0), 1, 4096, 0x1001, 512 << 20, 0xfe00_0000, 1 << 40, UInt64.max])
    func roundTrip(_ value: UInt64) {
        #expect(ManifestInteger.parse(ManifestInteger.formatSize(value)) == .success(value))
        #expect(ManifestInteger.parse(ManifestInteger.formatHex(value)) == .success(value))
    }

    /// In a manifest, a bad integer is a `format.integer` error at the value, with the value's data path.
    @Test(
        "bad integers in a manifest are located format.integer errors",
        arguments: [
            ("0x1_0000_0000_0000_0000", "does not fit in 64 bits"), ("18446744073709551616", "does not fit in 64 bits"),
            ("16EiB", "unknown size suffix 'EiB'"), ("1.5", "is not an integer"), ("-4096", "is negative"),
            ("0x", "is not an integer"),
        ])
    func inManifest(_ text: String, _ fragment: String) {
        let snippet = MarkedSnippet(validManifest.replacing(line: "      size: 2MiB", with: "      size: 1️⃣\(text)"))
        let (_, diagnostics) = parse(snippet)
        expectDiagnostics(diagnostics, [DiagnosticSpec("format.integer", at: "1️⃣", message: fragment)], in: snippet)
        #expect(diagnostics.all.first?.path.description == "memory.regions[0].size")
    }

    @Test("a value written as 512 MiB is 512 MiB")
    func spacedSizeInManifest() throws {
        let snippet = MarkedSnippet(validManifest.replacing(line: "      size: 2MiB", with: "      size: 512 MiB"))
        let (manifest, diagnostics) = parse(snippet)
        #expect(diagnostics.isEmpty, "\(render(diagnostics))")
        #expect(try #require(manifest).memory.regions.first?.size.value == 512 << 20)
    }
}
