import SystemPackage

/// A failed call into the kernel: which operation failed and the `errno` it returned.
///
/// `operation` is the ioctl or system call as the kernel spells it (`KVM_CREATE_VM`,
/// `KVM_SET_USER_MEMORY_REGION2`, `mmap`, `fallocate`, `open /dev/kvm`), so a message can be matched
/// against the plan step and against `KVM_UAPI.md`. The description is the user-facing message:
///
///     KVM_CREATE_VM failed: EINVAL (Invalid argument)
///     KVM_SET_USER_MEMORY_REGION2 (slot 0) failed: EEXIST (File exists)
public struct KVMError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kernel call that failed: one case per kind of call the KVM module makes.
    public enum Operation: Hashable, Sendable, CustomStringConvertible {
        /// An ioctl of the uapi table (`KVM_CREATE_VM`, `KVM_MEMORY_ENCRYPT_OP` …).
        case ioctl(KVMIoctl)
        /// `open(2)` of a device node.
        case open(path: String)
        case memfdCreate
        case ftruncate
        case fallocate
        case mmap
        case munmap
        case madvise
        /// `uname(2)`, for the host probe.
        case uname

        /// The kernel's spelling: `KVM_SET_USER_MEMORY_REGION2`, `open /dev/kvm`, `mmap`.
        public var description: String {
            switch self {
            case .ioctl(let ioctl): ioctl.rawValue
            case .open(let path): "open \(path)"
            case .memfdCreate: "memfd_create"
            case .ftruncate: "ftruncate"
            case .fallocate: "fallocate"
            case .mmap: "mmap"
            case .munmap: "munmap"
            case .madvise: "madvise"
            case .uname: "uname"
            }
        }
    }

    /// The ioctl or system call that failed.
    public var operation: Operation
    /// The error number the kernel returned.
    public var errno: Errno
    /// Optional context such as `slot 0`, printed after the operation.
    public var detail: String?
    /// The firmware's error code for `KVM_MEMORY_ENCRYPT_OP` sub-commands: `kvm_sev_cmd.error`
    /// (SEV) or `kvm_tdx_cmd.hw_error` (TDX), when it was non-zero.
    public var firmwareError: UInt64?

    public init(operation: Operation, errno: Errno, detail: String? = nil, firmwareError: UInt64? = nil) {
        self.operation = operation
        self.errno = errno
        self.detail = detail
        self.firmwareError = firmwareError
    }

    /// `operation (detail) failed: ENAME (strerror text)[, firmware error 0x…]`.
    public var description: String {
        var text = operation.description
        if let detail { text += " (\(detail))" }
        text += " failed: \(KVMError.name(of: errno)) (\(errno.description))"
        if let firmwareError { text += ", firmware error 0x\(String(firmwareError, radix: 16))" }
        return text
    }

    /// True when opening the KVM device failed because it does not exist (`ENOENT`, or `ENXIO` /
    /// `ENODEV` for a device node without a driver): the kernel has no KVM, or the module is not loaded.
    public var isDeviceMissing: Bool {
        errno == .noSuchFileOrDirectory || errno == .noSuchAddressOrDevice || errno == .operationNotSupportedByDevice
    }

    /// True when the call was refused for lack of permission (`EACCES` or `EPERM`), e.g. `/dev/kvm`
    /// is root-only or the user is not in the `kvm` group.
    public var isPermissionDenied: Bool {
        errno == .permissionDenied || errno == .notPermitted
    }

    /// The symbolic name of an error number as `<errno.h>` spells it (`EINVAL`, `EEXIST`, `ENOTTY`,
    /// `EFAULT`, …), or `errno N` for numbers without a name. Linux numbering (x86_64 and arm64
    /// share the generic table).
    public static func name(of errno: Errno) -> String {
        errnoNames[errno.rawValue] ?? "errno \(errno.rawValue)"
    }

    /// Linux `asm-generic/errno-base.h` + `errno.h`, and the kernel-internal ENOTSUPP that KVM can
    /// leak to userspace.
    private static let errnoNames: [CInt: String] = [
        1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 8: "ENOEXEC",
        9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 15: "ENOTBLK",
        16: "EBUSY", 17: "EEXIST", 18: "EXDEV", 19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL",
        23: "ENFILE", 24: "EMFILE", 25: "ENOTTY", 26: "ETXTBSY", 27: "EFBIG", 28: "ENOSPC", 29: "ESPIPE",
        30: "EROFS", 31: "EMLINK", 32: "EPIPE", 33: "EDOM", 34: "ERANGE", 35: "EDEADLK",
        36: "ENAMETOOLONG", 37: "ENOLCK", 38: "ENOSYS", 39: "ENOTEMPTY", 40: "ELOOP", 42: "ENOMSG",
        43: "EIDRM", 61: "ENODATA", 62: "ETIME", 71: "EPROTO", 74: "EBADMSG", 75: "EOVERFLOW",
        77: "EBADFD", 84: "EILSEQ", 88: "ENOTSOCK", 95: "EOPNOTSUPP", 105: "ENOBUFS", 110: "ETIMEDOUT",
        114: "EALREADY", 115: "EINPROGRESS", 116: "ESTALE", 121: "EREMOTEIO", 125: "ECANCELED",
        126: "ENOKEY", 127: "EKEYEXPIRED", 128: "EKEYREVOKED", 129: "EKEYREJECTED", 130: "EOWNERDEAD",
        131: "ENOTRECOVERABLE", 132: "ERFKILL", 133: "EHWPOISON", 524: "ENOTSUPP",
    ]
}
