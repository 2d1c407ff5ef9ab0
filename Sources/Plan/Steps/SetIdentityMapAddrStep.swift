import Diagnostics

/// `KVM_SET_IDENTITY_MAP_ADDR` on `%vm`: one page outside RAM for VMX's identity map (before any vCPU).
public struct SetIdentityMapAddrStep: StepKind, VMAddressStep {
    public var on: FdRef
    public var address: UInt64

    public init(on: FdRef = .vm, address: UInt64) {
        self.on = on
        self.address = address
    }

    // MARK: What it is

    static let op = "KVM_SET_IDENTITY_MAP_ADDR"
    func ioctls(arch: PlanArch) -> [Ioctl] { [.setIdentityMapAddr] }

    // JSON, text and decoding: VMAddressStep.

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        ["{", "    uint64_t a = \(c.hex(address));", "    " + c.check("kp_ioctl(\(c.v(on)), KP_KVM_SET_IDENTITY_MAP_ADDR, &a)"), "}"]
    }
}

extension Operation {
    /// `KVM_SET_IDENTITY_MAP_ADDR` on `%vm`: one page outside RAM for VMX's identity map (before any vCPU).
    public static func setIdentityMapAddr(
        on: FdRef = .vm, address: UInt64
    ) -> Operation {
        .setIdentityMapAddr(SetIdentityMapAddrStep(on: on, address: address))
    }
}
