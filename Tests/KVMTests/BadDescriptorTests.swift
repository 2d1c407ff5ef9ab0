import KVM
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Every wrapper, called on a deliberately bad descriptor, must fail with a KVMError that names
// its ioctl or system call and carries the kernel's errno (STYLE.md rules 9 and 10; kvm-ioctls'
// `test_faulty_vm_fd`). None of these tests needs /dev/kvm.

/// A descriptor no wrapper can use.
enum BadDescriptor: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// -1: never a descriptor (a *closed* number could be reused by a parallel test). EBADF.
    case invalid
    /// An open `/dev/null`: a real file that knows no KVM ioctl (ENOTTY) and cannot be mapped or
    /// fallocated (ENODEV).
    case devNull

    var testDescription: String { rawValue }

    func makeDescriptor() -> CInt {
        switch self {
        case .invalid: return -1
        case .devNull: return open("/dev/null", O_RDWR | O_CLOEXEC)
        }
    }

    func expectedErrno(_ kind: WrapperCase.Kind) -> Errno {
        switch (self, kind) {
        case (.invalid, _): return .badFileDescriptor
        case (.devNull, .ioctl): return .inappropriateIOCTLForDevice
        case (.devNull, .mmap), (.devNull, .fallocate): return .operationNotSupportedByDevice
        // ftruncate(2) of a character device.
        case (.devNull, .ftruncate): return .invalidArgument
        }
    }
}

/// One object of each descriptor-owning type, all on bad descriptors.
struct BadObjects {
    let system: KVMSystem
    let vm: VM
    let vcpu: VCPU
    let guestMemfd: GuestMemfd
    let memfd: Memfd
    let sev: SEVDevice

    init(_ bad: BadDescriptor) throws {
        system = KVMSystem(adoptingDescriptor: bad.makeDescriptor())
        vm = VM(adoptingDescriptor: bad.makeDescriptor(), system: system)
        vcpu = VCPU(adoptingDescriptor: bad.makeDescriptor(), vm: vm, runPage: try HostMemory.anonymous(size: 16384))
        guestMemfd = GuestMemfd(adoptingDescriptor: bad.makeDescriptor(), size: 0x20_0000, flags: [.mmap])
        memfd = Memfd(adoptingDescriptor: bad.makeDescriptor(), size: 0x20_0000)
        sev = SEVDevice(adoptingDescriptor: bad.makeDescriptor())
    }
}

/// A wrapper call and the operation its error must name.
struct WrapperCase: Sendable, CustomTestStringConvertible {
    enum Kind: Sendable { case ioctl, mmap, fallocate, ftruncate }

    let name: String
    let operation: String
    let kind: Kind
    let call: @Sendable (BadObjects) throws(KVMError) -> Void

    var testDescription: String { name }

    init(
        _ name: String, _ operation: String, _ kind: Kind = .ioctl,
        _ call: @escaping @Sendable (BadObjects) throws(KVMError) -> Void
    ) {
        (self.name, self.operation, self.kind, self.call) = (name, operation, kind, call)
    }

