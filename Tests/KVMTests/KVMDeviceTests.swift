import KVM
import SystemPackage
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Tests against this host's real /dev/kvm. They assume only what every supported kernel does
// (KVM_UAPI.md §1–§2); where the answer depends on a capability, the test reads it first. The
// facts specific to the development machines (§6) are in the comments.
//
// `.serialized`: the descriptor-leak checks look at descriptor numbers, which must not be reused by
// a parallel test in between.

private let twoMiB: UInt64 = 0x20_0000

@Suite("Real /dev/kvm", .requiresKVM, .serialized)
struct KVMDeviceTests {
    // MARK: - System

    @Test func apiVersionIs12() throws {
        let kvm = try KVMSystem()
        #expect(try kvm.apiVersion() == 12)
        let mmapSize = try kvm.vcpuMmapSize()
        #expect(mmapSize >= 2352)  // sizeof(struct kvm_run)
        #expect(mmapSize % sysconf(CInt(_SC_PAGESIZE)) == 0)
    }

    @Test func createDefaultVM() throws {
        let kvm = try KVMSystem()
        let vm = try kvm.createVM(type: .default)
        #expect(vm.rawDescriptor >= 0)
        #expect(vm.type == .default)
        #expect(try vm.checkExtension(.guestMemfd) == 1)
    }

    @Test func unsupportedVMTypeIsEINVAL() throws {
        let kvm = try KVMSystem()
        let bitmap = try kvm.checkExtension(.vmTypes)
        // A host that supports every x86 type has nothing to test here.
        guard let unsupported = VMType.x86Types.first(where: { bitmap & (1 << Int($0.rawValue)) == 0 }) else { return }
        let error = #expect(throws: KVMError.self) { try kvm.createVM(type: unsupported) }
        #expect(error?.operation.description == "KVM_CREATE_VM")
        #expect(error?.errno == .invalidArgument)
        #expect(error?.description == "KVM_CREATE_VM (\(unsupported.kernelName)) failed: EINVAL (Invalid argument)")
    }

