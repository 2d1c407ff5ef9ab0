import KVM
import Plan

extension SetBootStateStep: ExecutableStep {
    var unsupportedReason: String? { mode == .el1 ? "arm64 boot state is not implemented" : nil }

    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        try x.boot(step, vcpu, mode: mode, registers: x86Registers)
    }
}
