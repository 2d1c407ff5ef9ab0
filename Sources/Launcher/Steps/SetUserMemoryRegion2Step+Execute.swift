import KVM
import Plan

extension SetUserMemoryRegion2Step: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        var memory: HostMemory?
        var address: UInt64 = 0
        if let userspace { (memory, address) = try x.userspaceAddress(userspace, size: size) }
        var gmem: GuestMemfd?
        if let guestMemfd {
            guard let bound = x.guestMemfds[guestMemfd.fd.name] else { throw x.missing(guestMemfd.fd) }
            gmem = bound
        }
        try x.requireVM().setUserMemoryRegion2(
            UserMemoryRegion2(
                slot: slot, flags: KVM.MemoryRegionFlags(rawValue: UInt32(truncatingIfNeeded: flags.rawValue)),
                guestPhysAddr: gpa, memorySize: size, userspaceAddr: address,
                guestMemfdOffset: guestMemfd?.offset ?? 0,
                guestMemfd: UInt32(bitPattern: gmem?.rawDescriptor ?? 0)))
        x.addSlot(
            PlanExecutor.Slot(
                region: region, slot: slot, gpa: gpa, size: size, mapping: memory,
                mappingOffset: userspace?.offset ?? 0, readonly: flags.contains(.readonly), guestMemfd: gmem,
                guestMemfdOffset: guestMemfd?.offset ?? 0))
        return "0"
    }
}