    @Test func descriptorsAreClosedOnDeinit() throws {
        var kvm: KVMSystem? = try KVMSystem()
        var vm: VM? = try kvm?.createVM()
        var vcpu: VCPU? = try vm?.createVCPU(id: 0)
        var gmem: GuestMemfd? = try vm?.createGuestMemfd(size: twoMiB)
        let numbers = try [kvm?.rawDescriptor, vm?.rawDescriptor, vcpu?.rawDescriptor, gmem?.rawDescriptor]
            .map { try #require($0) }
        let targets = numbers.map(Self.linkTarget)
        #expect(targets[1] == "anon_inode:kvm-vm")
        #expect(targets[2] == "anon_inode:kvm-vcpu:0")
        (gmem, vcpu, vm, kvm) = (nil, nil, nil, nil)
        for (number, target) in zip(numbers, targets) {
            // Closed, or reused for something else: never still the KVM object.
            #expect(fcntl(number, F_GETFD) == -1 || Self.linkTarget(number) != target, "fd \(number) leaked")
        }
        _ = (kvm, vm, vcpu, gmem)
    }

    static func linkTarget(_ fd: CInt) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let n = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
        guard n >= 0 else { return "" }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: - guest_memfd

    @Test func guestMemfdWithoutFlags() throws {
        let vm = try KVMSystem().createVM()
        let gmem = try vm.createGuestMemfd(size: twoMiB)
        #expect(gmem.size == twoMiB && gmem.flags == [])
        // mmap needs GUEST_MEMFD_FLAG_MMAP (KVM_UAPI.md §2.3).
        let mapError = #expect(throws: KVMError.self) { try gmem.map() }
        #expect(mapError?.operation.description == "mmap")
        #expect(mapError?.errno == .operationNotSupportedByDevice)
        try gmem.allocate(offset: 0, length: 0x1000)
        try gmem.punchHole(offset: 0, length: 0x1000)
        // Unaligned size (§2.2) and allocation beyond the end (§2.3) are EINVAL.
        let sizeError = #expect(throws: KVMError.self) { try vm.createGuestMemfd(size: 4095) }
        #expect(sizeError?.operation.description == "KVM_CREATE_GUEST_MEMFD")
        #expect(sizeError?.errno == .invalidArgument)
        let allocateError = #expect(throws: KVMError.self) { try gmem.allocate(offset: twoMiB, length: 0x1000) }
        #expect(allocateError?.errno == .invalidArgument)
    }

    @Test func guestMemfdMmapInitSharedThenPunchHole() throws {
        let vm = try KVMSystem().createVM()
        let supported = GuestMemfdFlags(rawValue: UInt64(try vm.checkExtension(.guestMemfdFlags)))
        guard supported.isSuperset(of: [.mmap, .initShared]) else { return }  // needs 6.18 (KVM_UAPI.md §1.3)
        let gmem = try vm.createGuestMemfd(size: twoMiB, flags: [.mmap, .initShared])
        let mapping = try gmem.map()
        #expect(mapping.size == Int(twoMiB))
        let bytes = mapping.bytes
        bytes[0] = 0xAB
        bytes[0x1000] = 0xCD
        #expect(bytes[0] == 0xAB && bytes[0x1000] == 0xCD)
        try gmem.punchHole(offset: 0, length: 0x1000)
        #expect(bytes[0] == 0, "a punched page reads back as zero")
        #expect(bytes[0x1000] == 0xCD, "pages outside the hole keep their contents")
        try mapping.unmap()
        #expect(!mapping.isMapped)
        try mapping.unmap()  // a second unmap does nothing
    }

    // MARK: - Memslots

    @Test func memslotV1() throws {
        let vm = try KVMSystem().createVM()
        let memory = try HostMemory.anonymous(size: Int(twoMiB), noReserve: true)
        try vm.setUserMemoryRegion(
            UserMemoryRegion(slot: 0, guestPhysAddr: 0, memorySize: twoMiB, userspaceAddr: memory.userspaceAddress))
        // Overlapping GPA range in another slot: EEXIST (§2.1 rule 8).
        let overlap = #expect(throws: KVMError.self) {
            try vm.setUserMemoryRegion(
                UserMemoryRegion(
                    slot: 1, guestPhysAddr: 0x1000, memorySize: 0x1000, userspaceAddr: memory.userspaceAddress))
        }
        #expect(overlap?.errno == .fileExists)
        #expect(overlap?.description == "KVM_SET_USER_MEMORY_REGION (slot 1) failed: EEXIST (File exists)")
        // GUEST_MEMFD through v1: EINVAL (§2.1 rule 1).
        let v1Gmem = #expect(throws: KVMError.self) {
            try vm.setUserMemoryRegion(
                UserMemoryRegion(
                    slot: 2, flags: .guestMemfd, guestPhysAddr: 0x40_0000, memorySize: 0x1000,
                    userspaceAddr: memory.userspaceAddress))
        }
        #expect(v1Gmem?.errno == .invalidArgument)
        // Delete.
        try vm.setUserMemoryRegion(UserMemoryRegion(slot: 0, guestPhysAddr: 0, memorySize: 0, userspaceAddr: 0))
    }

    @Test func memslotV2WithGuestMemfd() throws {
        let vm = try KVMSystem().createVM()
        guard try vm.checkExtension(.userMemory2) == 1 else { return }
        let gmem = try vm.createGuestMemfd(size: 2 * twoMiB)
        let shared = try HostMemory.anonymous(size: Int(twoMiB))
        try vm.setUserMemoryRegion2(
            UserMemoryRegion2(
                slot: 0, guestPhysAddr: 0, memorySize: twoMiB, userspaceAddr: shared.userspaceAddress, guestMemfd: gmem))
        // A second slot on the other half of the same guest_memfd is fine.
        try vm.setUserMemoryRegion2(
            UserMemoryRegion2(
                slot: 1, guestPhysAddr: twoMiB, memorySize: twoMiB, userspaceAddr: shared.userspaceAddress,
                guestMemfd: gmem, offset: twoMiB))
        // Binding an already bound range again: EINVAL (EEXIST since 7.2; KVM_UAPI.md §7).
        let rebind = #expect(throws: KVMError.self) {
            try vm.setUserMemoryRegion2(
                UserMemoryRegion2(
                    slot: 2, guestPhysAddr: 4 * twoMiB, memorySize: twoMiB, userspaceAddr: shared.userspaceAddress,
                    guestMemfd: gmem))
        }
        #expect(rebind?.operation.description == "KVM_SET_USER_MEMORY_REGION2")
        #expect(rebind?.errno == .invalidArgument || rebind?.errno == .fileExists)
        // READONLY with GUEST_MEMFD: EINVAL (§4).
        let readonly = #expect(throws: KVMError.self) {
            try vm.setUserMemoryRegion2(
                UserMemoryRegion2(
                    slot: 3, flags: .readonly, guestPhysAddr: 8 * twoMiB, memorySize: 0x1000,
                    userspaceAddr: shared.userspaceAddress, guestMemfd: try vm.createGuestMemfd(size: 0x1000)))
        }
        #expect(readonly?.errno == .invalidArgument)
        // A private-memory slot cannot be modified, only deleted (§2.1 rule 7).
        try vm.setUserMemoryRegion2(UserMemoryRegion2(slot: 1, guestPhysAddr: twoMiB, memorySize: 0))
    }

    @Test func memoryAttributesNeedPrivateMemory() throws {
        let kvm = try KVMSystem()
        let vm = try kvm.createVM(type: .default)
        // A default VM never has private memory (KVM_UAPI.md §1.3).
        #expect(try vm.checkExtension(.memoryAttributes) == 0)
        let error = #expect(throws: KVMError.self) {
            try vm.setMemoryAttributes(address: 0, size: twoMiB, attributes: .private)
        }
        #expect(error?.operation.description == "KVM_SET_MEMORY_ATTRIBUTES")
        if try kvm.checkExtension(.memoryAttributes) == 0 {
            // No attribute support at all: the kernel lacks CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES and
            // does not know the ioctl. This is the development machines' case (measured ENOTTY;
            // KVM_UAPI.md §6 says EINVAL, which is wrong for them).
            #expect(error?.errno == .inappropriateIOCTLForDevice)
        } else {
            // The kernel knows attributes, but a default VM has no private memory (§2.4).
            #expect(error?.errno == .invalidArgument)
        }
    }

    @Test func enableExitHypercall() throws {
        let vm = try KVMSystem().createVM()
        let mask = UInt64(try vm.checkExtension(.exitHypercall))
        guard mask & (1 << 12) != 0 else { return }  // KVM_HC_MAP_GPA_RANGE exits not offered
        try vm.enableCap(.exitHypercall, args: [1 << 12])
        let error = #expect(throws: KVMError.self) { try vm.enableCap(.exitHypercall, args: [~mask]) }
        #expect(error?.operation.description == "KVM_ENABLE_CAP")
        #expect(error?.errno == .invalidArgument)
    }

    // MARK: - vCPUs

    @Test func createVCPUAndMapRun() throws {
        let kvm = try KVMSystem()
        let vm = try kvm.createVM()
        let vcpu = try vm.createVCPU(id: 0)
        #expect(vcpu.id == 0)
        #expect(vcpu.runPage.size == (try kvm.vcpuMmapSize()))
        #expect(vcpu.exitReason == .unknown)  // a new vCPU's kvm_run is zeroed
        let duplicate = #expect(throws: KVMError.self) { try vm.createVCPU(id: 0) }
        #expect(duplicate?.operation.description == "KVM_CREATE_VCPU")
        #expect(duplicate?.errno == .fileExists)
    }

    #if arch(x86_64)
    @Test func setAndGetRegisters() throws {
        let vcpu = try KVMSystem().createVM().createVCPU(id: 0)
        var regs = Registers()
        regs.rax = 0x1122_3344_5566_7788
        regs.r15 = 0xdead_beef
        regs.rip = 0x1000
        regs.rflags = 0x202
        try vcpu.setRegs(regs)
        #expect(try vcpu.getRegs() == regs)

        var sregs = try vcpu.getSregs()
        #expect(sregs.interruptBitmap.count == 4)
        sregs.cs.base = 0
        sregs.cs.selector = 0
        sregs.gdt = DescriptorTable(base: 0x500, limit: 0x17)
        try vcpu.setSregs(sregs)
        let back = try vcpu.getSregs()
        #expect(back.cs.base == 0 && back.cs.selector == 0)
        #expect(back.gdt == DescriptorTable(base: 0x500, limit: 0x17))
    }

    @Test func supportedCPUIDRoundTrip() throws {
        let vcpu = try KVMSystem().createVM().createVCPU(id: 0)
        let entries = try vcpu.getSupportedCPUID()
        #expect(entries.contains { $0.function == 0 })
        try vcpu.setCPUID2(entries)
    }

    #endif

    @Test func preFaultMemoryFollowsItsCapability() throws {
        let vm = try KVMSystem().createVM()
        let memory = try HostMemory.anonymous(size: Int(twoMiB))
        try vm.setUserMemoryRegion(
            UserMemoryRegion(slot: 0, guestPhysAddr: 0, memorySize: twoMiB, userspaceAddr: memory.userspaceAddress))
        let vcpu = try vm.createVCPU(id: 0)
        if try vm.checkExtension(.preFaultMemory) == 0 {
            let error = #expect(throws: KVMError.self) { try vcpu.preFaultMemory(gpa: 0, size: 0x1000) }
            #expect(error?.operation.description == "KVM_PRE_FAULT_MEMORY")
        } else {
            let rest = try vcpu.preFaultMemory(gpa: 0, size: 0x1000)
            #expect(rest.size < 0x1000)
        }
    }

    // MARK: - Running guests

    #if arch(x86_64)
    /// Port out, port in, MMIO write, MMIO read, HLT: every answer path of the run loop.
    @Test func realModeGuestExits() throws {
        let vm = try KVMSystem().createVM()
        let memory = try HostMemory.anonymous(size: Int(RealModeGuest.slotSize))
        try vm.setUserMemoryRegion(
            UserMemoryRegion(
                slot: 0, guestPhysAddr: 0, memorySize: RealModeGuest.slotSize, userspaceAddr: memory.userspaceAddress))
        let code: [UInt8] = [
            0xB0, 0x42,  // mov al, 0x42
            0xE6, 0xF4,  // out 0xf4, al
            0xE4, 0x10,  // in al, 0x10
            0xE6, 0xF4,  // out 0xf4, al
            0xBB, 0x00, 0x20,  // mov bx, 0x2000
            0x8E, 0xDB,  // mov ds, bx            ; DS base 0x20000: outside every memslot
            0xA2, 0x00, 0x00,  // mov [0x0000], al  ; MMIO write to 0x20000
            0xA0, 0x10, 0x00,  // mov al, [0x0010]  ; MMIO read from 0x20010
            0xE6, 0xF4,  // out 0xf4, al
            0xF4,  // hlt
        ]
        // SAFETY: the code fits in the 64 KiB mapping after codeAddress.
        memory.bytes.baseAddress?.advanced(by: Int(RealModeGuest.codeAddress)).copyMemory(
            from: code, byteCount: code.count)
        let vcpu = try vm.createVCPU(id: 0)
        try RealModeGuest.boot(vcpu)

        var outputs: [UInt8] = []
        var mmioWrites: [MMIOExit] = []
        var mmioReads: [UInt64] = []
        let exits = try RealModeGuest.run(vcpu) { vcpu, exit in
            if case .io(let io, let data) = exit {
                #expect(io.size == 1 && io.count == 1)
                switch io.direction {
                case .out:
                    #expect(io.port == 0xF4)
                    outputs.append(contentsOf: data)
                case .in:
                    #expect(io.port == 0x10)
                    #expect(data.isEmpty)
                    vcpu.writeIOData([0x07])
                }
            } else if case .mmio(let mmio) = exit {
                if mmio.isWrite {
                    mmioWrites.append(mmio)
                } else {
                    mmioReads.append(mmio.physAddr)
                    #expect(mmio.data.count == 1)
                    vcpu.writeMMIOData([0x99])
                }
            }
        }
        #expect(exits == [.io, .io, .io, .mmio, .mmio, .io, .hlt])
        #expect(outputs == [0x42, 0x07, 0x99])
        #expect(mmioWrites == [MMIOExit(physAddr: 0x2_0000, data: [0x07], isWrite: true)])
        #expect(mmioReads == [0x2_0010])
        #expect(try vcpu.getRegs().rip == RealModeGuest.codeAddress + UInt64(code.count))
    }

    /// Guest RAM that lives in an mmap'ed guest_memfd (MMAP | INIT_SHARED), bound with region2.
    @Test func guestRunsFromGuestMemfd() throws {
        let vm = try KVMSystem().createVM()
        let supported = GuestMemfdFlags(rawValue: UInt64(try vm.checkExtension(.guestMemfdFlags)))
        guard supported.isSuperset(of: [.mmap, .initShared]) else { return }
        let gmem = try vm.createGuestMemfd(size: RealModeGuest.slotSize, flags: [.mmap, .initShared])
        let mapping = try gmem.map()
        try vm.setUserMemoryRegion2(
            UserMemoryRegion2(
                slot: 0, guestPhysAddr: 0, memorySize: RealModeGuest.slotSize, userspaceAddr: mapping.userspaceAddress,
                guestMemfd: gmem))
        let code: [UInt8] = [0xB0, 0x5A, 0xE6, 0xF4, 0xF4]  // mov al, 0x5a; out 0xf4, al; hlt
        // SAFETY: the code fits in the 64 KiB mapping after codeAddress.
        mapping.bytes.baseAddress?.advanced(by: Int(RealModeGuest.codeAddress)).copyMemory(
            from: code, byteCount: code.count)
        let vcpu = try vm.createVCPU(id: 0)
        try RealModeGuest.boot(vcpu)
        var outputs: [UInt8] = []
        let exits = try RealModeGuest.run(vcpu) { _, exit in
            if case .io(_, let data) = exit { outputs.append(contentsOf: data) }
        }
        #expect(exits == [.io, .hlt])
        #expect(outputs == [0x5A])
    }

    #endif

    @Test func immediateExitReturnsIntr() throws {
        let vcpu = try KVMSystem().createVM().createVCPU(id: 0)
        vcpu.immediateExit = true
        #expect(try vcpu.run() == .interrupted)
        vcpu.immediateExit = false
        #expect(!vcpu.immediateExit)
    }
}

