import Compiler
import Plan
import TestSupport
import Testing

/// Every sample manifest × every plan format against `Golden/NAME.{txt,json,c}` (STYLE rule 10), plus
/// determinism (DESIGN §4: same manifest → same bytes) and the JSON codec's round trip.
@Suite("Plan goldens")
struct PlanGoldenTests {
    static let cases: [(String, PlanFormatKind)] = Samples.all.flatMap { name in PlanFormatKind.allCases.map { (name, $0) } }

    @Test("plan output matches its golden file", arguments: cases)
    func golden(sample: String, format: PlanFormatKind) throws {
        let compiled = try Compile.sample(sample)
        let output = format.render(compiled.plan)
        #expect(!output.contains("/work/"), "a rendering leaks an absolute checkout path")
        Golden.compiler.assert(output, matches: "\(sample).\(format.rawValue)")
    }

    @Test("compiling a manifest twice gives the same plan and the same bytes", arguments: Samples.all)
    func deterministic(sample: String) throws {
        let first = try Compile.sample(sample)
        let second = try Compile.sample(sample)
        #expect(first.plan == second.plan)
        for format in PlanFormatKind.allCases {
            #expect(format.render(first.plan) == format.render(second.plan), "\(format.rawValue) differs between two compilations")
        }
        #expect(first.plan.digest == second.plan.digest)
    }

    @Test("Plan(json:) of the golden JSON re-encodes to the identical bytes", arguments: Samples.all)
    func jsonRoundTrip(sample: String) throws {
        let text = try #require(Golden.compiler.read("\(sample).json"), "record the goldens first (RECORD_SNAPSHOTS=1)")
        let decoded = try Plan(json: text)
        #expect(decoded.jsonString(pretty: true) + "\n" == text)
        // The compact form decodes and re-encodes to itself too, with the same digest.
        let compact = decoded.jsonString(pretty: false)
        let again = try Plan(json: compact)
        #expect(again.jsonString(pretty: false) == compact)
        #expect(again.digest == decoded.digest)
        // And it is the very plan the manifest compiles to.
        let compiled = try Compile.sample(sample)
        #expect(decoded == compiled.plan)
    }

    @Test("plans name repo-relative paths: the manifest file and the payload path", arguments: Samples.all)
    func relativePaths(sample: String) throws {
        let plan = try Compile.sample(sample).plan
        let file = Samples.file(sample)
        for step in plan.steps {
            if let source = step.source { #expect(source.file == file, "step \(step.id)") }
        }
        if let payload = plan.payload {
            #expect(payload.path.hasPrefix("Manifests/../Examples/guests/"), "payload path \(payload.path)")
        }
    }
}
