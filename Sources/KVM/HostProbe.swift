/// What this host's KVM can do: API version, VM types, capabilities (system-wide and per VM
/// type), host page size, CPU vendor and address width, kernel release.
///
/// `kvmplan probe` prints it; the CLI turns it into a `Rules.HostProfile` for `check --host`.
public struct HostInfo: Hashable, Sendable {
    /// `uname -r`, e.g. `6.18.44`.
    public var kernelRelease: String
    /// `uname -m`, e.g. `x86_64` or `aarch64`.
    public var machine: String
    /// `KVM_GET_API_VERSION` (12).
    public var apiVersion: Int
    /// `KVM_CHECK_EXTENSION(KVM_CAP_VM_TYPES)` on `/dev/kvm`: bit n = x86 VM type n (0 on arm64).
    public var vmTypesBitmap: UInt64
    /// The VM types this host accepts, ascending: decoded from `vmTypesBitmap` on x86 (an empty
    /// bitmap means a kernel without KVM_CAP_VM_TYPES, which knows only the default type); on arm64
    /// `default`, plus `armProtected` when a protected VM could be created.
    public var vmTypes: [VMType]
    /// `KVM_CHECK_EXTENSION` on `/dev/kvm` for each of `HostInfo.systemCapabilities`.
    public var capabilities: [KVMCapability: Int]
    /// `KVM_CHECK_EXTENSION` on a VM fd of each type in `vmTypes` that could be created, for each
    /// of `HostInfo.perVMCapabilities`.
    public var perVMType: [VMType: [KVMCapability: Int]]
    /// Types in `vmTypes` whose `KVM_CREATE_VM` failed anyway (e.g. SEV firmware not initialised).
    public var vmTypeFailures: [VMType: KVMError]
    /// Host page size in bytes (`sysconf(_SC_PAGESIZE)`): memslot and guest_memfd granularity.
    public var pageSize: Int
    /// CPUID leaf 0 vendor string (`GenuineIntel`, `AuthenticAMD`); empty on non-x86 hosts.
    public var cpuVendor: String
    /// x86: CPUID 0x80000008 EAX[7:0] (MAXPHYADDR); arm64: KVM_CAP_ARM_VM_IPA_SIZE. Nil if unknown.
    public var physAddrBits: Int?
    /// AMD with SME/SEV (CPUID 0x8000001F EAX bit 0 or 1): the C-bit position, EBX[5:0].
    public var sevCBit: Int?

    public init(
        kernelRelease: String, machine: String, apiVersion: Int, vmTypesBitmap: UInt64, vmTypes: [VMType],
        capabilities: [KVMCapability: Int], perVMType: [VMType: [KVMCapability: Int]],
        vmTypeFailures: [VMType: KVMError] = [:], pageSize: Int, cpuVendor: String, physAddrBits: Int?, sevCBit: Int?
    ) {
        (self.kernelRelease, self.machine, self.apiVersion) = (kernelRelease, machine, apiVersion)
        (self.vmTypesBitmap, self.vmTypes, self.capabilities) = (vmTypesBitmap, vmTypes, capabilities)
        (self.perVMType, self.vmTypeFailures, self.pageSize) = (perVMType, vmTypeFailures, pageSize)
        (self.cpuVendor, self.physAddrBits, self.sevCBit) = (cpuVendor, physAddrBits, sevCBit)
    }

    /// `x86_64` or `arm64` (the manifest's spelling of `machine`).
    public var architecture: String { machine == "aarch64" ? "arm64" : machine }

    // `systemCapabilities` and `perVMCapabilities` (what the probe reads) are generated from the uapi table into
    // UAPI+Generated.swift.

    /// Reads this host's KVM through `devicePath`.
    ///
    /// Throws the `KVMError` of the first failing call; opening the device fails with operation
    /// `open /dev/kvm` and `isDeviceMissing` (ENOENT) or `isPermissionDenied` (EACCES), which the
    /// CLI reports as "this host cannot run VMs" (exit 126).
    public static func probe(devicePath: String = KVMSystem.defaultPath) throws(KVMError) -> HostInfo {
        let kvm = try KVMSystem(path: devicePath)
        let apiVersion = try kvm.apiVersion()

        var capabilities: [KVMCapability: Int] = [:]
        for capability in systemCapabilities {
            capabilities[capability] = try kvm.checkExtension(capability)
        }
        let bitmap = UInt64(capabilities[.vmTypes] ?? 0)

        #if arch(x86_64)
        let candidates: [VMType] = bitmap == 0 ? [.default] : VMType.decodeX86Bitmap(bitmap)
        #else
        let candidates: [VMType] = [.default, .armProtected]
        #endif

        var vmTypes: [VMType] = []
        var perVMType: [VMType: [KVMCapability: Int]] = [:]
        var failures: [VMType: KVMError] = [:]
        for type in candidates {
            let vm: VM
            do {
                vm = try kvm.createVM(type: type)
            } catch {
                #if arch(arm64)
                // arm64 has no VM-type bitmap: a protected VM that cannot be created is simply absent.
                if type == .armProtected { continue }
                #endif
                vmTypes.append(type)
                failures[type] = error
                continue
            }
            vmTypes.append(type)
            var caps: [KVMCapability: Int] = [:]
            for capability in perVMCapabilities {
                caps[capability] = try vm.checkExtension(capability)
            }
            perVMType[type] = caps
        }

        let names = try Syscalls.systemNames()
        let cpu = cpuFacts()
        #if arch(arm64)
        let physAddrBits = capabilities[.armVMIPASize].flatMap { $0 > 0 ? $0 : nil } ?? cpu.physAddrBits
        #else
        let physAddrBits = cpu.physAddrBits
        #endif

        return HostInfo(
            kernelRelease: names.release, machine: names.machine, apiVersion: apiVersion, vmTypesBitmap: bitmap,
            vmTypes: vmTypes, capabilities: capabilities, perVMType: perVMType, vmTypeFailures: failures,
            pageSize: Syscalls.pageSize(), cpuVendor: cpu.vendor, physAddrBits: physAddrBits, sevCBit: cpu.sevCBit)
    }

    /// CPUID facts: vendor (leaf 0), MAXPHYADDR (0x80000008) and, on AMD with SME/SEV, the C-bit
    /// (0x8000001F). All nil/empty on non-x86 hosts.
    static func cpuFacts() -> (vendor: String, physAddrBits: Int?, sevCBit: Int?) {
        guard let leaf0 = Syscalls.cpuid(leaf: 0) else { return ("", nil, nil) }
        var vendorBytes: [UInt8] = []
        for register in [leaf0.ebx, leaf0.edx, leaf0.ecx] {
            for shift in stride(from: 0, to: 32, by: 8) { vendorBytes.append(UInt8(truncatingIfNeeded: register >> shift)) }
        }
        let vendor = String(decoding: vendorBytes, as: UTF8.self)
        let physAddrBits = Syscalls.cpuid(leaf: 0x8000_0008).map { Int($0.eax & 0xff) }
        var sevCBit: Int? = nil
        if vendor == "AuthenticAMD", let sev = Syscalls.cpuid(leaf: 0x8000_001F), sev.eax & 0x3 != 0 {
            sevCBit = Int(sev.ebx & 0x3f)
        }
        return (vendor, physAddrBits, sevCBit)
    }
}
