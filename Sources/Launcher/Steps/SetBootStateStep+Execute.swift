import KVM
import Plan

extension SetBootStateStep: ExecutableStep {
    var unsupportedReason: String? { mode == .el1 ? "arm64 boot state is not implemented" : nil }

    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        let count = self.vcpuCount
        return try x.boot(step, vcpu, mode: mode, entry: entry, count: count)
    }
}
