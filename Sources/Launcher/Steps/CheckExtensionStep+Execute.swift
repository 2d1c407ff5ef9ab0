import KVM
import Plan

extension CheckExtensionStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        let kvmCap = KVMCapability(rawValue: cap.number)
        let value = on.kind == .vm ? try x.requireVM().checkExtension(kvmCap) : try x.requireSystem().checkExtension(kvmCap)
        guard value >= 0, expect.isSatisfied(by: UInt64(value)) else {
            throw StepProblem(detail: "\(cap.name) is \(value) on \(on), the plan expects \(x.expectationText(expect))", status: 126)
        }
        return String(value)
    }
}
