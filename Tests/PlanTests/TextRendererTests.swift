import Plan
import TestSupport
import Testing

struct TextRendererTests {
    @Test(arguments: Fixtures.all.map(\.name))
    func golden(_ name: String) throws {
        let plan = try #require(Fixtures.all.first { $0.name == name }?.plan)
        Golden.plan.assert(PlanTextRenderer().render(plan), matches: "\(name).txt")
    }

    @Test(arguments: Fixtures.all.map(\.name))
    func jsonGolden(_ name: String) throws {
        let plan = try #require(Fixtures.all.first { $0.name == name }?.plan)
        Golden.plan.assert(plan.jsonString() + "\n", matches: "\(name).json")
    }

    @Test func withoutSources() throws {
        let text = PlanTextRenderer(showSources: false).render(Fixtures.defaultX86)
        #expect(!text.contains("guest.yaml"))
    }

    /// The one-line form the launcher's `--trace` prints.
    struct LineCase: CustomTestStringConvertible, Sendable {
        var step: Step
        var line: String
        var testDescription: String { line }
    }

    static let lines: [LineCase] = [
        LineCase(step: Step("kvm", .openDevice(.kvm)), line: "%kvm = open /dev/kvm"),
        LineCase(step: Step("api-version", .getAPIVersion()), line: "KVM_GET_API_VERSION %kvm expect 12"),
        LineCase(
            step: Step("cap.KVM_CAP_VM_TYPES", .checkExtension(cap: .vmTypes, expect: .bits(16))),
            line: "KVM_CHECK_EXTENSION %kvm KVM_CAP_VM_TYPES expect bit 4"),
        LineCase(
            step: Step("cap.KVM_CAP_GUEST_MEMFD_FLAGS", .checkExtension(on: .vm, cap: .guestMemfdFlags, expect: .bits(3))),
            line: "KVM_CHECK_EXTENSION %vm KVM_CAP_GUEST_MEMFD_FLAGS expect MMAP|INIT_SHARED"),
        LineCase(
            step: Step("vm", .createVM(type: .x86SNP), source: Fixtures.at(5, 11)),
            line: "%vm = KVM_CREATE_VM %kvm type=KVM_X86_SNP_VM  # guest.yaml:5:11"),
        LineCase(
            step: Step("gmem.ram", .createGuestMemfd(name: "ram", size: 512 << 20, flags: []), source: Fixtures.at(11, 7)),
            line: "%gmem.ram = KVM_CREATE_GUEST_MEMFD %vm size=512MiB flags=0  # guest.yaml:11:7"),
        LineCase(
            step: Step(
                "slot.ram",
                .setUserMemoryRegion2(
                    region: "ram", slot: 0, flags: .guestMemfd, gpa: 0, size: 512 << 20, userspace: nil,
                    guestMemfd: GuestMemfdBinding(.guestMemfd("ram")))),
            line: "KVM_SET_USER_MEMORY_REGION2 %vm slot=0 gpa=0x0 size=512MiB flags=GUEST_MEMFD gmem=%gmem.ram+0x0"),
        LineCase(
            step: Step("attr.ram", .setMemoryAttributes(gpa: 0, size: 512 << 20, attributes: .private)),
            line: "KVM_SET_MEMORY_ATTRIBUTES %vm gpa=0x0 size=512MiB attributes=PRIVATE"),
        LineCase(
            step: Step("map.low", .mmap(name: "low", source: .anonymous, size: 0x1234, offset: 0, shared: false, noreserve: true)),
            line: "%map.low = mmap size=4660 flags=PRIVATE|ANONYMOUS|NORESERVE"),
        LineCase(
            step: Step("snp.launch-start", .snpLaunchStart(policy: 0x30000), comment: "SMT allowed"),
            line: "KVM_SEV_SNP_LAUNCH_START %vm policy=0x30000 sev=%sev  # SMT allowed"),
        LineCase(
            step: Step("pop", .armRMIPopulate(base: 0x8000_0000, size: 1 << 21, source: Address(.mapping("s")), measure: true)),
            line: "KVM_ARM_RMI_POPULATE %vm base=0x80000000 size=2MiB source=%map.s+0x0 flags=MEASURE  # posted uapi (Arm CCA series v14)"),
        LineCase(step: Step("run.0", .run(vcpu: .vcpu(0))), line: "KVM_RUN %vcpu.0"),
    ]

    @Test(arguments: lines)
    func oneLine(_ c: LineCase) {
        #expect(PlanTextRenderer.line(for: c.step) == c.line)
    }

    @Test func traceLineWithoutComment() {
        let step = Step("vm", .createVM(type: .x86Default), source: Fixtures.at(5, 11))
        #expect(PlanTextRenderer.line(for: step, showComment: false) + " = 4" == "%vm = KVM_CREATE_VM %kvm type=KVM_X86_DEFAULT_VM = 4")
    }

    @Test func alignedColumns() {
        let steps = [
            Step("kvm", .openDevice(.kvm)), Step("api-version", .getAPIVersion()),
            Step("vm", .createVM(type: .x86Default), source: Fixtures.at(4, 11)),
        ]
        let layout = PlanTextRenderer.layout(for: steps)
        let lines = steps.map { PlanTextRenderer.line(for: $0, layout: layout) }
        #expect(
            lines == [
                "%kvm = open                 /dev/kvm",
                "       KVM_GET_API_VERSION  %kvm      expect 12",
                "%vm  = KVM_CREATE_VM        %kvm      type=KVM_X86_DEFAULT_VM  # guest.yaml:4:11",
            ])
    }

    @Test(arguments: [
        (UInt64(0), "0"), (512 << 20, "512MiB"), (4096, "4KiB"), (1 << 30, "1GiB"), (3 << 40, "3TiB"), (4660, "4660"),
        (0x1800, "6KiB"),
    ])
    func sizes(_ value: UInt64, _ text: String) {
        let step = Step("t", .ftruncate(fd: .memfd("m"), size: value))
        #expect(PlanTextRenderer.line(for: step) == "ftruncate %memfd.m size=\(text)")
    }

    @Test func handlers() {
        let ranges = [ConvertibleRange(region: "ram", gpa: 0, size: 1 << 30)]
        #expect(
            PlanTextRenderer.handlerText(Handler(.hypercallMapGPARange(convertible: ranges, onShare: .punchHole, onUnshare: .discard)))
                == "on KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE) in [ram]: set attributes; private→shared: punch hole; shared→private: discard")
        #expect(PlanTextRenderer.handlerText(.serial()) == "on KVM_EXIT_IO port 0x3f8: 8250 UART, output → stdout")
    }
}