    static let all: [WrapperCase] = {
        var cases: [WrapperCase] = [
            // KVMSystem
            WrapperCase("KVMSystem.apiVersion", "KVM_GET_API_VERSION") { o throws(KVMError) in
                _ = try o.system.apiVersion()
            },
            WrapperCase("KVMSystem.checkExtension", "KVM_CHECK_EXTENSION") { o throws(KVMError) in
                _ = try o.system.checkExtension(.userMemory2)
            },
            WrapperCase("KVMSystem.vcpuMmapSize", "KVM_GET_VCPU_MMAP_SIZE") { o throws(KVMError) in
                _ = try o.system.vcpuMmapSize()
            },
            WrapperCase("KVMSystem.createVM", "KVM_CREATE_VM") { o throws(KVMError) in
                _ = try o.system.createVM(type: .default)
            },
            // VM
            WrapperCase("VM.checkExtension", "KVM_CHECK_EXTENSION") { o throws(KVMError) in
                _ = try o.vm.checkExtension(.guestMemfdFlags)
            },
            WrapperCase("VM.enableCap", "KVM_ENABLE_CAP") { o throws(KVMError) in
                try o.vm.enableCap(.exitHypercall, args: [1 << 12])
            },
            WrapperCase("VM.createGuestMemfd", "KVM_CREATE_GUEST_MEMFD") { o throws(KVMError) in
                _ = try o.vm.createGuestMemfd(size: 0x20_0000)
            },
            WrapperCase("VM.setUserMemoryRegion", "KVM_SET_USER_MEMORY_REGION") { o throws(KVMError) in
                try o.vm.setUserMemoryRegion(
                    UserMemoryRegion(slot: 0, guestPhysAddr: 0, memorySize: 0x1000, userspaceAddr: 0x1000))
            },
            WrapperCase("VM.setUserMemoryRegion2", "KVM_SET_USER_MEMORY_REGION2") { o throws(KVMError) in
                try o.vm.setUserMemoryRegion2(
                    UserMemoryRegion2(slot: 0, guestPhysAddr: 0, memorySize: 0x1000, guestMemfd: o.guestMemfd))
            },
            WrapperCase("VM.setMemoryAttributes", "KVM_SET_MEMORY_ATTRIBUTES") { o throws(KVMError) in
                try o.vm.setMemoryAttributes(address: 0, size: 0x1000, attributes: .private)
            },
            WrapperCase("VM.createVCPU", "KVM_CREATE_VCPU") { o throws(KVMError) in
                _ = try o.vm.createVCPU(id: 0)
            },
            // VCPU
            WrapperCase("VCPU.run", "KVM_RUN") { o throws(KVMError) in
                _ = try o.vcpu.run()
            },
            WrapperCase("VCPU.preFaultMemory", "KVM_PRE_FAULT_MEMORY") { o throws(KVMError) in
                _ = try o.vcpu.preFaultMemory(gpa: 0, size: 0x1000)
            },
            WrapperCase("VCPU.enableCap", "KVM_ENABLE_CAP") { o throws(KVMError) in
                try o.vcpu.enableCap(KVMCapability(rawValue: 0))
            },
            // GuestMemfd
            WrapperCase("GuestMemfd.map", "mmap", .mmap) { o throws(KVMError) in
                _ = try o.guestMemfd.map()
            },
            WrapperCase("GuestMemfd.punchHole", "fallocate", .fallocate) { o throws(KVMError) in
                try o.guestMemfd.punchHole(offset: 0, length: 0x1000)
            },
            WrapperCase("GuestMemfd.allocate", "fallocate", .fallocate) { o throws(KVMError) in
                try o.guestMemfd.allocate(offset: 0, length: 0x1000)
            },
            // Memfd
            WrapperCase("Memfd.map", "mmap", .mmap) { o throws(KVMError) in
                _ = try o.memfd.map()
            },
            WrapperCase("Memfd.punchHole", "fallocate", .fallocate) { o throws(KVMError) in
                try o.memfd.punchHole(offset: 0, length: 0x1000)
            },
            WrapperCase("Memfd.setSize", "ftruncate", .ftruncate) { o throws(KVMError) in
                try o.memfd.setSize(0x40_0000)
            },
        ]
        #if arch(x86_64)
        cases += [
            WrapperCase("KVMSystem.supportedCPUID", "KVM_GET_SUPPORTED_CPUID") { o throws(KVMError) in
                _ = try o.system.supportedCPUID()
            },
            WrapperCase("VM.memoryEncryptOp", "KVM_MEMORY_ENCRYPT_OP") { o throws(KVMError) in
                // SAFETY: a zeroed 24-byte struct kvm_sev_cmd, freed after the call that only passes
                // its address on.
                let command = UnsafeMutableRawPointer.allocate(byteCount: 24, alignment: 8)
                defer { command.deallocate() }
                command.initializeMemory(as: UInt8.self, repeating: 0, count: 24)
                try o.vm.memoryEncryptOp(command)
            },
            WrapperCase("VM.sevInit2", "KVM_MEMORY_ENCRYPT_OP") { o throws(KVMError) in
                try o.vm.sevInit2(vmsaFeatures: 0, ghcbVersion: 2, sev: o.sev)
            },
            WrapperCase("VM.snpLaunchStart", "KVM_MEMORY_ENCRYPT_OP") { o throws(KVMError) in
                try o.vm.snpLaunchStart(policy: 0x30000, sev: o.sev)
            },
            WrapperCase("VM.snpLaunchUpdate", "KVM_MEMORY_ENCRYPT_OP") { o throws(KVMError) in
                _ = try o.vm.snpLaunchUpdate(SNPLaunchRange(gfnStart: 0x100, uaddr: 0x1000, len: 0x1000, type: 1), sev: o.sev)
            },
            WrapperCase("VM.snpLaunchFinish", "KVM_MEMORY_ENCRYPT_OP") { o throws(KVMError) in
                try o.vm.snpLaunchFinish(hostData: [UInt8](repeating: 1, count: 32), sev: o.sev)
            },
            WrapperCase("VM.snpLaunchFinish (ID block)", "KVM_MEMORY_ENCRYPT_OP") { o throws(KVMError) in
                try o.vm.snpLaunchFinish(
                    hostData: [UInt8](repeating: 0, count: 32), idBlock: [UInt8](repeating: 2, count: 96),
                    idAuth: [UInt8](repeating: 3, count: 4096), sev: o.sev)
            },
            WrapperCase("VM.tdxCapabilities", "KVM_MEMORY_ENCRYPT_OP") { o throws(KVMError) in
                _ = try o.vm.tdxCapabilities()
            },
            WrapperCase("VM.tdxInitVM", "KVM_MEMORY_ENCRYPT_OP") { o throws(KVMError) in
                try o.vm.tdxInitVM(TDXInitVMParameters(attributes: 0, xfam: 3, cpuid: []))
            },
            WrapperCase("VM.tdxFinalizeVM", "KVM_MEMORY_ENCRYPT_OP") { o throws(KVMError) in
                try o.vm.tdxFinalizeVM()
            },
            WrapperCase("VM.setTSSAddress", "KVM_SET_TSS_ADDR") { o throws(KVMError) in
                try o.vm.setTSSAddress(0xfffb_d000)
            },
            WrapperCase("VM.setIdentityMapAddress", "KVM_SET_IDENTITY_MAP_ADDR") { o throws(KVMError) in
                try o.vm.setIdentityMapAddress(0xfffb_c000)
            },
            WrapperCase("VCPU.getRegs", "KVM_GET_REGS") { o throws(KVMError) in
                _ = try o.vcpu.getRegs()
            },
            WrapperCase("VCPU.setRegs", "KVM_SET_REGS") { o throws(KVMError) in
                try o.vcpu.setRegs(Registers())
            },
            WrapperCase("VCPU.getSregs", "KVM_GET_SREGS") { o throws(KVMError) in
                _ = try o.vcpu.getSregs()
            },
            WrapperCase("VCPU.setSregs", "KVM_SET_SREGS") { o throws(KVMError) in
                try o.vcpu.setSregs(SpecialRegisters())
            },
            WrapperCase("VCPU.setCPUID2", "KVM_SET_CPUID2") { o throws(KVMError) in
                try o.vcpu.setCPUID2([CPUIDEntry(function: 0, eax: 1, ebx: 0, ecx: 0, edx: 0)])
            },
            WrapperCase("VCPU.getSupportedCPUID", "KVM_GET_SUPPORTED_CPUID") { o throws(KVMError) in
                _ = try o.vcpu.getSupportedCPUID()
            },
            WrapperCase("VCPU.tdxInitVCPU", "KVM_MEMORY_ENCRYPT_OP") { o throws(KVMError) in
                try o.vcpu.tdxInitVCPU()
            },
            WrapperCase("VCPU.tdxGetCPUID", "KVM_MEMORY_ENCRYPT_OP") { o throws(KVMError) in
                _ = try o.vcpu.tdxGetCPUID()
            },
            WrapperCase("VCPU.tdxInitMemRegion", "KVM_MEMORY_ENCRYPT_OP") { o throws(KVMError) in
                _ = try o.vcpu.tdxInitMemRegion(TDXMemRegion(sourceAddr: 0x1000, gpa: 0, nrPages: 1), measure: true)
            },
        ]
        #endif
        return cases
    }()
}

