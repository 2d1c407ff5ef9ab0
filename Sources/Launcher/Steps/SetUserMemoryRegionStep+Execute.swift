import KVM
import Plan

extension SetUserMemoryRegionStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        let (memory, address) = try x.userspaceAddress(userspace, size: size)
        try x.requireVM().setUserMemoryRegion(
            UserMemoryRegion(
                slot: slot, flags: KVM.MemoryRegionFlags(rawValue: UInt32(truncatingIfNeeded: flags.rawValue)),
                guestPhysAddr: gpa, memorySize: size, userspaceAddr: address))
        x.addSlot(
            PlanExecutor.Slot(
                region: region, slot: slot, gpa: gpa, size: size, mapping: memory,
                mappingOffset: userspace.offset, readonly: flags.contains(.readonly), guestMemfd: nil,
                guestMemfdOffset: 0))
        return "0"
    }
}
