#if arch(x86_64)
internal import CKVM

// The SEV-SNP launch commands: `KVM_MEMORY_ENCRYPT_OP` on the VM fd with a `struct kvm_sev_cmd` whose `data`
// points at the command's own struct. Layouts as arch/x86/include/uapi/asm/kvm.h defines them (lines of the
// kvm-x86/linux tree, 2026; identical in 7.1.5), pinned field by field in ckvm.c's static asserts:
//
//   struct kvm_sev_cmd                kvm.h:753   24 B  id @0 u32, pad0 @4, data @8 u64, error @16 u32 (out: the
//                                                       firmware's error), sev_fd @20 u32
//   struct kvm_sev_init               kvm.h:761   48 B  vmsa_features @0 u64, flags @8 u32 (must be 0),
//                                                       ghcb_version @12 u16, pad1 @14, pad2[8] @16
//   struct kvm_sev_snp_launch_start   kvm.h:877   64 B  policy @0 u64, gosvw[16] @8, flags @24 u16 (must be 0),
//                                                       pad0[6] @26, pad1[4] @32
//   struct kvm_sev_snp_launch_update  kvm.h:893   64 B  gfn_start @0, uaddr @8, len @16 (u64, in/out), type @24 u8,
//                                                       pad0 @25, flags @26 u16 (must be 0), pad1 @28 u32, pad2[4] @32
//   struct kvm_sev_snp_launch_finish  kvm.h:908   88 B  id_block_uaddr @0, id_auth_uaddr @8, id_block_en @16,
//                                                       auth_key_en @17, vcek_disabled @18, host_data[32] @19,
//                                                       pad0[3] @51, flags @54 u16 (must be 0), pad1[4] @56
//
// Command ids (enum sev_cmd_id, kvm.h:709): KVM_SEV_INIT2 22 (kvm.h:742), KVM_SEV_SNP_LAUNCH_START 100
// (kvm.h:745), _UPDATE 101, _FINISH 102. Page types KVM_SEV_SNP_PAGE_TYPE_* kvm.h:887-891; ID block 96 bytes and
// ID auth 4096 bytes (kvm.h:904-905). KVM copies `struct kvm_sev_cmd` back after every command, failed or not, so
// `error` is the firmware's code on failure (sev.c `sev_mem_enc_ioctl`).

/// The part of a `KVM_SEV_SNP_LAUNCH_UPDATE` still to do (`struct kvm_sev_snp_launch_update`'s in/out fields).
/// KVM may encrypt only part of the range in one call and writes the remainder back: `gfn_start` and `uaddr`
/// advance, `len` shrinks (`uaddr` stays for ZERO pages), sev.c `snp_launch_update`.
public struct SNPLaunchRange: Hashable, Sendable {
    /// The first guest frame (GPA >> 12).
    public var gfnStart: UInt64
    /// The host address of the source bytes, 4 KiB aligned (ignored for ZERO pages).
    public var uaddr: UInt64
    /// Bytes still to do, a multiple of 4 KiB; 0 when done.
    public var len: UInt64
    /// `KVM_SEV_SNP_PAGE_TYPE_*`: NORMAL 1, ZERO 3, UNMEASURED 4, SECRETS 5, CPUID 6.
    public var type: UInt8

    public init(gfnStart: UInt64, uaddr: UInt64, len: UInt64, type: UInt8) {
        (self.gfnStart, self.uaddr, self.len, self.type) = (gfnStart, uaddr, len, type)
    }

    /// `KVM_SEV_SNP_PAGE_TYPE_ZERO`: KVM leaves `uaddr` alone for it.
    public static let zeroPageType = UInt8(CKVM_KVM_SEV_SNP_PAGE_TYPE_ZERO)
}

extension VM {
    /// Initialises the VM's SEV context: `vmsaFeatures` (0 for plain SEV) and the highest GHCB protocol version
    /// the guest may use (SNP: at least 2; 0 means 2). Before any vCPU exists (else EINVAL).
    ///
    /// The corresponding ioctl is `KVM_MEMORY_ENCRYPT_OP` with `KVM_SEV_INIT2` (`struct kvm_sev_init`).
    public func sevInit2(vmsaFeatures: UInt64, ghcbVersion: UInt16, sev: SEVDevice) throws(KVMError) {
        var data = ckvm_sev_init()
        data.vmsa_features = vmsaFeatures
        data.ghcb_version = ghcbVersion
        try sevCommand(.init2, payload: &data, sev: sev)
    }

    /// Creates the SNP guest context with the guest `policy` (bit 17 must be one) and the hypervisor's 16 bytes
    /// of guest-OS-visible workarounds (`gosvw`, zero by default).
    ///
    /// The corresponding ioctl is `KVM_MEMORY_ENCRYPT_OP` with `KVM_SEV_SNP_LAUNCH_START`
    /// (`struct kvm_sev_snp_launch_start`).
    public func snpLaunchStart(policy: UInt64, gosvw: [UInt8] = [], sev: SEVDevice) throws(KVMError) {
        precondition(gosvw.count <= 16, "gosvw is 16 bytes")
        var data = ckvm_sev_snp_launch_start()
        data.policy = policy
        withUnsafeMutableBytes(of: &data.gosvw) { field in
            // SAFETY: at most 16 bytes (checked above) into the 16-byte `gosvw` array of a local struct.
            field.copyBytes(from: gosvw)
        }
        try sevCommand(.snpLaunchStart, payload: &data, sev: sev)
    }