@Suite("Wrappers on bad descriptors")
struct BadDescriptorTests {
    @Test(arguments: BadDescriptor.allCases, WrapperCase.all)
    func errorNamesOperationAndErrno(bad: BadDescriptor, wrapper: WrapperCase) throws {
        let objects = try BadObjects(bad)
        let error = #expect(throws: KVMError.self) { try wrapper.call(objects) }
        #expect(error?.operation.description == wrapper.operation)
        #expect(error?.errno == bad.expectedErrno(wrapper.kind))
        #expect(error?.description.hasPrefix(wrapper.operation) == true)
        let name = KVMError.name(of: bad.expectedErrno(wrapper.kind))
        #expect(error?.description.contains("failed: \(name) (") == true)
    }

    @Test func missingDeviceIsENOENT() {
        let error = #expect(throws: KVMError.self) { try KVMSystem(path: "/nonexistent/kvm") }
        #expect(error?.operation.description == "open /nonexistent/kvm")
        #expect(error?.errno == .noSuchFileOrDirectory)
        #expect(error?.isDeviceMissing == true)
        #expect(error?.isPermissionDenied == false)
    }

    @Test func missingSEVDeviceIsENOENT() {
        let error = #expect(throws: KVMError.self) { try SEVDevice(path: "/nonexistent/sev") }
        #expect(error?.operation.description == "open /nonexistent/sev")
        #expect(error?.isDeviceMissing == true)
    }

