#if arch(x86_64)
internal import CKVM

// The TDX launch commands: `KVM_MEMORY_ENCRYPT_OP` with a `struct kvm_tdx_cmd`, on the VM fd (CAPABILITIES,
// INIT_VM, FINALIZE_VM) or on a vCPU fd (INIT_VCPU, INIT_MEM_REGION, GET_CPUID; VCPU+TDX.swift). Layouts as
// arch/x86/include/uapi/asm/kvm.h defines them (lines of the kvm-x86/linux tree, 2026; identical in 7.1.5),
// pinned in ckvm.c's static asserts:
//
//   struct kvm_tdx_cmd               kvm.h:987    24 B  id @0 u32, flags @4 u32, data @8 u64 (immediate or pointer),
//                                                       hw_error @16 u64 (out: the SEAMCALL status; must be 0 on
//                                                       input, else EINVAL: tdx.c `tdx_get_cmd`)
//   struct kvm_tdx_capabilities      kvm.h:1005   2056 B + entries: supported_attrs @0, supported_xfam @8,
//                                                       kernel/user_tdvmcallinfo_1_r11/_r12 @16..@40, reserved[250]
//                                                       @48, struct kvm_cpuid2 cpuid @2048 (nent, padding, entries[]
//                                                       of 40-byte struct kvm_cpuid_entry2, kvm.h:251/267)
//   struct kvm_tdx_init_vm           kvm.h:1020   264 B + entries: attributes @0, xfam @8, mrconfigid[6] @16,
//                                                       mrowner[6] @64, mrownerconfig[6] @112, reserved[12] @160
//                                                       (must be 0), struct kvm_cpuid2 cpuid @256 (padding 0)
//   struct kvm_tdx_init_mem_region   kvm.h:1045   24 B  source_addr @0, gpa @8, nr_pages @16 (all in/out)
//
// Command ids (enum kvm_tdx_cmd_id, kvm.h:976): CAPABILITIES 0, INIT_VM 1, INIT_VCPU 2, INIT_MEM_REGION 3,
// FINALIZE_VM 4, GET_CPUID 5. KVM_TDX_MEASURE_MEMORY_REGION = bit 0 of `flags` (kvm.h:1043).

/// What `KVM_TDX_CAPABILITIES` reports: the TD attributes and XFAM bits a TD may set, the TDVMCALLs KVM and
/// userspace handle, and the CPUID leaves (and bits) the TDX module lets the VMM configure.
public struct TDXCapabilities: Hashable, Sendable {
    public var supportedAttributes: UInt64
    public var supportedXFAM: UInt64
    public var kernelTDVMCallInfo1R11: UInt64
    public var userTDVMCallInfo1R11: UInt64
    public var kernelTDVMCallInfo1R12: UInt64
    public var userTDVMCallInfo1R12: UInt64
    /// One entry per configurable leaf/subleaf; its registers are the configurable bits.
    public var configurableCPUID: [CPUIDEntry]

    public init(
        supportedAttributes: UInt64 = 0, supportedXFAM: UInt64 = 0, kernelTDVMCallInfo1R11: UInt64 = 0,
        userTDVMCallInfo1R11: UInt64 = 0, kernelTDVMCallInfo1R12: UInt64 = 0, userTDVMCallInfo1R12: UInt64 = 0,
        configurableCPUID: [CPUIDEntry] = []
    ) {
        (self.supportedAttributes, self.supportedXFAM) = (supportedAttributes, supportedXFAM)
        (self.kernelTDVMCallInfo1R11, self.userTDVMCallInfo1R11) = (kernelTDVMCallInfo1R11, userTDVMCallInfo1R11)
        (self.kernelTDVMCallInfo1R12, self.userTDVMCallInfo1R12) = (kernelTDVMCallInfo1R12, userTDVMCallInfo1R12)
        self.configurableCPUID = configurableCPUID
    }
}

