import Plan
import Testing

/// Pins every request number against KVM_UAPI.md §1.1 (and the arch-specific ones of STYLE rule 6), for both
/// architectures. nil = the architecture does not have the ioctl.
struct IoctlNumbersTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var ioctl: Ioctl
        var x86_64: UInt32?
        var arm64: UInt32?
        var testDescription: String { ioctl.rawValue }
    }

    static let table: [Case] = [
        Case(ioctl: .getAPIVersion, x86_64: 0xAE00, arm64: 0xAE00),
        Case(ioctl: .createVM, x86_64: 0xAE01, arm64: 0xAE01),
        Case(ioctl: .checkExtension, x86_64: 0xAE03, arm64: 0xAE03),
        Case(ioctl: .getVCPUMmapSize, x86_64: 0xAE04, arm64: 0xAE04),
        Case(ioctl: .getSupportedCPUID, x86_64: 0xC008_AE05, arm64: nil),
        Case(ioctl: .createVCPU, x86_64: 0xAE41, arm64: 0xAE41),
        Case(ioctl: .setUserMemoryRegion, x86_64: 0x4020_AE46, arm64: 0x4020_AE46),
        Case(ioctl: .setUserMemoryRegion2, x86_64: 0x40A0_AE49, arm64: 0x40A0_AE49),
        Case(ioctl: .run, x86_64: 0xAE80, arm64: 0xAE80),
        Case(ioctl: .getRegs, x86_64: 0x8090_AE81, arm64: 0x8360_AE81),
        Case(ioctl: .setRegs, x86_64: 0x4090_AE82, arm64: 0x4360_AE82),
        Case(ioctl: .getSregs, x86_64: 0x8138_AE83, arm64: nil),
        Case(ioctl: .setSregs, x86_64: 0x4138_AE84, arm64: nil),
        Case(ioctl: .setCPUID2, x86_64: 0x4008_AE90, arm64: nil),
        Case(ioctl: .enableCap, x86_64: 0x4068_AEA3, arm64: 0x4068_AEA3),
        Case(ioctl: .setOneReg, x86_64: 0x4010_AEAC, arm64: 0x4010_AEAC),
        Case(ioctl: .armVCPUInit, x86_64: nil, arm64: 0x4020_AEAE),
        Case(ioctl: .armPreferredTarget, x86_64: nil, arm64: 0x8020_AEAF),
        Case(ioctl: .memoryEncryptOp, x86_64: 0xC008_AEBA, arm64: nil),
        Case(ioctl: .memoryEncryptRegRegion, x86_64: 0x8010_AEBB, arm64: nil),
        Case(ioctl: .memoryEncryptUnregRegion, x86_64: 0x8010_AEBC, arm64: nil),
        Case(ioctl: .setMemoryAttributes, x86_64: 0x4020_AED2, arm64: 0x4020_AED2),
        Case(ioctl: .createGuestMemfd, x86_64: 0xC040_AED4, arm64: 0xC040_AED4),
        Case(ioctl: .preFaultMemory, x86_64: 0xC040_AED5, arm64: 0xC040_AED5),
        Case(ioctl: .armRMIPopulate, x86_64: nil, arm64: 0xC020_AED7),
        Case(ioctl: .setTSSAddr, x86_64: 0xAE47, arm64: nil),
        Case(ioctl: .setIdentityMapAddr, x86_64: 0x4008_AE48, arm64: nil),
        Case(ioctl: .createIRQChip, x86_64: 0xAE60, arm64: 0xAE60),
        Case(ioctl: .irqLine, x86_64: 0x4008_AE61, arm64: 0x4008_AE61),
        Case(ioctl: .createPIT2, x86_64: 0x4040_AE77, arm64: nil),
    ]

    @Test(arguments: table)
    func requestNumber(_ c: Case) {
        #expect(IoctlNumbers.number(c.ioctl, arch: .x86_64) == c.x86_64, "x86_64")
        #expect(IoctlNumbers.number(c.ioctl, arch: .arm64) == c.arm64, "arm64")
    }

    @Test func tableCoversEveryIoctl() {
        #expect(Set(Self.table.map(\.ioctl)) == Set(Ioctl.allCases))
        #expect(Self.table.count == Ioctl.allCases.count)
    }

    @Test func decimalValuesOfKVMUAPI() {
        // KVM_UAPI.md §1.1 also gives some numbers in decimal (as syzkaller prints them).
        #expect(IoctlNumbers.number(.setUserMemoryRegion2, arch: .x86_64) == 1_084_272_201)
        #expect(IoctlNumbers.number(.setMemoryAttributes, arch: .x86_64) == 1_075_883_730)
        #expect(IoctlNumbers.number(.createGuestMemfd, arch: .x86_64) == 3_225_464_532)
        #expect(IoctlNumbers.number(.preFaultMemory, arch: .x86_64) == 3_225_464_533)
        #expect(IoctlNumbers.number(.createVM, arch: .x86_64) == 44545)
    }

    @Test func encodingFields() {
        #expect(IoctlNumbers.encode(direction: .readWrite, type: 0xAE, nr: 0xd4, size: 64) == 0xC040_AED4)
        #expect(IoctlNumbers.encode(direction: .none, type: 0xAE, nr: 0x80, size: 0) == 0xAE80)
    }

    @Test(arguments: PlanArch.allCases)
    func everyOperationsIoctlExistsOnItsArchitectures(_ arch: PlanArch) {
        for kind in OperationKind.allCases where kind.architectures.contains(arch) {
            for ioctl in Self.sampleOperation(kind).ioctls(arch: arch) {
                #expect(IoctlNumbers.number(ioctl, arch: arch) != nil, "\(kind) uses \(ioctl.rawValue) on \(arch)")
            }
        }
    }

    static func sampleOperation(_ kind: OperationKind) -> Operation {
        OperationSamples.all.first { $0.kind == kind } ?? .run(vcpu: .vcpu(0))
    }
}
