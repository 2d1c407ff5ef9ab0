import CKVM
import Testing

/// The request numbers of KVM_UAPI.md §1.1, pinned (STYLE.md rule 6: `KVM_SET_REGS` = 0x4090AE82 on
/// x86_64). ckvm_uapi.c (generated from Scripts/uapi/kvm-uapi.json) computes them with the _IOC encoding.
@Suite("ioctl request numbers")
struct RequestNumberTests {
    static let generic: [(String, UInt, UInt)] = [
        ("KVM_GET_API_VERSION", CKVM_KVM_GET_API_VERSION, 0xAE00),
        ("KVM_CREATE_VM", CKVM_KVM_CREATE_VM, 0xAE01),
        ("KVM_CHECK_EXTENSION", CKVM_KVM_CHECK_EXTENSION, 0xAE03),
        ("KVM_GET_VCPU_MMAP_SIZE", CKVM_KVM_GET_VCPU_MMAP_SIZE, 0xAE04),
        ("KVM_CREATE_VCPU", CKVM_KVM_CREATE_VCPU, 0xAE41),
        ("KVM_SET_USER_MEMORY_REGION", CKVM_KVM_SET_USER_MEMORY_REGION, 0x4020_AE46),
        ("KVM_SET_USER_MEMORY_REGION2", CKVM_KVM_SET_USER_MEMORY_REGION2, 0x40A0_AE49),
        ("KVM_RUN", CKVM_KVM_RUN, 0xAE80),
        ("KVM_ENABLE_CAP", CKVM_KVM_ENABLE_CAP, 0x4068_AEA3),
        ("KVM_SET_MEMORY_ATTRIBUTES", CKVM_KVM_SET_MEMORY_ATTRIBUTES, 0x4020_AED2),
        ("KVM_CREATE_GUEST_MEMFD", CKVM_KVM_CREATE_GUEST_MEMFD, 0xC040_AED4),
        ("KVM_PRE_FAULT_MEMORY", CKVM_KVM_PRE_FAULT_MEMORY, 0xC040_AED5),
    ]

    @Test(arguments: generic.map { $0.0 }.indices)
    func genericRequest(index: Int) {
        let (name, actual, expected) = Self.generic[index]
        #expect(actual == expected, "\(name)")
    }

    #if arch(x86_64)
    @Test func x86Requests() {
        #expect(CKVM_KVM_GET_SUPPORTED_CPUID == 0xC008_AE05)
        #expect(CKVM_KVM_SET_TSS_ADDR == 0xAE47)
        #expect(CKVM_KVM_SET_IDENTITY_MAP_ADDR == 0x4008_AE48)
        #expect(CKVM_KVM_MEMORY_ENCRYPT_OP == 0xC008_AEBA)
        #expect(CKVM_KVM_MEMORY_ENCRYPT_REG_REGION == 0x8010_AEBB)
        #expect(CKVM_KVM_MEMORY_ENCRYPT_UNREG_REGION == 0x8010_AEBC)
        #expect(CKVM_KVM_GET_REGS == 0x8090_AE81)
        #expect(CKVM_KVM_SET_REGS == 0x4090_AE82)
        #expect(CKVM_KVM_GET_SREGS == 0x8138_AE83)
        #expect(CKVM_KVM_SET_SREGS == 0x4138_AE84)
        #expect(CKVM_KVM_SET_CPUID2 == 0x4008_AE90)
    }

    @Test func layouts() {
        #expect(MemoryLayout<ckvm_userspace_memory_region2>.size == 160)
        #expect(MemoryLayout<ckvm_run>.size == 2352)
        #expect(MemoryLayout<ckvm_regs>.size == 144)
        #expect(MemoryLayout<ckvm_sregs>.size == 312)
        #expect(MemoryLayout<ckvm_cpuid_entry2>.size == 40)
        #expect(MemoryLayout<ckvm_tdx_init_vm>.size == 264)
        #expect(MemoryLayout<ckvm_sev_snp_launch_finish>.size == 88)
    }
    #endif
}
