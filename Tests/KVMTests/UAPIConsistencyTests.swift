import CKVM
import KVM
import Plan
import Testing

/// CKVM's compiled constants equal the Swift side on this host (both are generated from
/// Scripts/uapi/kvm-uapi.json; C encodes the request numbers with its own `_IOC` macro and checks the struct
/// sizes with `sizeof`, Swift with `IoctlNumbers.encode`), and the golden pins of STYLE.md rule 6.
@Suite("uapi table: CKVM against Swift")
struct UAPIConsistencyTests {
    #if arch(x86_64)
    static let host = PlanArch.x86_64
    #elseif arch(arm64)
    static let host = PlanArch.arm64
    #endif

    @Test func everyRequestNumberAgrees() {
        let compiled = Self.compiledRequests
        #expect(compiled.count == IoctlNumbers.table(arch: Self.host).count, "CKVM defines every ioctl of \(Self.host)")
        for (ioctl, ckvm) in compiled {
            #expect(IoctlNumbers.number(ioctl, arch: Self.host).map(UInt.init) == ckvm, "\(ioctl.rawValue)")
        }
    }

    @Test func everyCapabilityAgrees() {
        #expect(Self.compiledCapabilities.map(\.capability) == Capability.catalogue)
        for (capability, ckvm) in Self.compiledCapabilities {
            #expect(capability.number == ckvm, "\(capability.name)")
            // The KVM module names a subset; where it names one, name and number agree with the catalogue.
            if let named = KVMCapability(name: capability.name) {
                #expect(named.rawValue == capability.number, "\(capability.name)")
                #expect(named.name == capability.name)
            }
        }
        #expect(KVMCapability.guestMemfd.rawValue == Capability.guestMemfd.number)
        #expect(KVMCapability.vmTypes.name == "KVM_CAP_VM_TYPES")
    }

    @Test func everyVMTypeAgrees() {
        #expect(Self.compiledX86VMTypes.map(\.vmType) == PlanVMType.x86Types)
        for (vmType, ckvm) in Self.compiledX86VMTypes {
            #expect(vmType.value == ckvm, "\(vmType.name)")
            // KVM's VMType (the one kvmplan launches with) names the same value the same way.
            #expect(KVM.VMType(rawValue: UInt(ckvm)).kernelName == vmType.name)
        }
        for (flag, ckvm) in Self.compiledArmVMTypeFlags {
            #expect(flag.value == ckvm, "\(flag.name)")
        }
        #expect(PlanVMType.arm(ipaBits: 40, kind: .protected)?.value == 0x8000_0028)
        #expect(KVM.VMType.armProtected.kernelName == "KVM_VM_TYPE_ARM_PROTECTED")
        #expect(PlanVMType.x86SNP.value == 4)
    }

    @Test func everyFlagAgrees() {
        // 6 memslot/guest_memfd/attribute flags, the PIT flag, 9 arm64 vCPU features, 3 MAP_GPA_RANGE attributes,
        // 5 SNP page types, 1 hypercall number.
        #expect(Self.compiledFlags.count == 25)
        // Pins from the kernel headers, independent of the table: kvm.h, asm/kvm.h (x86, arm64), kvm_para.h.
        #expect(PITFlags.speakerDummy.rawValue == 1)
        #expect(ArmVCPUFeatures.hasEL2E2H0.rawValue == 1 << 8 && ArmVCPUFeatures.psci0_2.rawValue == 1 << 2)
        #expect(MapGPARangeAttributes.encrypted.rawValue == 1 << 4 && MapGPARangeAttributes.pageSize1G.rawValue == 1 << 1)
        #expect(SNPPageType.normal.value == 1 && SNPPageType.cpuid.value == 6 && SNPPageType.zero.value == 3)
        #expect(Hypercall.mapGPARange == 12)
        for (name, plan, ckvm) in Self.compiledFlags {
            #expect(plan == ckvm, "\(name)")
        }
        // KVM's option sets (what the launcher passes) read the same CKVM constants.
        #expect(UInt64(KVM.MemoryRegionFlags.guestMemfd.rawValue) == 1 << 2)
        #expect(KVM.GuestMemfdFlags.initShared.rawValue == 1 << 1)
        #expect(KVM.MemoryAttributes.private.rawValue == 1 << 3)
    }

    @Test func everyEncryptOpCommandAgrees() {
        #expect(Self.compiledCommands.count == 13)
        for (name, plan, ckvm) in Self.compiledCommands {
            #expect(plan == ckvm, "\(name)")
        }
        #expect(EncryptOpCommand.snpLaunchUpdate == 101)
    }

    @Test func everyExitReasonIsNamed() {
        #expect(Self.compiledExitReasons.count == 27)
        for (name, ckvm) in Self.compiledExitReasons {
            #expect(ExitReason(rawValue: ckvm).description == name)
        }
        #expect(ExitReason.memoryFault.description == "KVM_EXIT_MEMORY_FAULT")
        #expect(ExitReason(rawValue: 39) == .memoryFault)
    }

    @Test func goldenPins() {
        #expect(Self.compiledAPIVersion == 12)
        #expect(CKVM_KVMIO == 0xAE)
        #if arch(x86_64)
        #expect(CKVM_KVM_SET_REGS == 0x4090_AE82)
        #elseif arch(arm64)
        #expect(CKVM_KVM_SET_REGS == 0x4360_AE82)
        #endif
        #expect(IoctlNumbers.number(.setRegs, arch: .x86_64) == 0x4090_AE82)
        #expect(IoctlNumbers.number(.setRegs, arch: .arm64) == 0x4360_AE82)
        #expect(Capability.guestMemfd.number == 234)
    }
}
