import Diagnostics
@testable import Plan

/// Hand-built plans, one per platform family, shaped like the lowering's output.
enum Fixtures {
    static func at(_ line: Int, _ column: Int, file: String = "guest.yaml") -> SourceLocation {
        SourceLocation(file: file, line: line, column: column)
    }

    static let manifestDigest = "sha256:" + String(repeating: "ab", count: 32)
    static let payloadDigest = "sha256:" + String(repeating: "01", count: 32)

    static let all: [(name: String, plan: Plan)] = [
        ("default-x86", defaultX86), ("sev-snp", sevSNP), ("tdx", tdx), ("cca", cca), ("pkvm", pkvm),
    ]

    /// A default x86 VM: an anonymous memslot, a guest_memfd (MMAP | INIT_SHARED) memslot, one vCPU in real
    /// mode. Every step works on the CI host's KVM (KVM_UAPI.md §6).
    static var defaultX86: Plan {
        var requires = Requirements(vmType: VMTypeRequirement(.x86Default, source: at(4, 11)))
        requires.require(.guestMemfd, .atLeast(1), at: at(16, 16))
        requires.require(.userMemory2, .atLeast(1), at: at(16, 16))
        requires.require(.guestMemfdFlags, .bits(GuestMemfdFlags([.mmap, .initShared]).rawValue), scope: .vm, at: at(17, 20))
        requires.guestMemfdFlags = GuestMemfdFlagsRequirement([.mmap, .initShared], source: at(17, 20))
        let steps = [
            Step("kvm", .openDevice(.kvm), source: at(1, 1)),
            Step("api-version", .getAPIVersion(), source: at(1, 1)),
            Step("cap.KVM_CAP_GUEST_MEMFD", .checkExtension(cap: .guestMemfd, expect: .atLeast(1)), source: at(16, 16)),
            Step("cap.KVM_CAP_USER_MEMORY2", .checkExtension(cap: .userMemory2, expect: .atLeast(1)), source: at(16, 16)),
            Step("vm", .createVM(type: .x86Default), source: at(4, 11)),
            Step(
                "cap.KVM_CAP_GUEST_MEMFD_FLAGS", .checkExtension(on: .vm, cap: .guestMemfdFlags, expect: .bits(3)),
                source: at(17, 20)),
            Step(
                "map.low", .mmap(name: "low", source: .anonymous, size: 2 << 20, offset: 0, shared: false, noreserve: true),
                source: at(11, 16)),
            Step(
                "slot.low",
                .setUserMemoryRegion(region: "low", slot: 0, flags: [], gpa: 0, size: 2 << 20, userspace: Address(.mapping("low"))),
                source: at(8, 7)),
            Step("gmem.ram", .createGuestMemfd(name: "ram", size: 16 << 20, flags: [.mmap, .initShared]), source: at(16, 16)),
            Step(
                "map.ram",
                .mmap(name: "ram", source: .guestMemfd(.guestMemfd("ram")), size: 16 << 20, offset: 0, shared: true, noreserve: false),
                source: at(17, 20)),
            Step(
                "slot.ram",
                .setUserMemoryRegion2(
                    region: "ram", slot: 1, flags: [.guestMemfd], gpa: 0x100_0000, size: 16 << 20,
                    userspace: Address(.mapping("ram")), guestMemfd: GuestMemfdBinding(.guestMemfd("ram"))),
                source: at(13, 7)),
            Step(
                "load.payload",
                .loadPayload(into: Address(.mapping("low"), offset: 0x1_0000), gpa: 0x1_0000, size: 512, sha256: payloadDigest),
                source: at(22, 9)),
            Step("vcpu.0", .createVCPU(index: 0), source: at(5, 8)),
            Step("map-run.0", .mmapRun(vcpu: .vcpu(0)), source: at(5, 8)),
            Step("cpuid.0", .setCPUID2(vcpu: .vcpu(0), from: .supported), source: at(5, 8)),
            Step("boot.0", .setBootState(vcpu: .vcpu(0), mode: .real, entry: 0x1_0000, vcpuCount: 1), source: at(24, 9)),
            Step("run.0", .run(vcpu: .vcpu(0)), source: at(5, 8)),
        ]
        return Plan(
            name: "hello-real", arch: .x86_64, platform: .default, manifestDigest: manifestDigest, requires: requires,
            steps: steps,
            handlers: [
                .serial(source: at(1, 1)), .exitPort(source: at(1, 1)), .halt(source: at(1, 1)),
                Handler(.mmio(region: "mmio", range: GPARange(gpa: 0xfe00_0000, size: 16 << 20), readonly: false), source: at(18, 7)),
            ],
            payload: PayloadInfo(
                path: "guests/hello-real.bin", format: .flat, sha256: payloadDigest, size: 512, loadGPA: 0x1_0000,
                entry: 0x1_0000, mode: .real, measured: false, source: at(20, 3)))
    }

