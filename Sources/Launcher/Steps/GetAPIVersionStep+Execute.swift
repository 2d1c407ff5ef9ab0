import KVM
import Plan

extension GetAPIVersionStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        let version = try x.requireSystem().apiVersion()
        guard UInt64(version) == expect else {
            throw StepProblem(detail: "KVM API version is \(version), the plan expects \(expect)", status: 126)
        }
        return String(version)
    }
}
