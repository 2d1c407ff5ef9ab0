import KVM
import Plan

extension MemfdCreateStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        let huge = hugetlb.flatMap { KVM.HugePageSize(rawValue: Int($0.bytes)) }
        // Memfd's initialiser also sizes the file; size 0 leaves that to the plan's own ftruncate step.
        let memfd = try Memfd(name: name, size: 0, hugePages: huge)
        x.memfds[name] = memfd
        x.acquire(step, .memfd(name), .memfd(memfd))
        return "fd \(memfd.rawDescriptor)"
    }
}
