import KVM
import Plan

extension LinuxMPTableStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        guard let table = LinuxMPTable.build(cpus: cpus, at: gpa) else {
            throw StepProblem(detail: "an MP table lists 1 to \(LinuxMPTable.maxCPUs) processors, not \(cpus)")
        }
        try x.write(table, into: into, gpa: gpa)
        return "\(table.count) bytes at \(hex(gpa)): \(cpus) processor\(cpus == 1 ? "" : "s"), IOAPIC at \(hex(UInt64(LinuxMPTable.ioAPICAddress)))"
    }
}
