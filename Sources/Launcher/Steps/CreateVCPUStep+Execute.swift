import KVM
import Plan

extension CreateVCPUStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        // VM.createVCPU also maps the vCPU's kvm_run (KVM_GET_VCPU_MMAP_SIZE + mmap); the plan's map-run
        // step that follows takes that mapping over.
        let vcpu = try x.requireVM().createVCPU(id: index)
        x.vcpus[index] = vcpu
        x.acquire(step, .vcpu(index), .vcpu(vcpu))
        return "fd \(vcpu.rawDescriptor)"
    }
}