@Suite("Host memory")
struct HostMemoryTests {
    @Test func memfdMapPunchHoleAndDiscard() throws {
        let memfd = try Memfd(name: "kvmtests", size: twoMiB)
        let mapping = try memfd.map()
        mapping.bytes[0] = 1
        mapping.bytes[0x1000] = 2
        mapping.bytes[0x2000] = 3
        try memfd.punchHole(offset: 0, length: 0x1000)
        #expect(mapping.bytes[0] == 0 && mapping.bytes[0x1000] == 2)
        try mapping.discard(offset: 0x1000, length: 0x1000)
        #expect(mapping.bytes[0x1000] == 0 && mapping.bytes[0x2000] == 3)

        let anonymous = try HostMemory.anonymous(size: 0x3000, noReserve: true)
        anonymous.bytes[0x1000] = 9
        try anonymous.discard(offset: 0x1000, length: 0x1000)
        #expect(anonymous.bytes[0x1000] == 0)
        #expect(anonymous.kind == "anonymous")
        #expect(anonymous.memfd == nil)
    }

    @Test func memfdBackedHostMemoryKeepsItsMemfd() throws {
        let memory = try HostMemory.memfd(name: "kvmtests-ram", size: Int(twoMiB), noReserve: true)
        let memfd = try #require(memory.memfd)
        #expect(memfd.size == twoMiB && memfd.hugePages == nil)
        memory.bytes[0x3000] = 7
        try memfd.punchHole(offset: 0x3000, length: 0x1000)
        #expect(memory.bytes[0x3000] == 0)
    }

    /// Hugetlb backing needs pages in the pool (vm.nr_hugepages); without them mmap or the first
    /// touch fails, so only creation and the error path are asserted.
    @Test(arguments: HugePageSize.allCases)
    func hugetlbMemfdIsCreated(pages: HugePageSize) throws {
        do {
            let memfd = try Memfd(name: "kvmtests-huge", size: UInt64(pages.rawValue), hugePages: pages)
            #expect(memfd.hugePages == pages)
        } catch {
            // No hugetlbfs for this size on this host: memfd_create or ftruncate refuses.
            #expect(["memfd_create", "ftruncate"].contains(error.operation.description))
        }
    }
}
