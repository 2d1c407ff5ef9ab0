import Diagnostics

extension HostProfile {
    /// A capability's value in words, for those whose value is a set of flags or types rather than a
    /// count: `KVM_CAP_GUEST_MEMFD_FLAGS 3` → `MMAP|INIT_SHARED`. Nil for plain numbers and booleans.
    public static func decode(capability name: String, value: UInt64) -> String? {
        let bits: [(UInt64, String)]
        switch name {
        case "KVM_CAP_GUEST_MEMFD_FLAGS": bits = [(1 << 0, "MMAP"), (1 << 1, "INIT_SHARED")]
        case "KVM_CAP_MEMORY_ATTRIBUTES": bits = [(1 << 3, "PRIVATE")]
        case "KVM_CAP_EXIT_HYPERCALL": bits = [(1 << UAPIHypercall.mapGPARange, "KVM_HC_MAP_GPA_RANGE")]
        case "KVM_CAP_VM_TYPES":
            bits = [
                (1 << 0, "default"), (1 << 1, "sw-protected"), (1 << 2, "sev"), (1 << 3, "sev-es"), (1 << 4, "sev-snp"),
                (1 << 5, "tdx"),
            ]
        default: return nil
        }
        guard value != 0 else { return "none" }
        var names = bits.filter { value & $0.0 != 0 }.map(\.1)
        let unknown = bits.reduce(value) { $0 & ~$1.0 }
        if unknown != 0 { names.append("0x" + String(unknown, radix: 16)) }
        return names.joined(separator: "|")
    }
}
