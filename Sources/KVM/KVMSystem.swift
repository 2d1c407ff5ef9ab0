internal import CKVM

/// The KVM subsystem: an open `/dev/kvm`. Creates VMs and answers system-wide questions.
/// The descriptor is closed when the object (and every `VM` created from it) is gone.
///
/// ```swift
/// let kvm = try KVMSystem()
/// precondition(try kvm.apiVersion() == 12)
/// let vm = try kvm.createVM(type: .default)
/// ```
public final class KVMSystem: Sendable {
    /// The device path KVM lives at.
    public static let defaultPath = "/dev/kvm"

    /// The path this object opened.
    public let path: String
    /// The descriptor number (read-only; owned by this object).
    public let rawDescriptor: CInt

    /// Opens the KVM device read-write (`O_RDWR | O_CLOEXEC`).
    ///
    /// Fails with operation `open /dev/kvm`; `KVMError.isDeviceMissing` (ENOENT) and
    /// `KVMError.isPermissionDenied` (EACCES) tell the two common host problems apart.
    public init(path: String = KVMSystem.defaultPath) throws(KVMError) {
        self.rawDescriptor = try Syscalls.openReadWrite(path)
        self.path = path
    }

    /// Adopts `descriptor` as the KVM system fd; for tests (deliberately bad descriptors) and for
    /// callers that received `/dev/kvm` from elsewhere. The object closes it.
    package init(adoptingDescriptor descriptor: CInt, path: String = KVMSystem.defaultPath) {
        self.rawDescriptor = descriptor
        self.path = path
    }

    deinit { Syscalls.closeIgnoringErrors(rawDescriptor) }

    /// The KVM API version; every supported kernel reports 12.
    ///
    /// The corresponding ioctl is `KVM_GET_API_VERSION`.
    public func apiVersion() throws(KVMError) -> Int {
        try Syscalls.ioctl(rawDescriptor, .getAPIVersion)
    }

    /// The system-wide value of a capability (0 = unsupported; some capabilities return a count
    /// or a bitmap). Prefer `VM.checkExtension` for VM-dependent answers.
    ///
    /// The corresponding ioctl is `KVM_CHECK_EXTENSION`.
    public func checkExtension(_ capability: KVMCapability) throws(KVMError) -> Int {
        try Syscalls.ioctl(
            rawDescriptor, .checkExtension, value: UInt(capability.rawValue),
            detail: capability.name)
    }

    /// The size of the region to mmap from a vCPU fd (`kvm_run` plus the pages that follow it).
    ///
    /// The corresponding ioctl is `KVM_GET_VCPU_MMAP_SIZE`.
    public func vcpuMmapSize() throws(KVMError) -> Int {
        try Syscalls.ioctl(rawDescriptor, .getVCPUMmapSize)
    }

    /// Creates a VM of `type`. On x86 the type's bit must be set in `KVM_CAP_VM_TYPES`, else EINVAL.
    ///
    /// The corresponding ioctl is `KVM_CREATE_VM`.
    public func createVM(type: VMType = .default) throws(KVMError) -> VM {
        let fd = try Syscalls.ioctl(
            rawDescriptor, .createVM, value: type.rawValue, detail: type.kernelName)
        return VM(descriptor: CInt(fd), type: type, system: self)
    }

    #if arch(x86_64)
    /// The CPUID leaves KVM can virtualise on this host, to filter and pass to `VCPU.setCPUID2`.
    ///
    /// The corresponding ioctl is `KVM_GET_SUPPORTED_CPUID`.
    public func supportedCPUID() throws(KVMError) -> [CPUIDEntry] {
        var capacity = Int(CKVM_KVM_MAX_CPUID_ENTRIES)
        while true {
            let buffer = CPUIDBuffer(capacity: capacity)
            do {
                _ = try Syscalls.ioctl(
                    rawDescriptor, .getSupportedCPUID, buffer: buffer.bytes)
                return buffer.entries
            } catch  where error.errno == .argListTooLong && capacity < 16 * Int(CKVM_KVM_MAX_CPUID_ENTRIES) {
                // E2BIG: more entries than `capacity`; KVM's own limit grew. Try a larger buffer.
                capacity *= 2
            }
        }
    }
    #endif
}
