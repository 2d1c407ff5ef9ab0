import Diagnostics
import Testing

/// The canonical JSON of every machine-readable output: sorted keys, exact integers, escaping, and a
/// parser that refuses what it cannot represent.
@Suite("JSONValue")
struct JSONValueTests {
    static let sample: JSONValue = .object([
        "name": .string("snp-demo"),
        "ok": .bool(true),
        "nothing": .null,
        "count": .int(-3),
        "big": .uint(UInt64.max),
        "list": .array([.int(1), .string("two"), .array([]), .object([:])]),
        "nested": .object(["z": .int(0), "a": .string("é \"quoted\" \\ back\nnew\ttab")]),
    ])

    // MARK: Serialisation

    @Test("compact output sorts keys and has no white space")
    func compact() {
        #expect(
            Self.sample.serialized()
                == #"{"big":18446744073709551615,"count":-3,"list":[1,"two",[],{}],"name":"snp-demo","nested":{"a":"é \"quoted\" \\ back\nnew\ttab","z":0},"nothing":null,"ok":true}"#
        )
    }

    @Test("pretty output indents by two spaces and puts a space after colons")
    func pretty() {
        let value: JSONValue = .object(["b": .array([.int(1), .int(2)]), "a": .object(["c": .null]), "e": .array([])])
        #expect(
            value.serialized(pretty: true) == """
                {
                  "a": {
                    "c": null
                  },
                  "b": [
                    1,
                    2
                  ],
                  "e": []
                }
                """)
    }

    @Test("keys sort by UTF-8 bytes, not by locale")
    func keyOrder() {
        let value: JSONValue = .object(["b": .null, "B": .null, "a": .null, "é": .null, "_": .null, "10": .null, "9": .null])
        #expect(value.serialized() == #"{"10":null,"9":null,"B":null,"_":null,"a":null,"b":null,"é":null}"#)
    }

    @Test(
        "strings escape quotes, backslashes and control characters",
        arguments: [
            ("\"", #""\"""#), ("\\", #""\\""#), ("\n", #""\n""#), ("\r", #""\r""#), ("\t", #""\t""#),
            ("\u{0}", #""\u0000""#), ("\u{1}", #""\u0001""#), ("\u{1f}", #""\u001f""#), ("\u{7f}", #""\u007f""#),
            ("/", #""/""#), ("é€𝄞", "\"é€𝄞\""), ("\u{2028}", "\"\u{2028}\""),
        ])
    func escaping(_ raw: String, _ expected: String) throws {
        #expect(JSONValue.string(raw).serialized() == expected)
        #expect(try JSONValue.parse(expected) == .string(raw))
    }

    @Test("integers are exact at the 64-bit limits")
    func integerLimits() throws {
        #expect(JSONValue.int(Int64.min).serialized() == "-9223372036854775808")
        #expect(JSONValue.uint(UInt64.max).serialized() == "18446744073709551615")
        #expect(try JSONValue.parse("-9223372036854775808") == .int(Int64.min))
        #expect(try JSONValue.parse("9223372036854775807") == .int(Int64.max))
        #expect(try JSONValue.parse("9223372036854775808") == .uint(1 << 63))
        #expect(try JSONValue.parse("18446744073709551615") == .uint(UInt64.max))
        #expect(try JSONValue.parse("18446744073709551615").uint64Value == UInt64.max)
        #expect(JSONValue.int(-1).uint64Value == nil)
    }

    // MARK: Round trip

    @Test("serialise → parse is the identity, compact and pretty")
    func roundTrip() throws {
        #expect(try JSONValue.parse(Self.sample.serialized()) == Self.sample)
        #expect(try JSONValue.parse(Self.sample.serialized(pretty: true)) == Self.sample)
    }

    @Test("parse → serialise is canonical: the same value always gives the same bytes")
    func canonical() throws {
        let messy = " { \"b\" : [ 1 , 2 ] ,\n\t\"a\" : \"\\u00e9\\/\" } "
        #expect(try JSONValue.parse(messy).serialized() == #"{"a":"é/","b":[1,2]}"#)
    }

    @Test("\\u escapes, surrogate pairs and unpaired surrogates")
    func unicodeEscapes() throws {
        #expect(try JSONValue.parse(#""\u0041\u00e9\u20ac""#) == .string("Aé€"))
        #expect(try JSONValue.parse(#""\ud834\udd1e""#) == .string("𝄞"))
        #expect(try JSONValue.parse(#""\uD834\uDD1E""#) == .string("𝄞"))
        #expect(try JSONValue.parse(#""\ud800""#) == .string("\u{FFFD}"))
        #expect(try JSONValue.parse(#""\udc00x""#) == .string("\u{FFFD}x"))
    }

    @Test("accessors")
    func accessors() {
        #expect(Self.sample["name"]?.stringValue == "snp-demo")
        #expect(Self.sample["ok"]?.boolValue == true)
        #expect(Self.sample["list"]?.arrayValue?.count == 4)
        #expect(Self.sample["nested"]?.objectValue?.keys.sorted() == ["a", "z"])
        #expect(Self.sample["missing"] == nil)
        #expect(JSONValue.int(1)["key"] == nil)
        #expect(JSONValue.int(1).stringValue == nil)
    }

    // MARK: Parse errors

    struct BadCase: CustomTestStringConvertible, Sendable {
        var name: String
        var text: String
        var message: String
        var line: Int
        var column: Int
        var testDescription: String { name }
    }

    static let badCases: [BadCase] = [
        BadCase(name: "empty", text: "", message: "unexpected end of JSON", line: 1, column: 1),
        BadCase(name: "only white space", text: "  \n ", message: "unexpected end of JSON", line: 2, column: 2),
        BadCase(name: "duplicate key", text: #"{"a": 1, "a": 2}"#, message: "duplicate key 'a'", line: 1, column: 14),
        BadCase(name: "duplicate key in a nested object", text: "{\"x\": {\n\"k\": 1,\n\"k\": 1}}", message: "duplicate key 'k'", line: 3, column: 5),
        BadCase(name: "fraction", text: "1.5", message: "only integers", line: 1, column: 2),
        BadCase(name: "exponent", text: "[1e3]", message: "only integers", line: 1, column: 3),
        BadCase(name: "too large", text: "18446744073709551616", message: "out-of-range integer", line: 1, column: 1),
        BadCase(name: "too negative", text: "-9223372036854775809", message: "out-of-range integer", line: 1, column: 21),
        BadCase(name: "a lone minus", text: "-", message: "out-of-range integer", line: 1, column: 2),
        BadCase(name: "a plus sign", text: "+1", message: "unexpected character", line: 1, column: 1),
        BadCase(name: "hex", text: "0x10", message: "unexpected text after the JSON value", line: 1, column: 2),
        BadCase(name: "trailing comma in an array", text: "[1,]", message: "unexpected character", line: 1, column: 4),
        BadCase(name: "trailing comma in an object", text: #"{"a":1,}"#, message: "expected a string key", line: 1, column: 8),
        BadCase(name: "unquoted key", text: "{a: 1}", message: "expected a string key", line: 1, column: 2),
        BadCase(name: "missing colon", text: #"{"a" 1}"#, message: "expected ':'", line: 1, column: 6),
        BadCase(name: "unterminated string", text: #""abc"#, message: "unterminated string", line: 1, column: 5),
        BadCase(name: "raw newline in a string", text: "\"a\nb\"", message: "control character", line: 1, column: 3),
        BadCase(name: "bad escape", text: #""\x41""#, message: "invalid escape", line: 1, column: 4),
        BadCase(name: "bad \\u escape", text: #""\u12G4""#, message: "invalid \\u escape", line: 1, column: 4),
        BadCase(name: "truncated \\u escape", text: #""\u12"#, message: "truncated \\u escape", line: 1, column: 4),
        BadCase(name: "misspelt literal", text: "tru", message: "invalid literal", line: 1, column: 1),
        BadCase(name: "capitalised literal", text: "True", message: "unexpected character", line: 1, column: 1),
        BadCase(name: "two values", text: "1 2", message: "unexpected text after the JSON value", line: 1, column: 3),
        BadCase(name: "unclosed array", text: "[1, 2", message: "unexpected end of JSON in an array", line: 1, column: 6),
        BadCase(name: "unclosed object", text: #"{"a": 1"#, message: "unexpected end of JSON in an object", line: 1, column: 8),
        BadCase(name: "single quotes", text: "'a'", message: "unexpected character", line: 1, column: 1),
        BadCase(name: "comment", text: "// c\n1", message: "unexpected character", line: 1, column: 1),
    ]

    @Test("malformed JSON is a located parse error", arguments: badCases)
    func parseErrors(_ c: BadCase) {
        #expect {
            try JSONValue.parse(c.text)
        } throws: { error in
            guard let error = error as? JSONValue.ParseError else { return false }
            #expect(error.message.contains(c.message), "\(error)")
            #expect(error.line == c.line && error.column == c.column, "\(error)")
            #expect(error.description == "\(error.line):\(error.column): \(error.message)")
            return true
        }
    }

    @Test("nesting is limited to 256 levels", arguments: ["[", "{\"a\":"])
    func depth(_ open: String) throws {
        let close = open == "[" ? "]" : "}"
        let ok = String(repeating: open, count: 255) + "1" + String(repeating: close, count: 255)
        #expect(throws: Never.self) { try JSONValue.parse(ok) }
        for depth in [256, 257, 100_000] {
            let deep = String(repeating: open, count: depth) + "1" + String(repeating: close, count: depth)
            #expect {
                try JSONValue.parse(deep)
            } throws: { error in
                (error as? JSONValue.ParseError)?.message == "JSON nested more than 256 levels"
            }
        }
    }

    // MARK: Regressions

    @Test(
        "a high surrogate followed by a non-surrogate \\u escape is not a crash",
        .bug(id: "json-surrogate-trap", "was: low - 0xDC00 underflowed and trapped"))
    func surrogateTrap() async {
        await #expect(processExitsWith: .success) {
            precondition((try? JSONValue.parse(#""\ud800\u0041""#)) == .string("\u{FFFD}A"))
            precondition((try? JSONValue.parse(#""\ud800\ud800x""#)) == .string("\u{FFFD}\u{FFFD}x"))
        }
    }

    @Test(
        "leading zeros are refused (RFC 8259 §6)", .bug(id: "json-leading-zero", "was: 01 and -01 parsed as 1 and -1"),
        arguments: ["01", "-01", "[00]", "{\"a\": 007}"])
    func leadingZeros(_ text: String) {
        #expect {
            try JSONValue.parse(text)
        } throws: { error in
            (error as? JSONValue.ParseError)?.message.contains("leading zeros") == true
        }
    }

    @Test("a lone zero, negative zero and zero inside larger numbers are fine")
    func zeros() throws {
        #expect(try JSONValue.parse("0") == .int(0))
        #expect(try JSONValue.parse("-0") == .int(0))
        #expect(try JSONValue.parse("[0, 10, 100, -10]") == .array([.int(0), .int(10), .int(100), .int(-10)]))
    }
}
