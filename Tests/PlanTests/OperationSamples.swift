import Plan

/// One operation of every kind, with every argument non-default where possible, for codec and rendering tests.
enum OperationSamples {
    static let all: [Operation] = [
        .openDevice(.sev),
        .getAPIVersion(),
        .checkExtension(on: .vm, cap: .guestMemfdFlags, expect: .bits(3)),
        .createVM(type: .x86SWProtected),
        .enableCap(cap: .exitHypercall, args: [1 << 12, 0, 0, UInt64.max]),
        .createGuestMemfd(name: "ram", size: 1 << 30, flags: [.mmap]),
        .memfdCreate(name: "big", hugetlb: .size1G),
        .ftruncate(fd: .memfd("big"), size: 2 << 30),
        .fallocate(fd: .guestMemfd("ram"), mode: .punchHole, offset: 0x20_0000, size: 0x1000),
        .mmap(name: "big", source: .hugetlbAnonymous(.size2M), size: 4 << 20, offset: 0, shared: false, noreserve: true),
        .setUserMemoryRegion(
            region: "rom", slot: 3, flags: [.readonly, .logDirtyPages], gpa: 0xffff_0000, size: 0x1_0000,
            userspace: Address(.mapping("rom"), offset: 0x2000)),
        .setUserMemoryRegion2(
            region: "ram", slot: 0x1_0002, flags: [.guestMemfd], gpa: 0x1_0000_0000, size: 1 << 30, userspace: nil,
            guestMemfd: GuestMemfdBinding(.guestMemfd("ram"), offset: 0x4000_0000)),
        .setMemoryAttributes(gpa: 0x10_0000, size: 0x10_0000, attributes: []),
        .createVCPU(index: 7),
        .mmapRun(vcpu: .vcpu(7)),
        .setCPUID2(vcpu: .vcpu(7), from: .tdx),
        .loadPayload(
            into: Address(.mapping("ram"), offset: 0x1000), gpa: 0x20_1000, size: 0x234, fileOffset: 0x1000,
            sha256: "sha256:" + String(repeating: "c3", count: 32)),
        .setBootState(vcpu: .vcpu(7), mode: .protected, entry: 0x7c00, vcpuCount: 8),
        .sevInit2(vmsaFeatures: 0x1, ghcbVersion: 2),
        .snpLaunchStart(policy: 0x30000),
        .snpLaunchUpdate(gpa: 0x80_0000, size: 0x1000, pageType: .cpuid, source: Address(.mapping("cpuid"))),
        .snpLaunchFinish(),
        .snpLaunchFinish(
            finish: SNPLaunchFinish(
                hostData: [UInt8](repeating: 0x5a, count: 32), idBlock: [UInt8](repeating: 1, count: 96),
                idAuth: [UInt8](repeating: 2, count: 4096))),
        .tdxCapabilities(),
        .tdxInitVM(attributes: 1 << 28, xfam: 0xe7, gpaw: 52),
        .tdxInitVM(
            attributes: 0, xfam: 3, gpaw: 48,
            measurements: TDXMeasurementRegisters(mrconfigid: [UInt8](repeating: 7, count: 48))),
        .tdxInitVCPU(vcpu: .vcpu(7)),
        .tdxInitMemRegion(vcpu: .vcpu(7), gpa: 0x1000, nrPages: 16, source: Address(.mapping("staging")), measure: false),
        .tdxFinalizeVM(),
        .armVCPUInit(vcpu: .vcpu(7), features: [.psci0_2, .pmuV3, .sve]),
        .armRMIPopulate(base: 0x8000_0000, size: 0x20_0000, source: Address(.mapping("staging"), offset: 0x10), measure: true),
        .setTSSAddr(address: 0xfffb_d000),
        .setIdentityMapAddr(address: 0xfffb_c000),
        .createIRQChip(),
        .createPIT2(flags: [.speakerDummy]),
        .loadInitrd(
            into: Address(.mapping("ram"), offset: 0x7ff_f000), gpa: 0x7ff_f000, size: 0x123,
            sha256: "sha256:" + String(repeating: "d4", count: 32)),
        .linuxBootParams(
            into: Address(.mapping("ram"), offset: 0x8000), zeroPage: 0x8000, cmdlineGPA: 0x9000,
            cmdline: "console=ttyS0 \"quoted\" \\ tab\t", initrd: GPARange(gpa: 0x7ff_f000, size: 0x123),
            e820: [E820Entry(address: 0, size: 0x10000, kind: .reserved), E820Entry(address: 0x10000, size: 0x7ff_0000, kind: .ram)]),
        .linuxMPTable(into: Address(.mapping("ram"), offset: 0x9_fc00), gpa: 0x9_fc00, cpus: 3),
        .run(vcpu: .vcpu(7)),
    ]
}