    @Test func probeOfMissingDeviceIsENOENT() {
        let error = #expect(throws: KVMError.self) { try HostInfo.probe(devicePath: "/nonexistent/kvm") }
        #expect(error?.isDeviceMissing == true)
    }

    @Test func openingADirectoryReadWriteIsEISDIR() {
        let error = #expect(throws: KVMError.self) { try KVMSystem(path: "/") }
        #expect(error?.errno == .isDirectory)
        #expect(error?.isDeviceMissing == false)
    }

    @Test func zeroLengthMappingIsEINVAL() {
        let error = #expect(throws: KVMError.self) { try HostMemory.anonymous(size: 0) }
        #expect(error?.operation.description == "mmap")
        #expect(error?.errno == .invalidArgument)
    }

    @Test func memfdSizeFollowsSetSize() throws {
        let memfd = try Memfd(name: "kvmplan-test", size: 0)
        try memfd.setSize(0x2000)
        #expect(memfd.size == 0x2000)
        #expect(try memfd.map().size == 0x2000)
        let error = #expect(throws: KVMError.self) { try memfd.setSize(UInt64.max) }
        #expect(error?.operation.description == "ftruncate")
        #expect(error?.errno == .fileTooLarge)
        #expect(memfd.size == 0x2000)
    }

    @Test func overlongMemfdNameIsEINVAL() {
        // memfd_create(2): names longer than 249 bytes are EINVAL.
        let error = #expect(throws: KVMError.self) { try Memfd(name: String(repeating: "x", count: 300), size: 4096) }
        #expect(error?.operation.description == "memfd_create")
        #expect(error?.errno == .invalidArgument)
    }
}

@Suite("KVMError")
struct KVMErrorTests {
    @Test func descriptionNamesOperationErrnoAndText() {
        let error = KVMError(operation: .ioctl(.createVM), errno: .invalidArgument)
        #expect(error.description == "KVM_CREATE_VM failed: EINVAL (Invalid argument)")
        let detailed = KVMError(operation: .ioctl(.setUserMemoryRegion2), errno: .fileExists, detail: "slot 3")
        #expect(detailed.description == "KVM_SET_USER_MEMORY_REGION2 (slot 3) failed: EEXIST (File exists)")
        let firmware = KVMError(operation: .ioctl(.memoryEncryptOp), errno: .ioError, firmwareError: 0x16)
        #expect(firmware.description.hasSuffix(", firmware error 0x16"))
    }

    @Test(arguments: [
        (Errno.invalidArgument, "EINVAL"), (.fileExists, "EEXIST"), (.inappropriateIOCTLForDevice, "ENOTTY"),
        (.badAddress, "EFAULT"), (.badFileDescriptor, "EBADF"), (.noSuchFileOrDirectory, "ENOENT"),
        (.permissionDenied, "EACCES"), (.notPermitted, "EPERM"), (.operationNotSupportedByDevice, "ENODEV"),
        (.argListTooLong, "E2BIG"), (.resourceBusy, "EBUSY"), (.resourceTemporarilyUnavailable, "EAGAIN"),
        (.interrupted, "EINTR"), (.noMemory, "ENOMEM"), (.notSupported, "EOPNOTSUPP"), (.ioError, "EIO"),
        (Errno(rawValue: 133), "EHWPOISON"), (Errno(rawValue: 4000), "errno 4000"),
    ])
    func errnoNames(errno: Errno, name: String) {
        #expect(KVMError.name(of: errno) == name)
    }

    @Test func permissionDeniedIsDistinguishable() {
        let error = KVMError(operation: .open(path: "/dev/kvm"), errno: .permissionDenied)
        #expect(error.isPermissionDenied)
        #expect(!error.isDeviceMissing)
    }
}
