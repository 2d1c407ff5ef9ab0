import Compiler
import Diagnostics
import Plan
import Rules
import TestSupport
import Testing

/// Issue 15: a fixed-seed fuzz of `check` and of plan decoding that runs in CI in bounded time. The corpus is
/// every sample manifest and its canonical plan JSON; the mutations are seeded (the same cases on every run and
/// every machine). No input may trap; every outcome is a located, documented diagnostic or a
/// `PlanDecodingError`; a manifest that checks lowers to a plan that survives its own JSON round trip and
/// validation (check and plan agree); no single input takes more than a second.
@Suite("Hardening fuzz", .serialized)
struct HardeningFuzzTests {
    static let seed: UInt64 = 0x6861_7264_656E_3135  // "harden15"

    // MARK: - Byte mutations (manifests and plans)

    /// Text a hostile author would insert: directives, escapes, control characters, huge numbers, aliases.
    static let hostileSnippets: [String] = [
        "%TAG !a! tag:x,1:\n", "%YAML 1.1\n", "\"\\e]0;title\\a\"", "\"a\\0b\"", "\u{1B}[2J", "\u{07}",
        "18446744073709551616", "0xffffffffffffffff", "-1", "0xfffb", "65535", "[", "{", "}", "]", ",", ":", "\"",
        "&a ", "*a", "!!str ", "? ", "- ", "\n  ", "\t", "1e400", "null", "true", "../../../etc/shadow", "%vm", "%gmem.",
        "\"\\u0000\"", "\"\\u001b[2J\"",
    ]

    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        guard !bytes.isEmpty else { return Array("{".utf8) }
        let at = Int.random(in: 0..<bytes.count, using: &rng)
        switch Int.random(in: 0..<7, using: &rng) {
        case 0:
            bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
        case 1:
            let snippet = hostileSnippets[Int.random(in: 0..<hostileSnippets.count, using: &rng)]
            bytes.insert(contentsOf: Array(snippet.utf8), at: at)
        case 2:
            bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...64, using: &rng)))
        case 3:
            let end = min(bytes.count, at + Int.random(in: 1...128, using: &rng))
            bytes.insert(contentsOf: Array(bytes[at..<end]), at: end)
        case 4:
            bytes.removeSubrange(at...)
        case 5:
            // Replace a run of digits with a boundary value.
            guard let start = bytes[at...].firstIndex(where: { (0x30...0x39).contains($0) }) else { return bytes }
            let end = bytes[start...].firstIndex(where: { !(0x30...0x39).contains($0) && !(0x61...0x66).contains($0) && $0 != 0x78 }) ?? bytes.count
            let values = ["0", "65531", "65535", "4095", "4096", "18446744073709551615", "18446744073709551616", "1048576"]
            bytes.replaceSubrange(start..<end, with: Array(values[Int.random(in: 0..<values.count, using: &rng)].utf8))
        default:
            bytes.insert(UInt8.random(in: 0...255, using: &rng), at: at)
        }
        return bytes
    }

    // MARK: - Structural mutations (plan JSON)

    static let boundaryNumbers: [JSONValue] = [
        .uint(0), .uint(0xfffb), .uint(0xffff), .uint(0x1_0000), .uint(UInt64.max), .uint(UInt64.max - 0xfff), .int(-1),
        .uint(4096), .uint(32768), .uint(1 << 20),
    ]
    static let hostileStrings: [JSONValue] = [
        .string(""), .string("a\u{0}b"), .string("\u{1B}]0;t\u{07}"), .string("../../etc/shadow"), .string("/etc/shadow"),
        .string("%vm"), .string("%vcpu.4096"), .string("%map.ram"), .string("KVM_RUN"), .string("sha256:00"),
    ]

    /// One structural change to a random place of the plan: a number or string replaced by a boundary or
    /// hostile value, a member removed, an array item duplicated, removed or moved.
    static func mutate(_ value: JSONValue, _ rng: inout SplitMix64, depth: Int = 0) -> JSONValue {
        let stop = depth > 0 && Int.random(in: 0..<4, using: &rng) == 0
        switch value {
        case .object(var members):
            guard !members.isEmpty else { return value }
            let keys = members.keys.sorted()
            let key = keys[Int.random(in: 0..<keys.count, using: &rng)]
            if stop && key != "sha256" {
                members[key] = nil
            } else if let member = members[key] {
                members[key] = mutate(member, &rng, depth: depth + 1)
            }
            return .object(members)
        case .array(var items):
            guard !items.isEmpty else { return value }
            let i = Int.random(in: 0..<items.count, using: &rng)
            if stop {
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: items.insert(items[i], at: i)
                case 1: items.remove(at: i)
                default: items.swapAt(i, Int.random(in: 0..<items.count, using: &rng))
                }
            } else {
                items[i] = mutate(items[i], &rng, depth: depth + 1)
            }
            return .array(items)
        case .int, .uint:
            return boundaryNumbers[Int.random(in: 0..<boundaryNumbers.count, using: &rng)]
        case .string:
            return hostileStrings[Int.random(in: 0..<hostileStrings.count, using: &rng)]
        case .bool(let b):
            return .bool(!b)
        case .null:
            return .uint(0)
        }
    }

    /// The plan JSON with its `sha256` recomputed, so the mutation reaches the decoder's validation.
    static func resigned(_ value: JSONValue) -> String {
        guard case .object(var members) = value else { return value.serialized(pretty: false) }
        members["sha256"] = nil
        members["sha256"] = .string(PayloadDigest.sha256(Array(JSONValue.object(members).serialized(pretty: false).utf8)))
        return JSONValue.object(members).serialized(pretty: true)
    }

    // MARK: - Tests

    static let manifestCases = 160
    static let planCases = 250

    @Test("mutated manifests: only located, documented diagnostics; a manifest that checks gives a plan that validates", .timeLimit(.minutes(2)))
    func fuzzCheck() throws {
        var rng = SplitMix64(seed: Self.seed)
        let files = RepoFileAccess()
        let pipeline = CompilerPipeline(files: files)
        var accepted = 0
        var rejected = 0
        var slowest: Duration = .zero
        for name in Samples.all {
            let file = Samples.file(name)
            let original = try files.read(file)
            for _ in 0..<Self.manifestCases {
                var bytes = original
                for _ in 0..<Int.random(in: 1...3, using: &rng) { bytes = Self.mutate(bytes, &rng) }
                let start = ContinuousClock.now
                let (checked, diagnostics) = pipeline.check(bytes: bytes, file: file)
                if let checked {
                    accepted += 1
                    let plan = Lowering().lower(checked)
                    #expect(plan.validate() == [], "\(name): a checked manifest lowered to an invalid plan")
                    do {
                        let decoded = try Plan(json: plan.jsonString())
                        #expect(decoded == plan)
                    } catch {
                        Issue.record("\(name): the plan of a checked manifest does not decode: \(error)")
                    }
                } else {
                    rejected += 1
                    #expect(diagnostics.hasErrors, "\(name): rejected without an error")
                }
                var perID: [DiagnosticID: Int] = [:]
                for diagnostic in diagnostics {
                    perID[diagnostic.id, default: 0] += 1
                    #expect(RuleCatalogue.byID[diagnostic.id] != nil, "undocumented id \(diagnostic.id)")
                    #expect(diagnostic.location.file == file)
                    #expect(!TerminalText.containsControl(diagnostic.message.replacingOccurrences("\n", " ")), "raw control character in \(diagnostic.message)")
                }
                #expect(perID.values.allSatisfy { $0 <= Diagnostics.limitPerID })
                slowest = max(slowest, ContinuousClock.now - start)
            }
        }
        #expect(accepted > 0 && rejected > 0, "accepted \(accepted), rejected \(rejected)")
        #expect(slowest < .seconds(1), "slowest input took \(slowest)")
    }

    @Test("mutated plan files: every one decodes to a valid plan or is a PlanDecodingError, never a trap", .timeLimit(.minutes(2)))
    func fuzzPlanDecoding() throws {
        var rng = SplitMix64(seed: Self.seed ^ 0xFF)
        var decoded = 0
        var refused = 0
        var slowest: Duration = .zero
        for name in Samples.all {
            let original = try Compile.sample(name).plan
            let json = original.jsonString()
            let value = try JSONValue.parse(json)
            for n in 0..<Self.planCases {
                let text: String
                switch n % 3 {
                case 0:
                    var bytes = Array(json.utf8)
                    for _ in 0..<Int.random(in: 1...3, using: &rng) { bytes = Self.mutate(bytes, &rng) }
                    text = String(decoding: bytes, as: UTF8.self)
                case 1: text = Self.resigned(Self.mutate(value, &rng))
                default: text = Self.mutate(value, &rng).serialized(pretty: true)  // the digest no longer matches
                }
                let start = ContinuousClock.now
                do {
                    let plan = try Plan(json: text)
                    decoded += 1
                    // What a launch and the renderers would do with it: nothing may trap.
                    #expect(plan.validate() == [])
                    _ = PlanTextRenderer().render(plan)
                    _ = PlanCRenderer().render(plan)
                    _ = PlanDiffer.diff(original, plan)
                } catch {
                    refused += 1
                    #expect(!error.description.isEmpty)
                }
                slowest = max(slowest, ContinuousClock.now - start)
            }
        }
        #expect(decoded > 0 && refused > 0, "decoded \(decoded), refused \(refused)")
        #expect(slowest < .seconds(1), "slowest input took \(slowest)")
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: Character, _ replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}