    /// An SEV-SNP guest: private 512 MiB RAM converted by hypercalls and faults, payload staged and measured.
    static var sevSNP: Plan {
        var requires = Requirements(vmType: VMTypeRequirement(.x86SNP, source: at(4, 11)))
        requires.require(.vmTypes, .bits(1 << 4), at: at(4, 11))
        requires.require(.guestMemfd, .atLeast(1), at: at(15, 16))
        requires.require(.userMemory2, .atLeast(1), at: at(15, 16))
        requires.require(.memoryAttributes, .bits(MemoryAttributes.private.rawValue), scope: .vm, at: at(13, 15))
        requires.require(.exitHypercall, .bits(1 << 12), at: at(20, 15))
        let ram: UInt64 = 512 << 20
        let steps = [
            Step("kvm", .openDevice(.kvm), source: at(1, 1)),
            Step("api-version", .getAPIVersion(), source: at(1, 1)),
            Step("cap.KVM_CAP_EXIT_HYPERCALL", .checkExtension(cap: .exitHypercall, expect: .bits(1 << 12)), source: at(20, 15)),
            Step("cap.KVM_CAP_GUEST_MEMFD", .checkExtension(cap: .guestMemfd, expect: .atLeast(1)), source: at(15, 16)),
            Step("cap.KVM_CAP_USER_MEMORY2", .checkExtension(cap: .userMemory2, expect: .atLeast(1)), source: at(15, 16)),
            Step("cap.KVM_CAP_VM_TYPES", .checkExtension(cap: .vmTypes, expect: .bits(1 << 4)), source: at(4, 11)),
            Step("sev", .openDevice(.sev), source: at(4, 11)),
            Step("vm", .createVM(type: .x86SNP), source: at(4, 11)),
            Step(
                "cap.KVM_CAP_MEMORY_ATTRIBUTES", .checkExtension(on: .vm, cap: .memoryAttributes, expect: .bits(8)),
                source: at(13, 15)),
            Step(
                "enable.KVM_CAP_EXIT_HYPERCALL", .enableCap(cap: .exitHypercall, args: [1 << 12, 0, 0, 0]), source: at(20, 15),
                comment: "KVM_HC_MAP_GPA_RANGE exits to the launcher"),
            Step("snp.init", .sevInit2(vmsaFeatures: 0, ghcbVersion: 2), source: at(4, 11)),
            Step("snp.launch-start", .snpLaunchStart(policy: 0x30000), source: at(4, 11)),
            Step("gmem.ram", .createGuestMemfd(name: "ram", size: ram, flags: []), source: at(15, 16)),
            Step(
                "map.ram", .mmap(name: "ram", source: .anonymous, size: ram, offset: 0, shared: false, noreserve: true),
                source: at(13, 15)),
            Step(
                "slot.ram",
                .setUserMemoryRegion2(
                    region: "ram", slot: 0, flags: [.guestMemfd], gpa: 0, size: ram, userspace: Address(.mapping("ram")),
                    guestMemfd: GuestMemfdBinding(.guestMemfd("ram"))),
                source: at(10, 7)),
            Step("attr.ram", .setMemoryAttributes(gpa: 0, size: ram, attributes: .private), source: at(14, 16)),
            Step(
                "load.payload",
                .loadPayload(into: Address(.mapping("ram"), offset: 0x10_0000), gpa: 0x10_0000, size: 8192, sha256: payloadDigest),
                source: at(24, 9)),
            Step("vcpu.0", .createVCPU(index: 0), source: at(5, 8)),
            Step("map-run.0", .mmapRun(vcpu: .vcpu(0)), source: at(5, 8)),
            Step("cpuid.0", .setCPUID2(vcpu: .vcpu(0), from: .supported), source: at(5, 8)),
            Step("boot.0", .setBootState(vcpu: .vcpu(0), mode: .long, entry: 0x10_0000, vcpuCount: 1), source: at(26, 9)),
            Step(
                "snp.launch-update.payload",
                .snpLaunchUpdate(gpa: 0x10_0000, size: 8192, pageType: .normal, source: Address(.mapping("ram"), offset: 0x10_0000)),
                source: at(27, 13)),
            Step(
                "snp.launch-update.boot-area",
                .snpLaunchUpdate(gpa: 0x1000, size: 0x7000, pageType: .normal, source: Address(.mapping("ram"), offset: 0x1000)),
                source: at(26, 9)),
            Step("snp.launch-finish", .snpLaunchFinish(), source: at(4, 11)),
            Step("run.0", .run(vcpu: .vcpu(0)), source: at(5, 8)),
        ]
        let convertible = [ConvertibleRange(region: "ram", gpa: 0, size: ram)]
        return Plan(
            name: "snp-demo", arch: .x86_64, platform: .sevSNP, manifestDigest: manifestDigest, requires: requires,
            steps: steps,
            handlers: [
                .serial(source: at(1, 1)), .exitPort(source: at(1, 1)), .halt(source: at(1, 1)),
                Handler(.hypercallMapGPARange(convertible: convertible, onShare: .punchHole, onUnshare: .discard), source: at(18, 1)),
                Handler(.memoryFault(convertible: convertible, onShare: .punchHole, onUnshare: .discard), source: at(18, 1)),
            ],
            payload: PayloadInfo(
                path: "guests/hello-long.bin", format: .flat, sha256: payloadDigest, size: 8192, loadGPA: 0x10_0000,
                entry: 0x10_0000, mode: .long, measured: true, source: at(22, 3)))
    }

