import KVM

// The exit loop's ports over the KVM module: the real vCPU and the real VM.

/// `VCPUPort` over a `KVM.VCPU`.
final class KVMVCPUPort: VCPUPort {
    let vcpu: VCPU
    let index: UInt32

    init(_ vcpu: VCPU, index: UInt32) {
        self.vcpu = vcpu
        self.index = index
    }

    func run() throws(KVMError) -> VCPUExit { try vcpu.run() }

    func answerIO(_ bytes: [UInt8]) { vcpu.writeIOData(bytes) }
    func answerMMIO(_ bytes: [UInt8]) { vcpu.writeMMIOData(bytes) }
    func setHypercallReturn(_ value: UInt64) { vcpu.setHypercallReturn(value) }
    func requestStop() { vcpu.immediateExit = true }

    func registerDump() -> [String] {
        #if arch(x86_64)
        do {
            let r = try vcpu.getRegs()
            let s = try vcpu.getSregs()
            func h(_ v: UInt64, _ width: Int = 16) -> String {
                let digits = String(v, radix: 16)
                return String(repeating: "0", count: max(0, width - digits.count)) + digits
            }
            return [
                "rip \(h(r.rip)) rsp \(h(r.rsp)) rflags \(h(r.rflags, 8))",
                "rax \(h(r.rax)) rbx \(h(r.rbx)) rcx \(h(r.rcx)) rdx \(h(r.rdx))",
                "rsi \(h(r.rsi)) rdi \(h(r.rdi)) rbp \(h(r.rbp))",
                "cs \(h(UInt64(s.cs.selector), 4)) cr0 \(h(s.cr0, 8)) cr2 \(h(s.cr2)) cr3 \(h(s.cr3, 8)) cr4 \(h(s.cr4, 8)) efer \(h(s.efer, 4))",
            ]
        } catch {
            return ["(registers unavailable: \(error))"]
        }
        #else
        return []
        #endif
    }
}

/// `MemoryConversionPort` over the VM, the regions' guest_memfds and their shared mappings.
final class KVMConversions: MemoryConversionPort {
    struct Region: Sendable {
        var guestMemfd: GuestMemfd?
        /// The shared side and the offset of the region's base in it.
        var shared: HostMemory?
        var sharedOffset: UInt64
    }

    let vm: VM
    let regions: [String: Region]

    init(vm: VM, regions: [String: Region]) {
        self.vm = vm
        self.regions = regions
    }

    struct MissingBacking: Error, CustomStringConvertible {
        var description: String
    }

    func setMemoryAttributes(gpa: UInt64, size: UInt64, private isPrivate: Bool) throws {
        try vm.setMemoryAttributes(address: gpa, size: size, attributes: isPrivate ? .private : [])
    }

    func punchHole(region: String, offset: UInt64, size: UInt64) throws {
        guard let gmem = regions[region]?.guestMemfd else {
            throw MissingBacking(description: "region '\(region)' has no guest_memfd")
        }
        try gmem.punchHole(offset: offset, length: size)
    }

    func discardShared(region: String, offset: UInt64, size: UInt64) throws {
        guard let entry = regions[region], let shared = entry.shared else {
            throw MissingBacking(description: "region '\(region)' has no shared mapping")
        }
        guard let start = Int(exactly: entry.sharedOffset + offset), let length = Int(exactly: size),
            start <= shared.size, length <= shared.size - start
        else {
            throw MissingBacking(description: "range \(hex(offset))+\(hex(size)) is outside region '\(region)''s mapping")
        }
        try shared.discard(offset: start, length: length)
    }
}
