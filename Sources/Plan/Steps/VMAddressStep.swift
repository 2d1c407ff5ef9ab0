import Diagnostics

/// A `%vm` ioctl of Intel VMX that places pages outside RAM at one address, before any vCPU
/// (`KVM_SET_TSS_ADDR`, `KVM_SET_IDENTITY_MAP_ADDR`): the same JSON, text and decoding; each step kind keeps its
/// kernel name, ioctl and C form.
protocol VMAddressStep: StepKind {
    var on: FdRef { get }
    var address: UInt64 { get }
    init(on: FdRef, address: UInt64)
}

extension VMAddressStep {
    static var allowedKinds: Set<FdKind> { [.vm] }
    static var architectures: Set<PlanArch> { [.x86_64] }

    var actsOn: FdRef? { on }

    var jsonArgs: [String: JSONValue] { ["address": .number(address)] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(on: try d.on(), address: try d.args.uint64("address"))
    }

    var textArguments: [String] { ["addr=\(PlanFormatting.hex(address))"] }
}
