import Diagnostics
import Plan
import TestSupport
import Testing

struct ValidationTests {
    @Test(arguments: Fixtures.all.map(\.name))
    func fixturesAreValid(_ name: String) throws {
        let plan = try #require(Fixtures.all.first { $0.name == name }?.plan)
        #expect(plan.validate() == [])
    }

    /// A broken plan and the one issue it must produce.
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var id: DiagnosticID
        var stepID: String?
        var field: String?
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
        Case(name: "KVM_RUN on the VM fd", id: "plan.wrong-fd-kind", stepID: "run.0", field: "fd", message: "not %vm") {
            replacing("run.0", with: .run(vcpu: .vm))
        },
        Case(name: "KVM_CREATE_VM on a VM fd", id: "plan.wrong-fd-kind", stepID: "vm", field: "fd", message: "/dev/kvm") {
            replacing("vm", with: .createVM(on: .vm, type: .x86Default))
        },
        Case(
            name: "memslot userspace is a guest_memfd", id: "plan.wrong-fd-kind", stepID: "slot.low",
            field: "args.userspace.map", message: "userspace mapping"
        ) {
            replacing(
                "slot.low",
                with: .setUserMemoryRegion(region: "low", slot: 0, flags: [], gpa: 0, size: 2 << 20, userspace: Address(.guestMemfd("ram"))))
        },
        Case(name: "mmap of a memfd names a guest_memfd", id: "plan.wrong-fd-kind", stepID: "map.ram", field: "fd", message: "memfd") {
            replacing(
                "map.ram",
                with: .mmap(name: "ram", source: .memfd(.guestMemfd("ram")), size: 16 << 20, offset: 0, shared: true, noreserve: false))
        },
        Case(
            name: "vCPU used before KVM_CREATE_VCPU", id: "plan.fd-used-before-defined", stepID: "map-run.0", field: "fd",
            message: "before step"
        ) {
            var plan = Fixtures.defaultX86
            let vcpu = plan.steps.remove(at: plan.steps.firstIndex { $0.id == "vcpu.0" } ?? 0)
            plan.steps.insert(vcpu, at: plan.steps.firstIndex { $0.id == "cpuid.0" } ?? 0)
            return plan
        },
        Case(name: "fd never defined", id: "plan.unknown-fd", stepID: "slot.low", field: "args.userspace.map", message: "never defined") {
            replacing(
                "slot.low",
                with: .setUserMemoryRegion(region: "low", slot: 0, flags: [], gpa: 0, size: 2 << 20, userspace: Address(.mapping("nowhere"))))
        },
        Case(name: "duplicate step id", id: "plan.duplicate-step-id", stepID: "slot.low", field: "id", message: "already used") {
            var plan = Fixtures.defaultX86
            if let index = plan.steps.firstIndex(where: { $0.id == "slot.ram" }) { plan.steps[index].id = "slot.low" }
            return plan
        },
        Case(name: "malformed step id", id: "plan.invalid-step-id", stepID: "slot ram", field: "id", message: "A-Z") {
            var plan = Fixtures.defaultX86
            if let index = plan.steps.firstIndex(where: { $0.id == "slot.ram" }) { plan.steps[index].id = "slot ram" }
            return plan
        },
        Case(name: "guest_memfd defined twice", id: "plan.fd-redefined", stepID: "gmem.again", field: "defines", message: "already defined") {
            var plan = Fixtures.defaultX86
            plan.steps.insert(Step("gmem.again", .createGuestMemfd(name: "ram", size: 4096, flags: [])), at: 10)
            return plan
        },
        Case(name: "malformed fd name", id: "plan.invalid-fd-name", stepID: "run.0", field: "fd", message: "well-formed") {
            replacing("run.0", with: .run(vcpu: FdRef(kind: .vcpu, name: "first")))
        },
        Case(name: "malformed defined name", id: "plan.invalid-fd-name", stepID: "map.extra", field: "defines", message: "well-formed") {
            var plan = Fixtures.defaultX86
            plan.steps.insert(
                Step("map.extra", .mmap(name: "Extra!", source: .anonymous, size: 4096, offset: 0, shared: false, noreserve: false)),
                at: plan.steps.count - 1)  // before KVM_RUN, which must stay last
            return plan
        },
        Case(name: "SEV command in an arm64 plan", id: "plan.arch-mismatch", stepID: "snp", field: "op", message: "arm64") {
            var plan = Fixtures.pkvm
            plan.steps.append(Step("sev", .openDevice(.sev)))
            plan.steps.append(Step("snp", .snpLaunchFinish()))
            return plan
        },
        Case(name: "posted uapi marked merged", id: "plan.posted-uapi-unmarked", stepID: "cca.populate.payload", field: "uapi", message: "posted") {
            var plan = Fixtures.cca
            if let index = plan.steps.firstIndex(where: { $0.id == "cca.populate.payload" }) { plan.steps[index].uapiStatus = .merged }
            return plan
        },
        Case(name: "KVM_ENABLE_CAP with 3 args", id: "plan.invalid-argument", stepID: "enable.KVM_CAP_EXIT_HYPERCALL", field: "args.args", message: "exactly 4") {
            replacing("enable.KVM_CAP_EXIT_HYPERCALL", with: .enableCap(cap: .exitHypercall, args: [1 << 12, 0, 0]), in: Fixtures.sevSNP)
        },
        Case(name: "GUEST_MEMFD flag without a guest_memfd", id: "plan.invalid-argument", stepID: "slot.ram", field: "args.guest-memfd", message: "GUEST_MEMFD") {
            replacing(
                "slot.ram",
                with: .setUserMemoryRegion2(
                    region: "ram", slot: 1, flags: [.guestMemfd], gpa: 0x100_0000, size: 16 << 20,
                    userspace: Address(.mapping("ram")), guestMemfd: nil))
        },
        Case(name: "unknown capability", id: "plan.invalid-argument", stepID: "cap.KVM_CAP_GUEST_MEMFD", field: "args.cap", message: "catalogue") {
            replacing("cap.KVM_CAP_GUEST_MEMFD", with: .checkExtension(cap: Capability(name: "KVM_CAP_BOGUS", number: 999), expect: .atLeast(1)))
        },
        Case(name: "created VM type differs from requires", id: "plan.vm-type-mismatch", stepID: "vm", field: "args.type", message: "KVM_X86_TDX_VM") {
            replacing("vm", with: .createVM(type: .x86TDX))
        },
        Case(name: "handler names a region without memslot", id: "plan.unknown-region", stepID: nil, field: "handlers[3].convertible", message: "'dma'") {
            var plan = Fixtures.sevSNP
            plan.handlers[3] = Handler(
                .hypercallMapGPARange(convertible: [ConvertibleRange(region: "dma", gpa: 0, size: 4096)], onShare: .keep, onUnshare: .keep))
            return plan
        },
        Case(name: "convertible range outside its region", id: "plan.unknown-region", stepID: nil, field: "handlers[3].convertible", message: "not inside") {
            var plan = Fixtures.sevSNP
            plan.handlers[3] = Handler(
                .hypercallMapGPARange(convertible: [ConvertibleRange(region: "ram", gpa: 0, size: 1 << 40)], onShare: .keep, onUnshare: .keep))
            return plan
        },
        Case(name: "platform of the other architecture", id: "plan.platform-arch-mismatch", stepID: nil, field: "platform", message: "x86_64") {
            var plan = Fixtures.defaultX86
            plan.platform = .pkvm
            return plan
        },
        Case(name: "malformed manifest digest", id: "plan.invalid-digest", stepID: nil, field: "manifest", message: "sha256") {
            var plan = Fixtures.defaultX86
            plan.manifestDigest = "md5:1234"
            return plan
        },
        // Private memory (found by the lab: Plan+Validation+PrivateMemory.swift).
        Case(
            name: "PRIVATE attributes on a memslot without guest_memfd", id: "plan.private-memory", stepID: "attr.low",
            field: "args.gpa", message: "has no guest_memfd"
        ) {
            var plan = Fixtures.defaultX86
            let at = plan.steps.firstIndex { $0.id == "slot.low" }.map { $0 + 1 } ?? 0
            plan.steps.insert(Step("attr.low", .setMemoryAttributes(gpa: 0x1000, size: 0x1000, attributes: .private)), at: at)
            return plan
        },
        Case(
            name: "convertible range on a memslot without guest_memfd", id: "plan.private-memory", field: "handlers[4].convertible",
            message: "could never become private"
        ) {
            var plan = Fixtures.defaultX86
            plan.handlers.append(
                Handler(.hypercallMapGPARange(convertible: [ConvertibleRange(region: "low", gpa: 0, size: 2 << 20)], onShare: .punchHole, onUnshare: .discard)))
            return plan
        },
        Case(
            name: "load through an mmap of a guest_memfd without INIT_SHARED", id: "plan.private-memory", stepID: "load.payload",
            field: "args.offset", message: "SIGBUS"
        ) {
            var plan = replacing("gmem.ram", with: .createGuestMemfd(name: "ram", size: 16 << 20, flags: [.mmap]))
            if let i = plan.steps.firstIndex(where: { $0.id == "load.payload" }) {
                plan.steps[i].operation = .loadPayload(into: Address(.mapping("ram"), offset: 0), gpa: 0x100_0000, size: 512, sha256: Fixtures.payloadDigest)
            }
            plan.payload?.loadGPA = 0x100_0000  // the payload agrees with its load step (plan.payload-mismatch)
            return plan
        },
        Case(
            name: "mmap of a guest_memfd without GUEST_MEMFD_FLAG_MMAP", id: "plan.private-memory", stepID: "map.ram",
            field: "args.source", message: "without GUEST_MEMFD_FLAG_MMAP"
        ) {
            replacing("gmem.ram", with: .createGuestMemfd(name: "ram", size: 16 << 20, flags: []))
        },
    ]

    @Test(arguments: cases)
    func rejects(_ c: Case) throws {
        let issues = c.plan().validate()
        #expect(issues.count == 1, "\(issues)")
        let issue = try #require(issues.first)
        #expect(issue.id == c.id)
        #expect(issue.stepID == c.stepID)
        #expect(issue.field == c.field)
        #expect(issue.message.contains(c.message), "\(issue.message)")
    }

    /// A PRIVATE range outside every memslot stays valid: KVM accepts it and a guest access there is a
    /// memory-fault exit that ends the launch (the lab's memory-fault test relies on it).
    @Test func privateAttributesOutsideEveryMemslotAreValid() {
        var plan = Fixtures.defaultX86
        plan.steps.insert(
            Step("attr.hole", .setMemoryAttributes(gpa: 0xfe00_0000, size: 2 << 20, attributes: .private)),
            at: plan.steps.firstIndex { $0.id == "vcpu.0" } ?? 0)
        #expect(plan.validate() == [])
    }

    @Test func issuesNameStepAndSourceAndBecomeDiagnostics() throws {
        let plan = Self.replacing("run.0", with: .run(vcpu: .vm))
        let issue = try #require(plan.validate().first)
        let index = try #require(plan.steps.firstIndex { $0.id == "run.0" })
        #expect(issue.stepIndex == index)
        #expect(issue.source == Fixtures.at(5, 8))
        #expect(issue.description.hasPrefix("step \(index) (run.0): fd: KVM_RUN needs a vCPU fd (%vcpu.N) here, not %vm"))
        let diagnostic = issue.diagnostic(fallback: ManifestLocation(file: "plan.json", line: 0, column: 0))
        #expect(diagnostic.id == "plan.wrong-fd-kind")
        #expect(diagnostic.location == Fixtures.at(5, 8))
        #expect(diagnostic.path.description == "steps[\(index)].fd")
    }

    @Test func allIssuesAreReported() {
        var plan = Fixtures.defaultX86
        plan.steps.append(Step("run.0", .run(vcpu: .vm)))
        plan.steps.append(Step("run.1", .run(vcpu: .vcpu(1))))
        let ids = plan.validate().map(\.id)
        #expect(ids == ["plan.duplicate-step-id", "plan.wrong-fd-kind", "plan.unknown-fd"])
    }

    @Test func operationMetadata() {
        #expect(Operation.run(vcpu: .vcpu(0)).kind.allowedKinds == [.vcpu])
        #expect(Operation.createVM(type: .x86Default).kind.allowedKinds == [.system])
        #expect(Operation.createVM(type: .x86Default).defines == .vm)
        #expect(Operation.createGuestMemfd(name: "ram", size: 4096, flags: []).defines?.description == "%gmem.ram")
        #expect(Operation.mmapRun(vcpu: .vcpu(3)).defines?.description == "%run.3")
        #expect(Operation.openDevice(.kvm).on == nil)
        #expect(Operation.snpLaunchStart(policy: 0).op == "KVM_MEMORY_ENCRYPT_OP")
        #expect(Operation.snpLaunchStart(policy: 0).command == "KVM_SEV_SNP_LAUNCH_START")
        #expect(Operation.armRMIPopulate(base: 0, size: 0, source: Address(.mapping("x")), measure: true).uapiStatus == .posted)
        #expect(Step("x", .armRMIPopulate(base: 0, size: 0, source: Address(.mapping("x")), measure: true)).uapiStatus == .posted)
        #expect(Set(OperationSamples.all.map(\.kind)) == Set(OperationKind.allCases))
    }

    @Test(arguments: ["%kvm", "%vm", "%sev", "%gmem.ram", "%memfd.big-mem", "%vcpu.0", "%vcpu.12", "%map.ram", "%run.3"])
    func fdRefsRoundTrip(_ text: String) throws {
        let ref = try #require(FdRef(parsing: text))
        #expect(ref.description == text)
    }

    @Test(arguments: ["vm", "%", "%vm.x", "%gmem", "%gmem.", "%gmem.Ram", "%vcpu.01", "%vcpu.x", "%bogus.a", "%map.-a"])
    func malformedFdRefs(_ text: String) {
        #expect(FdRef(parsing: text) == nil)
    }

    /// KVM_VM_TYPE_ARM_REALM is `1UL << 30` since the posted CCA series v14 (patch 16/44); the `1 << 8` of v5…v13
    /// is EINVAL on every merged kernel and on v14 (KVM_UAPI.md §1.2, §8).
    @Test func armVMTypes() throws {
        let realm = try #require(VMType.arm(ipaBits: 40, kind: .realm))
        #expect(realm.value == (1 << 30) | 40)
        #expect(realm.name == "KVM_VM_TYPE_ARM_REALM|KVM_VM_TYPE_ARM_IPA_SIZE(40)")
        #expect(realm.uapiStatus == .posted)
        #expect(VMType.arm(ipaBits: 48, kind: .protected)?.value == 0x8000_0030)
        #expect(VMType.arm(ipaBits: 20) == nil)
        #expect(VMType.named(realm.name, arch: .arm64) == realm)
        #expect(VMType.named("KVM_VM_TYPE_ARM_IPA_SIZE(040)", arch: .arm64) == nil)
        #expect(VMType.named("KVM_X86_SNP_VM", arch: .x86_64)?.value == 4)
        #expect(VMType.named("KVM_X86_SNP_VM", arch: .arm64) == nil)
    }

    @Test func requirementsMerge() {
        var requires = Requirements(vmType: VMTypeRequirement(.x86Default))
        let merged = [
            requires.require(.guestMemfdFlags, .bits(1), scope: .vm, at: Fixtures.at(3, 1)),
            requires.require(.guestMemfdFlags, .bits(2), scope: .vm, at: Fixtures.at(9, 1)),
            requires.require(.maxVCPUs, .atLeast(2)),
            requires.require(.maxVCPUs, .atLeast(8)),
            requires.require(.maxVCPUs, .bits(1)),
        ]
        #expect(merged == [true, true, true, true, false])
        #expect(requires.capabilities["KVM_CAP_GUEST_MEMFD_FLAGS"]?.expect == .bits(3))
        #expect(requires.capabilities["KVM_CAP_GUEST_MEMFD_FLAGS"]?.source == Fixtures.at(3, 1))
        #expect(requires.capabilities["KVM_CAP_MAX_VCPUS"]?.expect == .atLeast(8))
        #expect(CapabilityExpectation.bits(0x3).isSatisfied(by: 0x7))
        #expect(!CapabilityExpectation.bits(0x3).isSatisfied(by: 0x1))
        #expect(CapabilityExpectation.atLeast(1).isSatisfied(by: 1))
    }
}
