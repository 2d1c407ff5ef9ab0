import Diagnostics

/// `KVM_SET_TSS_ADDR` on `%vm`: three pages outside RAM for Intel VMX's real-mode TSS (before any vCPU).
public struct SetTSSAddrStep: StepKind, VMAddressStep {
    public var on: FdRef
    public var address: UInt64

    public init(on: FdRef = .vm, address: UInt64) {
        self.on = on
        self.address = address
    }

    // MARK: What it is

    static let op = "KVM_SET_TSS_ADDR"
    func ioctls(arch: PlanArch) -> [Ioctl] { [.setTSSAddr] }

    // JSON, text and decoding: VMAddressStep.

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        [c.check("kp_ioctl_value(\(c.v(on)), KP_KVM_SET_TSS_ADDR, \(c.hex(address)))")]
    }
}

extension Operation {
    /// `KVM_SET_TSS_ADDR` on `%vm`: three pages outside RAM for Intel VMX's real-mode TSS (before any vCPU).
    public static func setTSSAddr(
        on: FdRef = .vm, address: UInt64
    ) -> Operation {
        .setTSSAddr(SetTSSAddrStep(on: on, address: address))
    }
}
