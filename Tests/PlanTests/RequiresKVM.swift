#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Testing

/// Whether `/dev/kvm` opens read-write here: the condition of every test that needs real KVM.
enum KVMAvailability {
    static let deviceOpensReadWrite: Bool = {
        let fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }()
}

extension Trait where Self == ConditionTrait {
    /// Runs the test only where `/dev/kvm` opens read-write (STYLE.md rule 10).
    static var requiresKVM: Self {
        .enabled(if: KVMAvailability.deviceOpensReadWrite, "/dev/kvm does not open read-write on this host")
    }
}
