/// An open `/dev/sev`: the AMD Secure Processor's device. Every SEV and SEV-SNP launch command names it in
/// `struct kvm_sev_cmd.sev_fd`, and KVM issues the firmware commands through it (sev.c: `__sev_issue_cmd(argp->sev_fd, …)`).
/// The descriptor is closed when the object is gone.
public final class SEVDevice: Sendable {
    /// The device path of the AMD Secure Processor's SEV interface.
    public static let defaultPath = "/dev/sev"

    /// The path this object opened.
    public let path: String
    /// The descriptor number (read-only; owned by this object).
    public let rawDescriptor: CInt

    /// Opens the device read-write (`O_RDWR | O_CLOEXEC`), like `/dev/kvm`.
    ///
    /// Fails with operation `open /dev/sev`; `KVMError.isDeviceMissing` (ENOENT: no SEV firmware driver, e.g. a
    /// host without an AMD Secure Processor) and `KVMError.isPermissionDenied` tell the common problems apart.
    public init(path: String = SEVDevice.defaultPath) throws(KVMError) {
        self.rawDescriptor = try Syscalls.openReadWrite(path)
        self.path = path
    }

    /// Adopts `descriptor` as the SEV device; for tests (deliberately bad descriptors) and for callers that
    /// received `/dev/sev` from elsewhere. The object closes it.
    package init(adoptingDescriptor descriptor: CInt, path: String = SEVDevice.defaultPath) {
        self.rawDescriptor = descriptor
        self.path = path
    }

    deinit { Syscalls.closeIgnoringErrors(rawDescriptor) }
}
