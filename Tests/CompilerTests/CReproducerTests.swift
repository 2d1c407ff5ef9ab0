import Compiler
import Foundation
import Plan
import TestSupport
import Testing

/// `kvmplan plan --format c` (DESIGN §4): the reproducer of every default-platform x86 sample compiles with
/// `cc -Wall -Werror` and, where `/dev/kvm` opens read-write, performs the plan's set-up and exits 0.
@Suite("C reproducer", .enabled(if: Run.which("cc") != nil, "no C compiler (cc) on PATH"))
struct CReproducerTests {
    /// The documented build line, and the same without `-std=c11` (the brief's `cc -Wall -Werror -o …`).
    static let flagSets: [[String]] = [["-std=c11"], []]

    static func build(_ sample: String, flags: [String]) throws -> (binary: String, plan: Plan) {
        let plan = try Compile.sample(sample).plan
        let directory = try Run.temporaryDirectory("kvmplan-repro-\(sample)")
        let source = directory + "/\(sample).c"
        try PlanCRenderer().render(plan).write(toFile: source, atomically: true, encoding: .utf8)
        let binary = directory + "/\(sample)"
        let cc = try Run.process(try #require(Run.which("cc")), ["-Wall", "-Werror"] + flags + ["-o", binary, source], in: directory)
        #expect(cc.status == 0, "cc \(flags) failed for \(sample):\n\(cc.stderr)")
        return (binary, plan)
    }

    @Test("the reproducer compiles with cc -Wall -Werror", arguments: Samples.defaultX86, flagSets)
    func compiles(sample: String, flags: [String]) throws {
        let (binary, _) = try Self.build(sample, flags: flags)
        #expect(FileManager.default.isExecutableFile(atPath: binary))
    }

    @Test(
        "the reproducer performs the plan's set-up on /dev/kvm and exits 0", .requiresKVM,
        arguments: Samples.defaultX86)
    func runs(sample: String) throws {
        let (binary, plan) = try Self.build(sample, flags: ["-std=c11"])
        guard FileManager.default.isExecutableFile(atPath: binary) else { return }
        // Usage: ./repro [PAYLOAD] — the payload path of the plan, relative to the repository root.
        let payload = try #require(plan.payload)
        let result = try Run.process(binary, [Repo.path(payload.path)], timeout: 30)
        #expect(result.status == 0, "\(sample) reproducer exited \(result.status):\n\(result.stderr)")
        #expect(result.stdout.contains("set-up of plan \(plan.name) done (\(plan.steps.count) steps)"), "stdout: \(result.stdout)")
    }

    @Test("a step the host refuses is named on stderr and the reproducer exits 1", .requiresKVM)
    func failingStepIsNamed() throws {
        // A VM type this host refuses (types 1–5 are EINVAL here, KVM_UAPI.md §6) makes KVM_CREATE_VM fail.
        var plan = try Compile.sample("hello-long").plan
        let index = try #require(plan.steps.firstIndex { $0.id == "vm" })
        plan.steps[index].operation = .createVM(type: .x86TDX)
        plan.requires.vmType.type = .x86TDX
        let directory = try Run.temporaryDirectory("kvmplan-repro-fail")
        try PlanCRenderer().render(plan).write(toFile: directory + "/r.c", atomically: true, encoding: .utf8)
        let cc = try Run.process(try #require(Run.which("cc")), ["-Wall", "-Werror", "-std=c11", "-o", directory + "/r", directory + "/r.c"])
        try #require(cc.status == 0, "\(cc.stderr)")
        let result = try Run.process(directory + "/r", [])
        #expect(result.status == 1)
        #expect(result.stderr.contains("step vm: KVM_CREATE_VM failed"), "stderr: \(result.stderr)")
    }
}