    /// A TDX guest: INIT_VM before vCPUs, private-only RAM populated from a staging buffer, FINALIZE before RUN.
    static var tdx: Plan {
        var requires = Requirements(vmType: VMTypeRequirement(.x86TDX, source: at(4, 11)))
        requires.require(.vmTypes, .bits(1 << 5), at: at(4, 11))
        requires.require(.guestMemfd, .atLeast(1), at: at(12, 16))
        requires.require(.memoryAttributes, .bits(8), scope: .vm, at: at(11, 15))
        let ram: UInt64 = 256 << 20
        let steps = [
            Step("kvm", .openDevice(.kvm), source: at(1, 1)),
            Step("api-version", .getAPIVersion(), source: at(1, 1)),
            Step("cap.KVM_CAP_GUEST_MEMFD", .checkExtension(cap: .guestMemfd, expect: .atLeast(1)), source: at(12, 16)),
            Step("cap.KVM_CAP_VM_TYPES", .checkExtension(cap: .vmTypes, expect: .bits(1 << 5)), source: at(4, 11)),
            Step("vm", .createVM(type: .x86TDX), source: at(4, 11)),
            Step(
                "cap.KVM_CAP_MEMORY_ATTRIBUTES", .checkExtension(on: .vm, cap: .memoryAttributes, expect: .bits(8)),
                source: at(11, 15)),
            Step("enable.KVM_CAP_EXIT_HYPERCALL", .enableCap(cap: .exitHypercall, args: [1 << 12, 0, 0, 0]), source: at(4, 11)),
            Step("tdx.capabilities", .tdxCapabilities(), source: at(4, 11)),
            Step("enable.KVM_CAP_SPLIT_IRQCHIP", .enableCap(cap: .splitIRQChip, args: [24, 0, 0, 0]), source: at(4, 11)),
            Step("tdx.init-vm", .tdxInitVM(attributes: 0, xfam: 0x3, gpaw: 48), source: at(6, 11)),
            Step("vcpu.0", .createVCPU(index: 0), source: at(5, 8)),
            Step("map-run.0", .mmapRun(vcpu: .vcpu(0)), source: at(5, 8)),
            Step("cpuid.0", .setCPUID2(vcpu: .vcpu(0), from: .tdx), source: at(5, 8)),
            Step("tdx.init-vcpu.0", .tdxInitVCPU(vcpu: .vcpu(0)), source: at(5, 8)),
            Step("gmem.ram", .createGuestMemfd(name: "ram", size: ram, flags: []), source: at(12, 16)),
            Step(
                "slot.ram",
                .setUserMemoryRegion2(
                    region: "ram", slot: 0, flags: [.guestMemfd], gpa: 0, size: ram, userspace: nil,
                    guestMemfd: GuestMemfdBinding(.guestMemfd("ram"))),
                source: at(9, 7)),
            Step("attr.ram", .setMemoryAttributes(gpa: 0, size: ram, attributes: .private), source: at(11, 15)),
            Step(
                "map.staging-payload",
                .mmap(name: "staging-payload", source: .anonymous, size: 0x3000, offset: 0, shared: false, noreserve: false),
                source: at(20, 9), comment: "shared source buffer for the launch command"),
            Step(
                "load.payload",
                .loadPayload(into: Address(.mapping("staging-payload"), offset: 0x800), gpa: 0x10_0800, size: 0x2000, sha256: payloadDigest),
                source: at(20, 9)),
            Step(
                "tdx.init-mem-region.payload",
                .tdxInitMemRegion(
                    vcpu: .vcpu(0), gpa: 0x10_0000, nrPages: 3, source: Address(.mapping("staging-payload")), measure: true),
                source: at(23, 13)),
            Step("tdx.finalize", .tdxFinalizeVM(), source: at(4, 11)),
            Step("run.0", .run(vcpu: .vcpu(0)), source: at(5, 8)),
        ]
        return Plan(
            name: "tdx-demo", arch: .x86_64, platform: .tdx, manifestDigest: manifestDigest, requires: requires, steps: steps,
            handlers: [
                .serial(source: at(1, 1)), .exitPort(source: at(1, 1)), .halt(source: at(1, 1)),
                Handler(
                    .memoryFault(convertible: [ConvertibleRange(region: "ram", gpa: 0, size: ram)], onShare: .punchHole, onUnshare: .keep),
                    source: at(15, 1)),
            ],
            payload: PayloadInfo(
                path: "guests/hello-long.bin", format: .flat, sha256: payloadDigest, size: 0x2000, loadGPA: 0x10_0800,
                entry: 0x10_0800, mode: .long, measured: true, source: at(18, 3)))
    }

