import KVM
import Plan

extension CreateVMStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        let created = try x.requireSystem().createVM(type: KVM.VMType(rawValue: UInt(type.value)))
        x.vm = created
        x.acquire(step, .vm, .vm(created))
        return "fd \(created.rawDescriptor)"
    }
}