/// The arguments of `KVM_TDX_INIT_VM` (`struct kvm_tdx_init_vm`).
public struct TDXInitVMParameters: Hashable, Sendable {
    /// TD attributes; a subset of `TDXCapabilities.supportedAttributes`, else EINVAL.
    public var attributes: UInt64
    /// Extended features (XSAVE) the TD may use; a subset of `supportedXFAM`, else EINVAL.
    public var xfam: UInt64
    /// 48 bytes each (SHA-384 digests), measured into the TD report.
    public var mrconfigid: [UInt8]
    public var mrowner: [UInt8]
    public var mrownerconfig: [UInt8]
    /// The TD's CPUID: configurable leaves only (others are EINVAL), with the GPA width (48 or 52) in
    /// 0x80000008 EAX[23:16]; at most KVM_MAX_CPUID_ENTRIES (256), else E2BIG.
    public var cpuid: [CPUIDEntry]

    public init(
        attributes: UInt64, xfam: UInt64, mrconfigid: [UInt8] = [UInt8](repeating: 0, count: 48),
        mrowner: [UInt8] = [UInt8](repeating: 0, count: 48), mrownerconfig: [UInt8] = [UInt8](repeating: 0, count: 48),
        cpuid: [CPUIDEntry]
    ) {
        (self.attributes, self.xfam, self.cpuid) = (attributes, xfam, cpuid)
        (self.mrconfigid, self.mrowner, self.mrownerconfig) = (mrconfigid, mrowner, mrownerconfig)
    }
}

/// The part of a `KVM_TDX_INIT_MEM_REGION` still to do (`struct kvm_tdx_init_mem_region`, all in/out): KVM adds
/// pages one by one and writes the remainder back, also when a signal interrupts it (tdx.c
/// `tdx_vcpu_init_mem_region`).
public struct TDXMemRegion: Hashable, Sendable {
    /// Host address of the source bytes, page aligned and non-zero.
    public var sourceAddr: UInt64
    /// Guest-physical address, page aligned, private (shared bit clear).
    public var gpa: UInt64
    /// 4 KiB pages still to add; 0 when done.
    public var nrPages: UInt64

    public init(sourceAddr: UInt64, gpa: UInt64, nrPages: UInt64) {
        (self.sourceAddr, self.gpa, self.nrPages) = (sourceAddr, gpa, nrPages)
    }
}

extension VM {
    /// Reads what the TDX module supports (`flags` 0). KVM writes `KVM_MAX_CPUID_ENTRIES` entries at most; a
    /// smaller buffer than the module's leaf count is E2BIG.
    ///
    /// The corresponding ioctl is `KVM_MEMORY_ENCRYPT_OP` with `KVM_TDX_CAPABILITIES` (`struct kvm_tdx_capabilities`).
    public func tdxCapabilities() throws(KVMError) -> TDXCapabilities {
        let header = MemoryLayout<ckvm_tdx_capabilities>.size - Int(CKVM_CPUID2_ENTRIES_OFFSET)
        let buffer = CPUIDBuffer(headerSize: header, capacity: Int(CKVM_KVM_MAX_CPUID_ENTRIES))
        defer { withExtendedLifetime(buffer) {} }
        try TDXRequest.issue(rawDescriptor, .capabilities, payload: buffer.bytes)
        // SAFETY: the allocation starts with the 2056-byte fixed part of `struct kvm_tdx_capabilities` (header
        // plus the cpuid header), 8-byte aligned; KVM wrote it.
        let caps = buffer.pointer.load(as: ckvm_tdx_capabilities.self)
        return TDXCapabilities(
            supportedAttributes: caps.supported_attrs, supportedXFAM: caps.supported_xfam,
            kernelTDVMCallInfo1R11: caps.kernel_tdvmcallinfo_1_r11, userTDVMCallInfo1R11: caps.user_tdvmcallinfo_1_r11,
            kernelTDVMCallInfo1R12: caps.kernel_tdvmcallinfo_1_r12, userTDVMCallInfo1R12: caps.user_tdvmcallinfo_1_r12,
            configurableCPUID: buffer.entries)
    }

