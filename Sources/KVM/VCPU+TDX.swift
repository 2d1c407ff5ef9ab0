#if arch(x86_64)
internal import CKVM

// The TDX vCPU sub-commands (layouts and sources: VM+TDX.swift). All of them fail with EINVAL before
// KVM_TDX_INIT_VM and after KVM_TDX_FINALIZE_VM (tdx.c `tdx_vcpu_ioctl`, `tdx_vcpu_unlocked_ioctl`).

extension VCPU {
    /// Creates the vCPU's TDX state (TDH.VP.CREATE … TDH.VP.INIT) with `rcx` as the guest's initial RCX. KVM sets
    /// APIC_BASE to x2APIC mode first, which fails unless the vCPU's CPUID (KVM_SET_CPUID2) has x2APIC: so
    /// KVM_TDX_GET_CPUID → KVM_SET_CPUID2 → KVM_TDX_INIT_VCPU (tdx.c `tdx_vcpu_init`).
    ///
    /// The corresponding ioctl is `KVM_MEMORY_ENCRYPT_OP` (vCPU fd) with `KVM_TDX_INIT_VCPU` (data = RCX).
    public func tdxInitVCPU(rcx: UInt64 = 0) throws(KVMError) {
        try TDXRequest.issue(rawDescriptor, .initVCPU, immediate: rcx)
    }

    /// The CPUID the TDX module gives this vCPU's TD (every readable leaf and subleaf, at most
    /// KVM_MAX_CPUID_ENTRIES), to pass to `setCPUID2`.
    ///
    /// The corresponding ioctl is `KVM_MEMORY_ENCRYPT_OP` (vCPU fd) with `KVM_TDX_GET_CPUID` (`struct kvm_cpuid2`).
    public func tdxGetCPUID() throws(KVMError) -> [CPUIDEntry] {
        let buffer = CPUIDBuffer(capacity: Int(CKVM_KVM_MAX_CPUID_ENTRIES))
        try TDXRequest.issue(rawDescriptor, .getCPUID, payload: buffer.bytes)
        return buffer.entries
    }

    /// One `KVM_TDX_INIT_MEM_REGION` call: copies pages from `region.sourceAddr` into the TD's private memory at
    /// `region.gpa` (and extends the TD measurement with them when `measure`), and returns the part KVM left to
    /// do, which may be all of it. Call again with the result until its `nrPages` is 0; the launcher bounds those
    /// calls. After `tdxInitVCPU`, before `VM.tdxFinalizeVM`; the range must be private in a guest_memfd slot.
    ///
    /// The corresponding ioctl is `KVM_MEMORY_ENCRYPT_OP` (vCPU fd) with `KVM_TDX_INIT_MEM_REGION`
    /// (`struct kvm_tdx_init_mem_region`, flags `KVM_TDX_MEASURE_MEMORY_REGION`).
    public func tdxInitMemRegion(_ region: TDXMemRegion, measure: Bool) throws(KVMError) -> TDXMemRegion {
        var data = ckvm_tdx_init_mem_region(source_addr: region.sourceAddr, gpa: region.gpa, nr_pages: region.nrPages)
        let flags: UInt32 = measure ? UInt32(CKVM_KVM_TDX_MEASURE_MEMORY_REGION) : 0
        // SAFETY: `data` is a local 24-byte C struct; its address goes into `data` only for the ioctl, and KVM
        // reads and writes back exactly its size.
        try withUnsafeMutableBytes(of: &data) { (bytes) throws(KVMError) in
            try TDXRequest.issue(rawDescriptor, .initMemRegion, flags: flags, payload: bytes)
        }
        return TDXMemRegion(sourceAddr: data.source_addr, gpa: data.gpa, nrPages: data.nr_pages)
    }
}
#endif
