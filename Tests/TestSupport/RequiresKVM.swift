#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
// Testing exists only where tests are built; `swift build -c release` builds this target too.
#if canImport(Testing)
import Testing
#endif

/// Whether `/dev/kvm` opens read-write here: the condition of every test that needs real KVM.
public enum KVMAvailability {
    public static let deviceOpensReadWrite: Bool = {
        let fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }()
}

#if canImport(Testing)
extension Trait where Self == ConditionTrait {
    /// Runs the test only where `/dev/kvm` opens read-write (STYLE.md rule 10).
    public static var requiresKVM: Self {
        .enabled(if: KVMAvailability.deviceOpensReadWrite, "/dev/kvm does not open read-write on this host")
    }
}
#endif