    /// Initialises the TD (TDH.MNG.CREATE … TDH.MNG.INIT): before any vCPU (else EBUSY), once (else EINVAL). An
    /// operand the TDX module rejects is EINVAL with the SEAMCALL status in `KVMError.firmwareError`.
    ///
    /// The corresponding ioctl is `KVM_MEMORY_ENCRYPT_OP` with `KVM_TDX_INIT_VM` (`struct kvm_tdx_init_vm`).
    public func tdxInitVM(_ parameters: TDXInitVMParameters) throws(KVMError) {
        let size = TDXMeasurementSize.bytes
        precondition(
            parameters.mrconfigid.count == size && parameters.mrowner.count == size && parameters.mrownerconfig.count == size,
            "the measurement registers are 48 bytes each")
        let header = MemoryLayout<ckvm_tdx_init_vm>.size - Int(CKVM_CPUID2_ENTRIES_OFFSET)
        let buffer = CPUIDBuffer(headerSize: header, entries: parameters.cpuid)
        defer { withExtendedLifetime(buffer) {} }
        var fixed = ckvm_tdx_init_vm()
        fixed.attributes = parameters.attributes
        fixed.xfam = parameters.xfam
        // SAFETY: each copy puts 48 bytes (checked above) into a 48-byte array of a local struct.
        withUnsafeMutableBytes(of: &fixed.mrconfigid) { $0.copyBytes(from: parameters.mrconfigid) }
        withUnsafeMutableBytes(of: &fixed.mrowner) { $0.copyBytes(from: parameters.mrowner) }
        withUnsafeMutableBytes(of: &fixed.mrownerconfig) { $0.copyBytes(from: parameters.mrownerconfig) }
        fixed.cpuid_nent = UInt32(parameters.cpuid.count)
        // SAFETY: the allocation starts with room for the 264-byte fixed part (header plus cpuid header), 8-byte
        // aligned; the entries the buffer wrote follow it.
        buffer.pointer.storeBytes(of: fixed, as: ckvm_tdx_init_vm.self)
        try TDXRequest.issue(rawDescriptor, .initVM, payload: buffer.bytes)
    }

    /// Finalises the TD's measurement (TDH.MR.FINALIZE): after it, no more INIT_MEM_REGION, and the vCPUs may run.
    /// EBUSY on contention (retry), EINVAL before INIT_VM or twice.
    ///
    /// The corresponding ioctl is `KVM_MEMORY_ENCRYPT_OP` with `KVM_TDX_FINALIZE_VM`.
    public func tdxFinalizeVM() throws(KVMError) {
        try TDXRequest.issue(rawDescriptor, .finalizeVM)
    }
}

/// The byte size of a TD measurement register (a SHA-384 digest, 6 × u64 in the uapi struct).
enum TDXMeasurementSize {
    static let bytes = MemoryLayout.size(ofValue: ckvm_tdx_init_vm().mrconfigid)
}

/// `KVM_MEMORY_ENCRYPT_OP` with `struct kvm_tdx_cmd`, on a VM or vCPU fd.
enum TDXRequest {
    /// `data` is `payload`'s address, or `immediate` without a payload; `hw_error` goes in as 0 (KVM refuses
    /// anything else) and comes back in `KVMError.firmwareError` on failure.
    static func issue(
        _ fd: CInt, _ command: TDXCommand, flags: UInt32 = 0, immediate: UInt64 = 0,
        payload: UnsafeMutableRawBufferPointer? = nil
    ) throws(KVMError) {
        let data = payload.map { UInt64(UInt(bitPattern: $0.baseAddress)) } ?? immediate
        var request = ckvm_tdx_cmd(id: command.rawValue, flags: flags, data: data, hw_error: 0)
        do {
            _ = try Syscalls.memoryEncryptOp(fd, command: &request, name: command.description, payload: payload)
        } catch {
            throw error.withFirmwareError(request.hw_error)
        }
    }
}
#endif
