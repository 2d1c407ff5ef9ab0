// Request numbers are computed, never written out: `_IOC(dir, type, nr, size)` with the struct sizes of
// KVM_UAPI.md §1.5, per architecture. x86_64 and arm64 share the asm-generic encoding; they differ only in
// the sizes of arch-specific structs (`struct kvm_regs`) and in which ioctls exist. Tests pin every number.

// The tables themselves (`IoctlDirection`, `UAPIStruct` and its sizes, `Ioctl`, `KVMIO`, the field shifts) are
// generated from Scripts/uapi/kvm-uapi.json into UAPI+Generated.swift.

// MARK: - Encoding

/// Computes ioctl request numbers per architecture.
public enum IoctlNumbers {
    /// `_IOC(dir, type, nr, size)` of the asm-generic encoding used by x86_64 and arm64.
    public static func encode(direction: IoctlDirection, type: UInt32, nr: UInt32, size: UInt32) -> UInt32 {
        precondition(type <= 0xff && nr <= 0xff && size < (1 << 14), "_IOC field out of range")
        return (direction.rawValue << dirShift) | (size << sizeShift) | (type << typeShift) | (nr << nrShift)
    }

    /// The request number of `ioctl` on `arch`; nil if the architecture does not have it.
    public static func number(_ ioctl: Ioctl, arch: PlanArch) -> UInt32? {
        guard ioctl.architectures.contains(arch) else { return nil }
        let (direction, nr, argument) = ioctl.definition
        guard let size = argument.size(arch: arch) else { return nil }
        return encode(direction: direction, type: kvmio, nr: nr, size: size)
    }

    /// Every ioctl of `arch` with its number, in declaration order.
    public static func table(arch: PlanArch) -> [(ioctl: Ioctl, number: UInt32)] {
        Ioctl.allCases.compactMap { ioctl in number(ioctl, arch: arch).map { (ioctl, $0) } }
    }
}
