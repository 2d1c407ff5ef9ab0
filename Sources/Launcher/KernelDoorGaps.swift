#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import KVM
import SystemPackage

/// System calls the launcher needs that the KVM module (the one door into the kernel, STYLE.md rule 8)
/// does not wrap yet. Each one is a gap to close in `KVM/Syscalls.swift`; nothing else in the launcher
/// calls the kernel for guest memory or KVM.
enum KernelDoorGaps {
    // TODO(kernel door): `Memfd` creates and sizes a memfd in one call (`Memfd(name:size:)`), but a plan's
    // `memfd_create` and `ftruncate` are separate steps, so the launcher must resize an existing memfd.
    // Move this into the KVM module as `Memfd.setSize(_:)` (and let `Memfd.size` follow it).
    /// `ftruncate(2)` of a memfd created by an earlier step.
    static func setFileSize(_ memfd: Memfd, size: UInt64) throws(KVMError) {
        guard let length = off_t(exactly: size) else {
            throw KVMError(operation: "ftruncate", errno: .fileTooLarge)
        }
        while ftruncate(memfd.rawDescriptor, length) != 0 {
            let error = Errno(rawValue: errno)
            if error == .interrupted { continue }
            throw KVMError(operation: "ftruncate", errno: error)
        }
    }
}
