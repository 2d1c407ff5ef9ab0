import KVM
import Plan

extension SetMemoryAttributesStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        try x.requireVM().setMemoryAttributes(
            address: gpa, size: size, attributes: KVM.MemoryAttributes(rawValue: attributes.rawValue))
        return "0"
    }
}
