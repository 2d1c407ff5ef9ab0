import Diagnostics
import Plan
import Testing

/// Issue 15: plan numbers against their real range, loads against memslots, KVM_RUN last, the payload
/// against its steps. Each case is a tampered plan file that passed validation before.
struct LimitValidationTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var id: DiagnosticID
        var field: String
        var message: String
        var plan: @Sendable () -> Plan
        var testDescription: String { name }
    }

    static func replacing(_ id: String, with operation: Operation, in plan: Plan = Fixtures.defaultX86) -> Plan {
        var plan = plan
        if let index = plan.steps.firstIndex(where: { $0.id == id }) { plan.steps[index].operation = operation }
        return plan
    }

    static let cases: [Case] = [
        Case(name: "serial port 0xfffb (serial + 5 overflows UInt16)", id: "plan.out-of-range", field: "handlers[0].port", message: "0xfffb") {
            var plan = Fixtures.defaultX86
            plan.handlers[0] = .serial(port: 0xfffb)
            return plan
        },
        Case(name: "serial port 0xffff", id: "plan.out-of-range", field: "handlers[0].port", message: "8 registers") {
            var plan = Fixtures.defaultX86
            plan.handlers[0] = .serial(port: 0xffff)
            return plan
        },
        Case(name: "exit port inside the UART", id: "plan.out-of-range", field: "handlers", message: "inside the UART") {
            var plan = Fixtures.defaultX86
            plan.handlers[1] = .exitPort(port: 0x3fd)
            return plan
        },
        Case(name: "memslot wraps past 2^64", id: "plan.out-of-range", field: "args.size", message: "overflows") {
            replacing(
                "slot.low",
                with: .setUserMemoryRegion(
                    region: "low", slot: 0, flags: [], gpa: UInt64.max - 0xfff, size: 2 << 20, userspace: Address(.mapping("low"))))
        },
        Case(name: "vCPU index beyond KVM's", id: "plan.out-of-range", field: "args.index", message: "4096") {
            replacing("vcpu.0", with: .createVCPU(index: 70_000))
        },
        Case(name: "real-mode entry above 1 MiB", id: "plan.out-of-range", field: "args.entry", message: "1 MiB") {
            replacing("boot.0", with: .setBootState(vcpu: .vcpu(0), mode: .real, entry: 0x20_0000, vcpuCount: 1))
        },
        Case(name: "load at one gpa, bytes at another offset", id: "plan.load-mismatch", field: "args.into", message: "0x10000") {
            replacing(
                "load.payload",
                with: .loadPayload(
                    into: Address(.mapping("low"), offset: 0x2_0000), gpa: 0x1_0000, size: 512, sha256: Fixtures.payloadDigest))
        },
        Case(name: "load outside every memslot", id: "plan.load-mismatch", field: "args.gpa", message: "not inside one memslot") {
            replacing(
                "load.payload",
                with: .loadPayload(
                    into: Address(.mapping("low"), offset: 0x1_0000), gpa: 0x4000_0000, size: 512, sha256: Fixtures.payloadDigest))
        },
        Case(name: "a NUL inside the payload path", id: "plan.invalid-path", field: "payload.path", message: "hello\\0.txt") {
            var plan = Fixtures.defaultX86
            plan.payload?.path = "hello\u{0}.txt"
            return plan
        },
        Case(name: "a terminal escape in a source file", id: "plan.invalid-path", field: "source", message: "\\e[2J") {
            var plan = Fixtures.defaultX86
            plan.steps[1].source?.file = "\u{1B}[2Jguest.yaml"
            return plan
        },
        Case(name: "a step after KVM_RUN", id: "plan.run-not-last", field: "op", message: "KVM_RUN steps must be the last") {
            var plan = Fixtures.defaultX86
            let run = plan.steps.removeLast()
            plan.steps.insert(run, at: plan.steps.count - 1)
            return plan
        },
        Case(name: "payload entry differs from the boot step", id: "plan.payload-mismatch", field: "args.entry", message: "payload's entry") {
            var plan = Fixtures.defaultX86
            plan.payload?.entry = 0x1_0100
            return plan
        },
        Case(name: "payload size differs from the load", id: "plan.payload-mismatch", field: "args", message: "one load of all") {
            var plan = Fixtures.defaultX86
            plan.payload?.size = 4096
            return plan
        },
        Case(name: "load reads past the payload", id: "plan.payload-mismatch", field: "args.file-offset", message: "outside the 512-byte payload") {
            replacing(
                "load.payload",
                with: .loadPayload(
                    into: Address(.mapping("low"), offset: 0x1_0000), gpa: 0x1_0000, size: 512, fileOffset: 1,
                    sha256: Fixtures.payloadDigest))
        },
    ]

    @Test(arguments: cases)
    func tamperedPlanIsRefused(_ testCase: Case) {
        let issues = testCase.plan().validate()
        let match = issues.first { $0.id == testCase.id && $0.field == testCase.field }
        #expect(match != nil, "no \(testCase.id) at \(testCase.field) in \(issues)")
        if let match { #expect(match.message.contains(testCase.message), "\(match)") }
    }

    @Test("every id of these checks is documented for 'kvmplan explain'", arguments: cases)
    func idsAreDocumented(_ testCase: Case) {
        #expect(PlanIssue.documentation.contains { $0.id == testCase.id })
    }

    @Test("the sample fixtures stay valid under the limits", arguments: Fixtures.all.map(\.name))
    func fixturesPassLimits(_ name: String) throws {
        let plan = try #require(Fixtures.all.first { $0.name == name }?.plan)
        #expect(plan.validate().filter { ["plan.out-of-range", "plan.load-mismatch", "plan.run-not-last", "plan.payload-mismatch"].contains($0.id) } == [])
    }

    @Test("a tampered plan file is refused when decoded, naming the handler")
    func decodingRefusesOverflowingSerialPort() throws {
        var plan = Fixtures.defaultX86
        plan.handlers[0] = .serial(port: 0xfffb)
        let json = plan.jsonString(pretty: true)
        #expect(throws: PlanDecodingError.self) { try Plan(json: json) }
        do {
            _ = try Plan(json: json)
        } catch {
            #expect(error.issues.contains { $0.id == "plan.out-of-range" }, "\(error)")
        }
    }
}