    /// One `KVM_SEV_SNP_LAUNCH_UPDATE` call: encrypts (and measures, unless UNMEASURED) guest memory from
    /// `range`, and returns the part KVM left to do, which may be all of it. Call again with the result until
    /// its `len` is 0; the launcher bounds those calls (`PartialProgress`). The range must already be private
    /// (KVM_SET_MEMORY_ATTRIBUTES) in a guest_memfd slot.
    ///
    /// The corresponding ioctl is `KVM_MEMORY_ENCRYPT_OP` with `KVM_SEV_SNP_LAUNCH_UPDATE`
    /// (`struct kvm_sev_snp_launch_update`).
    public func snpLaunchUpdate(_ range: SNPLaunchRange, sev: SEVDevice) throws(KVMError) -> SNPLaunchRange {
        var data = ckvm_sev_snp_launch_update()
        data.gfn_start = range.gfnStart
        data.uaddr = range.uaddr
        data.len = range.len
        data.type = range.type
        try sevCommand(.snpLaunchUpdate, payload: &data, sev: sev)
        return SNPLaunchRange(gfnStart: data.gfn_start, uaddr: data.uaddr, len: data.len, type: range.type)
    }

    /// Finishes the launch: KVM encrypts and measures each vCPU's VMSA (from the registers set so far), then the
    /// firmware seals the measurement with the 32 bytes of `hostData`. With an ID block (96 bytes) and its ID
    /// authentication structure (4096 bytes), `id_block_en` is set and both are passed by address.
    ///
    /// The corresponding ioctl is `KVM_MEMORY_ENCRYPT_OP` with `KVM_SEV_SNP_LAUNCH_FINISH`
    /// (`struct kvm_sev_snp_launch_finish`).
    public func snpLaunchFinish(
        hostData: [UInt8], idBlock: [UInt8]? = nil, idAuth: [UInt8]? = nil, sev: SEVDevice
    ) throws(KVMError) {
        let blockSize = Int(CKVM_KVM_SEV_SNP_ID_BLOCK_SIZE)
        let authSize = Int(CKVM_KVM_SEV_SNP_ID_AUTH_SIZE)
        precondition(hostData.count == Int(CKVM_KVM_SEV_SNP_FINISH_DATA_SIZE), "host data is 32 bytes")
        precondition((idBlock == nil) == (idAuth == nil), "an ID block comes with its ID authentication structure")
        var data = ckvm_sev_snp_launch_finish()
        withUnsafeMutableBytes(of: &data.host_data) { field in
            // SAFETY: exactly 32 bytes (checked above) into the 32-byte `host_data` array of a local struct.
            field.copyBytes(from: hostData)
        }
        guard let idBlock, let idAuth else {
            try sevCommand(.snpLaunchFinish, payload: &data, sev: sev)
            return
        }
        precondition(idBlock.count == blockSize && idAuth.count == authSize, "ID block 96 bytes, ID auth 4096 bytes")
        // SAFETY: one allocation holds both blobs for the duration of the call (KVM copies them in), freed after it;
        // the block fills its first 96 bytes and the auth structure the 4096 after them (sizes checked above), and
        // their addresses go into the struct only for the call.
        let blobs = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize + authSize, alignment: 8)
        defer { blobs.deallocate() }
        UnsafeMutableRawBufferPointer(rebasing: blobs[0..<blockSize]).copyBytes(from: idBlock)
        UnsafeMutableRawBufferPointer(rebasing: blobs[blockSize...]).copyBytes(from: idAuth)
        data.id_block_uaddr = UInt64(UInt(bitPattern: blobs.baseAddress))
        data.id_auth_uaddr = UInt64(UInt(bitPattern: blobs.baseAddress?.advanced(by: blockSize)))
        data.id_block_en = 1
        try sevCommand(.snpLaunchFinish, payload: &data, sev: sev)
    }

    /// `KVM_MEMORY_ENCRYPT_OP` with `struct kvm_sev_cmd` { `command`, data = &payload, sev_fd }; a failure carries
    /// the firmware's `error`.
    private func sevCommand<Payload>(_ command: SEVCommand, payload: inout Payload, sev: SEVDevice) throws(KVMError) {
        // SAFETY: `payload` is a trivial C struct owned by the caller; its address goes into `data` only for the
        // duration of the ioctl, and KVM reads (and writes back) exactly its size.
        try withUnsafeMutableBytes(of: &payload) { (bytes) throws(KVMError) in
            var request = ckvm_sev_cmd(
                id: command.rawValue, pad0: 0, data: UInt64(UInt(bitPattern: bytes.baseAddress)), error: 0,
                sev_fd: UInt32(bitPattern: sev.rawDescriptor))
            do throws(KVMError) {
                _ = try Syscalls.memoryEncryptOp(rawDescriptor, command: &request, name: command.description, payload: bytes)
            } catch {
                throw error.withFirmwareError(UInt64(request.error))
            }
        }
    }
}
#endif