    /// An Arm CCA realm: posted uapi for the realm VM type, KVM_CAP_ARM_RMI and RMI_POPULATE.
    static var cca: Plan {
        guard let realm = VMType.arm(ipaBits: 40, kind: .realm) else { preconditionFailure("IPA 40 is valid") }
        var requires = Requirements(vmType: VMTypeRequirement(realm, source: at(5, 11, file: "cca.yaml")))
        requires.require(.armVMIPASize, .atLeast(40), at: at(7, 11, file: "cca.yaml"))
        requires.require(.armRMI, .atLeast(1), at: at(5, 11, file: "cca.yaml"))
        requires.require(.guestMemfd, .atLeast(1), at: at(16, 16, file: "cca.yaml"))
        requires.require(.guestMemfdFlags, .bits(1), scope: .vm, at: at(16, 16, file: "cca.yaml"))
        requires.guestMemfdFlags = GuestMemfdFlagsRequirement(.mmap, source: at(16, 16, file: "cca.yaml"))
        let ram: UInt64 = 512 << 20
        func c(_ line: Int, _ column: Int) -> SourceLocation { at(line, column, file: "cca.yaml") }
        let steps = [
            Step("kvm", .openDevice(.kvm), source: c(1, 1)),
            Step("api-version", .getAPIVersion(), source: c(1, 1)),
            Step("cap.KVM_CAP_ARM_RMI", .checkExtension(cap: .armRMI, expect: .atLeast(1)), source: c(5, 11)),
            Step("cap.KVM_CAP_ARM_VM_IPA_SIZE", .checkExtension(cap: .armVMIPASize, expect: .atLeast(40)), source: c(7, 11)),
            Step("cap.KVM_CAP_GUEST_MEMFD", .checkExtension(cap: .guestMemfd, expect: .atLeast(1)), source: c(16, 16)),
            Step("vm", .createVM(type: realm), source: c(5, 11)),
            Step("cap.KVM_CAP_GUEST_MEMFD_FLAGS", .checkExtension(on: .vm, cap: .guestMemfdFlags, expect: .bits(1)), source: c(16, 16)),
            Step("gmem.ram", .createGuestMemfd(name: "ram", size: ram, flags: .mmap), source: c(16, 16)),
            Step(
                "map.ram",
                .mmap(name: "ram", source: .guestMemfd(.guestMemfd("ram")), size: ram, offset: 0, shared: true, noreserve: false),
                source: c(16, 16)),
            Step(
                "slot.ram",
                .setUserMemoryRegion2(
                    region: "ram", slot: 0, flags: [.guestMemfd], gpa: 0x8000_0000, size: ram, userspace: Address(.mapping("ram")),
                    guestMemfd: GuestMemfdBinding(.guestMemfd("ram"))),
                source: c(11, 7)),
            Step(
                "map.staging-payload",
                .mmap(name: "staging-payload", source: .anonymous, size: 0x1000, offset: 0, shared: false, noreserve: false),
                source: c(25, 9)),
            Step(
                "load.payload",
                .loadPayload(into: Address(.mapping("staging-payload")), gpa: 0x8000_0000, size: 0x1000, sha256: payloadDigest),
                source: c(25, 9)),
            Step(
                "cca.populate.payload",
                .armRMIPopulate(base: 0x8000_0000, size: 0x1000, source: Address(.mapping("staging-payload")), measure: true),
                source: c(27, 13)),
            Step("vcpu.0", .createVCPU(index: 0), source: c(6, 8)),
            Step("map-run.0", .mmapRun(vcpu: .vcpu(0)), source: c(6, 8)),
            Step("vcpu-init.0", .armVCPUInit(vcpu: .vcpu(0), features: [.psci0_2]), source: c(6, 8)),
            Step("boot.0", .setBootState(vcpu: .vcpu(0), mode: .el1, entry: 0x8000_0000, vcpuCount: 1), source: c(28, 9)),
            Step("run.0", .run(vcpu: .vcpu(0)), source: c(6, 8)),
        ]
        return Plan(
            name: "cca-demo", arch: .arm64, platform: .cca, manifestDigest: manifestDigest, requires: requires, steps: steps,
            handlers: [
                Handler(
                    .memoryFault(convertible: [ConvertibleRange(region: "ram", gpa: 0x8000_0000, size: ram)], onShare: .punchHole, onUnshare: .discard),
                    source: c(18, 1))
            ],
            payload: PayloadInfo(
                path: "guests/hello.bin", format: .flat, sha256: payloadDigest, size: 0x1000, loadGPA: 0x8000_0000,
                entry: 0x8000_0000, mode: .el1, measured: true, source: c(23, 3)))
    }

