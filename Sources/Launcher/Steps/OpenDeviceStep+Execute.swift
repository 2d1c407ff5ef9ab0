import KVM
import Plan

extension OpenDeviceStep: ExecutableStep {
    var unsupportedReason: String? { path == .kvm ? nil : "opening \(path.rawValue) is not implemented" }

    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        guard path == .kvm else { throw x.unsupported(step) }
        let kvm = try KVMSystem()
        x.system = kvm
        x.acquire(step, .kvm, .system(kvm))
        return "fd \(kvm.rawDescriptor)"
    }
}
