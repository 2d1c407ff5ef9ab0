import Compiler
import Diagnostics
import Rules
import TestSupport
import Testing

/// Mutation fuzzing of the whole check stage with a fixed seed (DESIGN §8): every sample manifest, mutated
/// thousands of ways, gives a clean outcome — no crash, located and documented diagnostics, and either a
/// checked manifest or at least one error.
@Suite("Fuzz")
struct FuzzTests {
    static let seed: UInt64 = 0x6B76_6D70_6C61_6E31  // "kvmplan1"
    static let casesPerSample = 800
    static let punctuation = Array("[{:&*!|>-#'\"".utf8)

    enum Mutation: CaseIterable {
        case flipBit, insertPunctuation, insertByte, deleteLine, duplicateLine, swapLines, truncate, inflateDigits, deleteRange
    }

    /// Applies one mutation. Every mutation keeps the input ≤ a few KB, so the run stays fast.
    static func mutate(_ input: [UInt8], _ mutation: Mutation, _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        guard !bytes.isEmpty else { return [punctuation.randomElement(using: &rng) ?? 0x5B] }
        let at = Int.random(in: 0..<bytes.count, using: &rng)
        switch mutation {
        case .flipBit:
            bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
        case .insertPunctuation:
            let count = Int.random(in: 1...3, using: &rng)
            for _ in 0..<count { bytes.insert(punctuation.randomElement(using: &rng) ?? 0x5B, at: at) }
        case .insertByte:
            bytes.insert(UInt8.random(in: 0...255, using: &rng), at: at)
        case .deleteLine, .duplicateLine, .swapLines:
            var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
            let n = Int.random(in: 0..<lines.count, using: &rng)
            switch mutation {
            case .deleteLine: lines.remove(at: n)
            case .duplicateLine: lines.insert(lines[n], at: n)
            default: lines.swapAt(n, Int.random(in: 0..<lines.count, using: &rng))
            }
            bytes = Array(lines.joined(separator: [0x0A]))
        case .truncate:
            bytes.removeSubrange(at...)
        case .inflateDigits:
            // Grow a run of digits into a number far beyond 64 bits, or into a random width.
            guard let start = bytes[at...].firstIndex(where: { (0x30...0x39).contains($0) }) ?? bytes.firstIndex(where: { (0x30...0x39).contains($0) })
            else { return bytes }
            let digits = (0..<Int.random(in: 1...30, using: &rng)).map { _ in UInt8.random(in: 0x30...0x39, using: &rng) }
            bytes.insert(contentsOf: digits, at: start)
        case .deleteRange:
            let end = min(bytes.count, at + Int.random(in: 1...40, using: &rng))
            bytes.removeSubrange(at..<end)
        }
        return bytes
    }

    /// Payload files without a file system: an ELF for `*.elf`, a flat image otherwise.
    static let files = FuzzFiles()

    struct FuzzFiles: FileAccess {
        let elf = FakeFiles.file(ELFBuilder.simple().bytes)
        let flat = FakeFiles.flat(size: 4096)
        func payload(at path: String) -> PayloadFile? { path.hasSuffix(".elf") ? elf : flat }
    }

    @Test("mutated samples give only clean outcomes", .timeLimit(.minutes(2)))
    func fuzzSamples() throws {
        let names = try samples()
        #expect(names.count >= 10)
        var rng = SplitMix64(seed: Self.seed)
        let pipeline = CompilerPipeline(files: Self.files)
        var total = 0
        var checkedCount = 0
        var ids: [DiagnosticID: Int] = [:]
        let start = ContinuousClock.now
        for name in names {
            let original = try FileManagerShim.read(Repo.path("Manifests/\(name)"))
            for _ in 0..<Self.casesPerSample {
                var bytes = original
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    bytes = Self.mutate(bytes, Mutation.allCases.randomElement(using: &rng) ?? .flipBit, &rng)
                }
                let result = pipeline.check(bytes: bytes, file: "Manifests/\(name)")
                total += 1
                if result.0 != nil { checkedCount += 1 }
                for d in result.1 { ids[d.id, default: 0] += 1 }
                if !isClean(result) {
                    Issue.record("unclean outcome for a mutation of \(name):\n\(String(decoding: bytes, as: UTF8.self))\n\(render(result.1))")
                    return
                }
            }
        }
        let elapsed = ContinuousClock.now - start
        #expect(total >= 10_000)
        // The mutations must exercise both outcomes and a good part of the catalogue, or the fuzzer is too weak.
        #expect(checkedCount > total / 20, "only \(checkedCount) of \(total) mutants still checked")
        #expect(checkedCount < total * 19 / 20, "\(checkedCount) of \(total) mutants still checked")
        #expect(ids.count >= 15, "the fuzzer reached only \(ids.keys.sorted())")
        seenIDs.insert(ids.keys)
        #expect(elapsed < .seconds(60), "\(total) cases took \(elapsed)")
    }

    /// The conditions of `expectCleanOutcome`, as a Bool, so a failing case is reported once with its input.
    func isClean(_ result: (CheckedManifest?, Diagnostics)) -> Bool {
        let (checked, diagnostics) = result
        for d in diagnostics {
            guard !d.id.rawValue.isEmpty, RuleCatalogue.byID[d.id] != nil, d.location.line >= 1, d.location.column >= 1 else {
                return false
            }
        }
        return (checked != nil) != diagnostics.hasErrors
    }

    @Test("the generator is deterministic")
    func deterministic() {
        var a = SplitMix64(seed: Self.seed)
        var b = SplitMix64(seed: Self.seed)
        #expect((0..<100).map { _ in a.next() } == (0..<100).map { _ in b.next() })
        var c = SplitMix64(seed: 0)
        #expect(c.next() == 0xE220_A839_7B1D_CDAF)  // the reference value of SplitMix64 for seed 0
    }
}