    /// A pKVM protected VM: memfd-backed memory donated in place, two vCPUs, no payload.
    static var pkvm: Plan {
        guard let protected = VMType.arm(ipaBits: 0, kind: .protected) else { preconditionFailure("IPA 0 is valid") }
        func p(_ line: Int, _ column: Int) -> SourceLocation { at(line, column, file: "pkvm.yaml") }
        var requires = Requirements(vmType: VMTypeRequirement(protected, source: p(4, 11)))
        requires.require(.maxVCPUs, .atLeast(2), at: p(5, 8))
        let ram: UInt64 = 1 << 30
        let steps = [
            Step("kvm", .openDevice(.kvm), source: p(1, 1)),
            Step("api-version", .getAPIVersion(), source: p(1, 1)),
            Step("cap.KVM_CAP_MAX_VCPUS", .checkExtension(cap: .maxVCPUs, expect: .atLeast(2)), source: p(5, 8)),
            Step("vm", .createVM(type: protected), source: p(4, 11)),
            Step("memfd.ram", .memfdCreate(name: "ram", hugetlb: .size2M), source: p(12, 16)),
            Step("truncate.ram", .ftruncate(fd: .memfd("ram"), size: ram), source: p(11, 13)),
            Step("prealloc.ram", .fallocate(fd: .memfd("ram"), mode: .allocate, offset: 0, size: ram), source: p(12, 16)),
            Step(
                "map.ram", .mmap(name: "ram", source: .memfd(.memfd("ram")), size: ram, offset: 0, shared: true, noreserve: false),
                source: p(12, 16)),
            Step(
                "slot.ram",
                .setUserMemoryRegion(region: "ram", slot: 0, flags: [], gpa: 0x4000_0000, size: ram, userspace: Address(.mapping("ram"))),
                source: p(9, 7)),
            Step("vcpu.0", .createVCPU(index: 0), source: p(5, 8)),
            Step("map-run.0", .mmapRun(vcpu: .vcpu(0)), source: p(5, 8)),
            Step("vcpu-init.0", .armVCPUInit(vcpu: .vcpu(0), features: [.psci0_2]), source: p(5, 8)),
            Step("vcpu.1", .createVCPU(index: 1), source: p(5, 8)),
            Step("map-run.1", .mmapRun(vcpu: .vcpu(1)), source: p(5, 8)),
            Step("vcpu-init.1", .armVCPUInit(vcpu: .vcpu(1), features: [.psci0_2, .powerOff]), source: p(5, 8)),
        ]
        return Plan(
            name: "pkvm-demo", arch: .arm64, platform: .pkvm, manifestDigest: manifestDigest, requires: requires, steps: steps)
    }
}