/// A Linux plan's boot-params and mp-table steps with every address at the 64-bit boundaries, written as a plan
/// file (signed by the plan itself) and read back: each decodes and validates, or is refused, and renders and
/// diffs without a trap (the placement and overlap checks once added before they compared, and wrapped).
struct LinuxBoundaryPlanTests {
    static let boundaries: [UInt64] = [0, 0x8000, UInt64.max, UInt64.max - 10, UInt64.max - 0xfff, 1 << 63]

    static func variants(of operation: Operation) -> [Operation] {
        var out: [Operation] = []
        for number in boundaries {
            switch operation {
            case .linuxMPTable(var step):
                step.gpa = number
                out.append(.linuxMPTable(step))
                step = LinuxMPTableStep(into: Address(step.into.map, offset: number), gpa: 0x9_fc00, cpus: step.cpus)
                out.append(.linuxMPTable(step))
            case .linuxBootParams(let step):
                for change in [\LinuxBootParamsStep.zeroPage, \.cmdlineGPA] {
                    var changed = step
                    changed[keyPath: change] = number
                    out.append(.linuxBootParams(changed))
                }
                var moved = step
                moved.into.offset = number
                out.append(.linuxBootParams(moved))
            default:
                break
            }
        }
        return out
    }

    @Test(arguments: ["boot-params", "mp-table"])
    func boundaryAddressesNeverTrap(_ stepID: String) throws {
        let plan = try LinuxLoweringTests.compile(LinuxLoweringTests.manifest()).plan
        let index = try #require(plan.steps.firstIndex { $0.id == stepID })
        let variants = Self.variants(of: plan.steps[index].operation)
        #expect(variants.count >= 2 * Self.boundaries.count)
        var decoded = 0
        for operation in variants {
            var hostile = plan
            hostile.steps[index].operation = operation
            guard let read = try? Plan(json: hostile.jsonString()) else { continue }
            decoded += 1
            _ = read.validate()
            _ = PlanTextRenderer().render(read)
            _ = PlanCRenderer().render(read)
            _ = PlanDiffer.diff(plan, read)
        }
        #expect(decoded > 0)
    }
}
