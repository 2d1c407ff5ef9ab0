import KVM
import Plan

extension MmapRunStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        let ref = self.vcpu
        let vcpu = try x.requireVCPU(ref, step)
        guard let index = ref.index else { throw x.missing(ref) }
        x.acquire(step, .run(index), .runMapping(vcpu))
        return "\(hex(UInt64(UInt(bitPattern: vcpu.runPage.baseAddress)))) (\(vcpu.runPage.size) bytes, mapped with the vCPU)"
    }
}
