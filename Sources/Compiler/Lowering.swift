import Diagnostics
import GuestLayout
import Manifest
import Plan
import Rules

/// The `lower` stage: a checked manifest → an ordered, typed plan (DESIGN §4), following the per-platform
/// sequences and ordering rules of KVM_UAPI.md §3. Pure: the same manifest always gives the same plan.
public struct Lowering: Sendable {
    public init() {}

    public func lower(_ checked: CheckedManifest) -> Plan {
        var builder = PlanBuilder(checked)
        builder.build()
        return builder.plan
    }

    /// `sha256:` + hex digest of bytes.
    public static func digest(_ bytes: [UInt8]) -> String { PayloadDigest.sha256(bytes) }
}

/// Where a region's bytes live on the host side.
struct RegionLayout {
    var region: Manifest.Region
    var slot: UInt32
    /// The shared-side mapping the host can write (`%map.NAME`), if the region has one.
    var mapping: FdRef?
    var guestMemfd: FdRef?
    /// The host can write `mapping` before launch (false for an mmap of a guest_memfd without INIT_SHARED,
    /// whose pages fault with SIGBUS in the host).
    var hostWritable = true
}

struct PlanBuilder {
    let checked: CheckedManifest
    let context: RuleContext
    let manifest: Manifest
    let traits: PlatformTraits
    var steps: [Step] = []
    var requires: Requirements
    var handlers: [Handler] = []
    var layouts: [RegionLayout] = []
    var payloadInfo: PayloadInfo? = nil
    /// SNP: launch updates wait until the vCPUs' boot state is set (it writes the boot area they measure).
    var deferPopulates = false
    var deferred: [Step] = []
    /// SNP: the launch digest over the LAUNCH_UPDATE steps, in step order; nil once a page's contents are unknown.
    var snpDigest: SNPLaunchDigest? = SNPLaunchDigest()
    /// TDX: the TD's MRTD over the KVM_TDX_INIT_MEM_REGION steps, in step order.
    var tdxMRTD = TDXMRTD()
    /// The expected launch measurement, when the platform's back end computes one.
    var measurement: PlanMeasurement?
    /// The platform's back end (`Platforms/`): a fresh value each time, so passing `&self` to it never
    /// overlaps an access to one of its own fields.
    var backEnd: any PlatformLowering { Self.backEnd(platform) }

    init(_ checked: CheckedManifest) {
        self.checked = checked
        self.context = checked.context
        self.manifest = checked.manifest
        self.traits = checked.traits
        self.requires = Requirements(vmType: VMTypeRequirement(.x86Default, source: checked.manifest.platform.location))
    }

    var plan: Plan {
        Plan(
            name: manifest.name.value, arch: manifest.arch.value == .x86_64 ? .x86_64 : .arm64,
            platform: backEnd.planPlatform, manifestDigest: Lowering.digest(manifest.bytes), requires: requires, steps: steps,
            handlers: handlers, payload: payloadInfo, measurement: measurement)
    }

    mutating func add(_ id: String, _ operation: Operation, at source: SourceLocation?, comment: String? = nil) {
        steps.append(Step(id, operation, source: source, comment: comment))
    }

    var isX86: Bool { manifest.arch.value == .x86_64 }
    var platform: Platform { manifest.platform.value }
    /// x86 VM types with KVM_MEMORY_ATTRIBUTE_PRIVATE (sw-protected, SNP, TDX).
    var usesAttributes: Bool { isX86 && traits.hasPrivateMemory }
    var vcpuCount: UInt32 { UInt32(manifest.vcpus.value) }
    /// A Linux guest: in-kernel IRQ chip and PIT, the boot protocol's zero page, the i8042 reset.
    var isLinux: Bool { isX86 && manifest.payload?.format.value == .linux }
    /// KVM_CAP_EXIT_HYPERCALL(1 << KVM_HC_MAP_GPA_RANGE): always on SNP and TDX (without it every guest
    /// page-state change fails: sev.c:3824-3827, 4034-4036, tdx.c:1247-1257), else when the guest may convert by
    /// hypercall.
    var enablesHypercallExit: Bool {
        traits.conversionNeedsHypercall
            || (usesAttributes && context.conversion.contains(.hypercall) && !context.convertibleNames.isEmpty)
    }

    // MARK: - The sequence

    mutating func build() {
        let vmType = backEnd.vmType(self)
        requires.vmType = VMTypeRequirement(vmType, source: manifest.platform.location)
        collectRequirements(vmType)

        add("kvm", .openDevice(.kvm), at: manifest.root)
        add("api-version", .getAPIVersion(), at: manifest.root)
        for requirement in requires.sortedCapabilities where requirement.scope == .system {
            add("cap.\(requirement.cap.name)", .checkExtension(on: .kvm, cap: requirement.cap, expect: requirement.expect), at: requirement.source)
        }
        backEnd.openDevices(&self)
        add("vm", .createVM(type: vmType), at: manifest.platform.location)
        for requirement in requires.sortedCapabilities where requirement.scope == .vm {
            add("cap.\(requirement.cap.name)", .checkExtension(on: .vm, cap: requirement.cap, expect: requirement.expect), at: requirement.source)
        }
        if enablesHypercallExit {
            add(
                "enable.KVM_CAP_EXIT_HYPERCALL", .enableCap(cap: .exitHypercall, args: [1 << Hypercall.mapGPARange, 0, 0, 0]),
                at: manifest.sharing?.conversion?.location ?? manifest.platform.location,
                comment: traits.conversionNeedsHypercall
                    ? "KVM_HC_MAP_GPA_RANGE exits to the launcher; without them every guest page-state change fails (KVM_UAPI.md §8)"
                    : "KVM_HC_MAP_GPA_RANGE exits to the launcher")
        }
        let boots = manifest.payload != nil && manifest.payload?.format.value != .firmware

        if isLinux { lowerLinuxDevices() }

        backEnd.lowerSequence(&self, boots: boots)
        lowerHandlers()
        if manifest.payload != nil {
            for index in 0..<vcpuCount {
                add("run.\(index)", .run(vcpu: .vcpu(index)), at: manifest.vcpus.location)
            }
        }
    }

    // MARK: - Requirements

    mutating func collectRequirements(_ vmType: VMType) {
        let platformAt = manifest.platform.location
        if isX86 && platform != .default, let bit = traits.vmTypeBit {
            requires.require(.vmTypes, .bits(1 << UInt64(bit)), at: platformAt)
        }
        backEnd.addRequirements(&self)
        let slots = context.memslotRegions
        if !slots.isEmpty { requires.require(.nrMemslots, .atLeast(UInt64(slots.count)), at: manifest.memory.regionsLocation) }
        if vcpuCount > 1 {
            // A TD's limit is the VM's own (min(max_vcpus, present CPUs), tdx.c:665): ask the VM fd.
            requires.require(
                .maxVCPUs, .atLeast(UInt64(vcpuCount)), scope: traits.startsAtResetVector ? .vm : .system, at: manifest.vcpus.location)
        }
        if traits.startsAtResetVector { requires.require(.splitIRQChip, .atLeast(1), scope: .vm, at: platformAt) }
        var gmemFlags: GuestMemfdFlags = []
        var gmemFlagsAt: SourceLocation? = nil
        for region in context.regions {
            if region.backing.value == .guestMemfd {
                requires.require(.guestMemfd, .atLeast(1), at: region.backing.location)
                requires.require(.userMemory2, .atLeast(1), at: region.backing.location)
                let flags = Self.gmemFlags(region)
                if !flags.isEmpty {
                    gmemFlags.formUnion(flags)
                    gmemFlagsAt = gmemFlagsAt ?? region.guestMemfd?.location
                }
            }
            if region.readonly.value { requires.require(.readonlyMem, .atLeast(1), at: region.readonly.location) }
            if usesAttributes && region.access.value != .shared {
                requires.require(.memoryAttributes, .bits(8), scope: .vm, at: region.access.location)
            }
        }
        if !gmemFlags.isEmpty {
            requires.require(.guestMemfdFlags, .bits(gmemFlags.rawValue), scope: .vm, at: gmemFlagsAt)
            requires.guestMemfdFlags = GuestMemfdFlagsRequirement(gmemFlags, source: gmemFlagsAt)
        }
        if enablesHypercallExit {
            requires.require(
                .exitHypercall, .bits(1 << Hypercall.mapGPARange), at: manifest.sharing?.conversion?.location ?? platformAt)
        }
        if isLinux, let format = manifest.payload?.format.location {
            for cap in [Capability.irqchip, .pit2, .setTSSAddr, .setIdentityMapAddr] {
                requires.require(cap, .atLeast(1), at: format)
            }
        }
    }

    // MARK: - Linux: in-kernel devices

    /// What Linux needs from KVM before any vCPU exists: the VMX TSS and identity-map pages (Intel; harmless
    /// on AMD), the in-kernel PIC, IOAPIC and local APICs, and the PIT (with KVM answering port 0x61).
    mutating func lowerLinuxDevices() {
        guard let at = manifest.payload?.format.location else { return }
        add("tss-addr", .setTSSAddr(address: LinuxBootArea.tssAddress), at: at, comment: "Intel VMX real-mode TSS, 3 pages outside RAM")
        add("identity-map-addr", .setIdentityMapAddr(address: LinuxBootArea.identityMapAddress), at: at, comment: "Intel VMX identity map, 1 page outside RAM")
        add("irqchip", .createIRQChip(), at: at, comment: "PIC, IOAPIC, a local APIC per vCPU")
        add("pit", .createPIT2(flags: .speakerDummy), at: at, comment: "i8254 timer on IRQ 0; KVM answers port 0x61")
    }

    static func gmemFlags(_ region: Manifest.Region) -> GuestMemfdFlags {
        var flags: GuestMemfdFlags = []
        if region.guestMemfd?.mmap.value == true { flags.insert(.mmap) }
        if region.guestMemfd?.initShared.value == true { flags.insert(.initShared) }
        return flags
    }

    // MARK: - Memory

    mutating func lowerMemory() {
        var slot: UInt32 = 0
        for region in context.regions where region.backing.value != .none {
            let name = region.name.value
            let at = region.location
            let size = region.size.value
            var layout = RegionLayout(region: region, slot: slot, mapping: nil, guestMemfd: nil)
            let map = FdRef.mapping(name)
            switch region.backing.value {
            case .none:
                continue
            case .anonymous:
                add("map.\(name)", .mmap(name: name, source: .anonymous, size: size, offset: 0, shared: false, noreserve: true), at: region.backing.location)
                layout.mapping = map
            case .hugetlb2M, .hugetlb1G:
                let huge: HugePageSize = region.backing.value == .hugetlb2M ? .size2M : .size1G
                add("map.\(name)", .mmap(name: name, source: .hugetlbAnonymous(huge), size: size, offset: 0, shared: false, noreserve: true), at: region.backing.location)
                layout.mapping = map
            case .memfd:
                let fd = FdRef.memfd(name)
                add("memfd.\(name)", .memfdCreate(name: name, hugetlb: nil), at: region.backing.location)
                add("truncate.\(name)", .ftruncate(fd: fd, size: size), at: region.size.location)
                add("map.\(name)", .mmap(name: name, source: .memfd(fd), size: size, offset: 0, shared: true, noreserve: false), at: region.backing.location)
                layout.mapping = map
            case .guestMemfd:
                let fd = FdRef.guestMemfd(name)
                let flags = Self.gmemFlags(region)
                add("gmem.\(name)", .createGuestMemfd(name: name, size: size, flags: flags), at: region.backing.location)
                layout.guestMemfd = fd
                if flags.contains(.mmap) {
                    // In-place: guest_memfd is the slot's only backing and the host maps it directly.
                    add("map.\(name)", .mmap(name: name, source: .guestMemfd(fd), size: size, offset: 0, shared: true, noreserve: false), at: region.guestMemfd?.mmap.location ?? at)
                    layout.mapping = map
                    layout.hostWritable = flags.contains(.initShared)
                } else if region.access.value != .private {
                    // The shared side of a convertible (or shared) region: anonymous memory.
                    add("map.\(name)", .mmap(name: name, source: .anonymous, size: size, offset: 0, shared: false, noreserve: true), at: region.access.location)
                    layout.mapping = map
                }
            }
            var flags: MemoryRegionFlags = []
            if region.readonly.value { flags.insert(.readonly) }
            if region.dirtyLog.value { flags.insert(.logDirtyPages) }
            if let gmem = layout.guestMemfd {
                flags.insert(.guestMemfd)
                add(
                    "slot.\(name)",
                    .setUserMemoryRegion2(
                        region: name, slot: slot, flags: flags, gpa: region.base.value, size: size,
                        userspace: layout.mapping.map { Address($0) }, guestMemfd: GuestMemfdBinding(gmem)),
                    at: at)
            } else if let mapping = layout.mapping {
                add(
                    "slot.\(name)",
                    .setUserMemoryRegion(region: name, slot: slot, flags: flags, gpa: region.base.value, size: size, userspace: Address(mapping)),
                    at: at)
            }
            if usesAttributes && region.initiallyPrivate {
                add("attr.\(name)", .setMemoryAttributes(gpa: region.base.value, size: size, attributes: .private), at: region.initial.isExplicit ? region.initial.location : region.access.location)
            }
            layouts.append(layout)
            slot += 1
        }
    }

    func layout(containing gpa: UInt64) -> RegionLayout? {
        layouts.first { gpa >= $0.region.base.value && gpa - $0.region.base.value < $0.region.size.value }
    }

    // MARK: - Payload

    mutating func lowerPayload() {
        guard let payload = manifest.payload, let bytes = context.payloadFile?.bytes, let path = context.payloadPath,
            let image = context.payloadImage
        else { return }
        var mode: PlanBootMode = isX86 ? PlanBootMode(payload.mode.value) : .el1
        switch image.start {
        case .linuxBootProtocol:
            lowerLinux(payload, bytes: bytes, path: path)
            return
        case .resetVector:
            // The reset state: a TD starts in 32-bit protected mode, other x86 vCPUs in real mode.
            mode = traits.startsAtResetVector ? .protected : .real
        case .bootMode:
            break
        }
        let format = PayloadInfo.Format(payload.format.value)
        // The pieces to copy: the image's segments (one for a flat image, one per PT_LOAD segment for ELF).
        let pieces = image.segments.map { (gpa: $0.gpa, fileOffset: $0.fileOffset, fileSize: $0.fileSize) }
        let measured = context.measured && traits.measuredLaunch
        let at = payload.load?.location ?? payload.path.location
        payloadInfo = PayloadInfo(
            path: path, format: format, sha256: Lowering.digest(bytes), size: UInt64(bytes.count),
            loadGPA: pieces.first?.gpa ?? 0, entry: image.entry, mode: mode, measured: measured, source: payload.location)
        // Pieces whose pages overlap (ELF segments sharing a 4 KiB page) form one group: one shared source and
        // one populate over the union of their pages, since a page can be added to private memory only once
        // (KVM_UAPI.md §3.1, §3.2). Groups keep the order of their first piece.
        struct Group {
            var layout: RegionLayout
            var members: [Int]
            var pageStart: UInt64
            var pageEnd: UInt64
        }
        // Sorted by region and first page, then swept (n log n, whatever a hostile ELF's segment count).
        let placed = pieces.indices.compactMap { n -> (n: Int, layout: RegionLayout, start: UInt64, end: UInt64)? in
            let piece = pieces[n]
            guard piece.fileSize > 0, let layout = layout(containing: piece.gpa) else { return nil }
            return (n, layout, piece.gpa & ~UInt64(4095), (piece.gpa + piece.fileSize + 4095) & ~UInt64(4095))
        }
        .sorted { ($0.layout.region.base.value, $0.start, $0.n) < ($1.layout.region.base.value, $1.start, $1.n) }
        var groups: [Group] = []
        for p in placed {
            if let last = groups.last, last.layout.region.name.value == p.layout.region.name.value, p.start < last.pageEnd {
                groups[groups.count - 1].members.append(p.n)
                groups[groups.count - 1].pageEnd = max(last.pageEnd, p.end)
            } else {
                groups.append(Group(layout: p.layout, members: [p.n], pageStart: p.start, pageEnd: p.end))
            }
        }
        for g in groups.indices { groups[g].members.sort() }
        groups.sort { $0.members[0] < $1.members[0] }
        func suffix(_ n: Int) -> String { pieces.count == 1 ? "payload" : "payload.\(n)" }
        for group in groups {
            let layout = group.layout
            let span = group.pageEnd - group.pageStart
            let populates = traits.measuredLaunch && layout.region.initiallyPrivate
            // The shared copy the host writes: the region's own mapping, or a staging buffer for private-only
            // memory that the platform's launch command then copies (and measures) into guest_memfd.
            let pageSource: Address
            if let mapping = layout.mapping, layout.hostWritable, !populates || layout.region.access.value != .private {
                pageSource = Address(mapping, offset: group.pageStart - layout.region.base.value)
            } else {
                let staging = "staging-\(suffix(group.members[0]).replacingAll(".", "-"))"
                add("map.\(staging)", .mmap(name: staging, source: .anonymous, size: span, offset: 0, shared: false, noreserve: false), at: at, comment: "shared source buffer for the launch command")
                pageSource = Address(.mapping(staging), offset: 0)
            }
            var parts: [(gpa: UInt64, bytes: ArraySlice<UInt8>)] = []
            for n in group.members {
                let piece = pieces[n]
                let slice = bytes[Int(piece.fileOffset)..<Int(piece.fileOffset + piece.fileSize)]
                let into = Address(pageSource.map, offset: pageSource.offset + (piece.gpa - group.pageStart))
                add(
                    "load.\(suffix(n))",
                    .loadPayload(into: into, gpa: piece.gpa, size: piece.fileSize, fileOffset: piece.fileOffset, sha256: Lowering.digest(Array(slice))),
                    at: at)
                parts.append((piece.gpa, slice))
            }
            guard populates else { continue }
            backEnd.populate(
                PopulatedPiece(
                    suffix: suffix(group.members[0]), pageStart: group.pageStart, span: span, parts: parts,
                    source: pageSource, measured: measured, at: payload.measured?.location ?? at),
                in: &self)
        }
    }

    /// The Linux boot protocol: the protected-mode kernel, the initrd, the zero page with the command line.
    mutating func lowerLinux(_ payload: Manifest.Payload, bytes: [UInt8], path: String) {
        guard case .success(let layout)? = context.linuxLayout else { return }
        let at = payload.path.location
        var initrdInfo: PayloadInfo.Initrd? = nil
        if let initrdPath = context.initrdPath, let initrdBytes = context.initrdFile?.bytes, layout.initrd != nil {
            initrdInfo = PayloadInfo.Initrd(path: initrdPath, sha256: Lowering.digest(initrdBytes), size: UInt64(initrdBytes.count))
        }
        payloadInfo = PayloadInfo(
            path: path, format: .linux, sha256: Lowering.digest(bytes), size: UInt64(bytes.count), loadGPA: layout.kernelGPA,
            entry: layout.entry, mode: .linux, measured: false, source: payload.location)
        payloadInfo?.initrd = initrdInfo
        func address(_ gpa: UInt64) -> Address? {
            guard let layout = self.layout(containing: gpa), let mapping = layout.mapping else { return nil }
            return Address(mapping, offset: gpa - layout.region.base.value)
        }
        let start = Int(layout.kernelFileOffset)
        if let into = address(layout.kernelGPA) {
            add(
                "load.kernel",
                .loadPayload(
                    into: into, gpa: layout.kernelGPA, size: layout.kernelSize, fileOffset: layout.kernelFileOffset,
                    sha256: Lowering.digest(Array(bytes[start..<start + Int(layout.kernelSize)]))),
                at: at, comment: "the protected-mode kernel (bzImage after its setup sectors)")
        }
        if let initrd = layout.initrd, let info = initrdInfo, let into = address(initrd.gpa), let site = payload.initrd {
            add("load.initrd", .loadInitrd(into: into, gpa: initrd.gpa, size: initrd.size, sha256: info.sha256), at: site.location)
        }
        if let into = address(LinuxBootArea.zeroPage) {
            let e820 = layout.e820.map {
                E820Entry(address: $0.address, size: $0.size, kind: $0.kind == .ram ? .ram : .reserved)
            }
            add(
                "boot-params",
                .linuxBootParams(
                    into: into, zeroPage: LinuxBootArea.zeroPage, cmdlineGPA: LinuxBootArea.cmdline,
                    cmdline: payload.cmdline?.value ?? "", initrd: layout.initrd.map { GPARange(gpa: $0.gpa, size: $0.size) },
                    e820: e820),
                at: payload.cmdline?.location ?? payload.format.location, comment: "Linux boot protocol \(context.bzImageVersion)")
        }
        if let into = address(LinuxMPTable.defaultAddress) {
            add(
                "mp-table", .linuxMPTable(into: into, gpa: LinuxMPTable.defaultAddress, cpus: vcpuCount), at: manifest.vcpus.location,
                comment: "processors and IOAPIC for a guest without ACPI")
        }
    }

    /// A launch-command step: now, or after the vCPUs' boot state when SNP defers them.
    mutating func populate(_ step: Step) {
        if deferPopulates { deferred.append(step) } else { steps.append(step) }
    }

    static let launchUpdateLoop = "repeated until len == 0: KVM may do part of the range (sev.c:2483-2489)"

    /// SNP: the launcher's GDT and page tables, written through the region's shared side by the first boot step,
    /// become measured private pages (KVM_UAPI.md §8; the `payload.snp-boot-area` rule checks the layout).
    mutating func lowerSNPBootArea() {
        guard let payload = manifest.payload, let area = X86BootArea.range(payload.mode.value),
            let layout = layout(containing: area.lowerBound), let mapping = layout.mapping
        else { return }
        let measured = context.measured && traits.measuredLaunch
        let ram = context.memslotRegions.map { (gpa: $0.base.value, size: $0.size.value) }
        if let image = X86BootArea.image(mode: payload.mode.value, ram: ram) {
            snpDigest?.launchUpdate(measured ? .normal : .unmeasured, gpa: area.lowerBound, data: image)
        } else {
            snpDigest = nil  // RAM above 4 GiB: 1 GiB pages only if the host CPU has them
        }
        add(
            "snp.launch-update.boot-area",
            .snpLaunchUpdate(
                gpa: area.lowerBound, size: area.upperBound - area.lowerBound, pageType: measured ? .normal : .unmeasured,
                source: Address(mapping, offset: area.lowerBound - layout.region.base.value)),
            at: payload.mode.location,
            comment: "the launcher's GDT\(payload.mode.value == .long ? " and page tables" : ""), written by boot.0; " + Self.launchUpdateLoop)
    }

    // MARK: - vCPUs

    mutating func createVCPUs(boot: Bool) {
        let at = manifest.vcpus.location
        for index in 0..<vcpuCount {
            add("vcpu.\(index)", .createVCPU(index: index), at: at)
            add("map-run.\(index)", .mmapRun(vcpu: .vcpu(index)), at: at)
            backEnd.setUpVCPU(index, boot: boot, in: &self)
        }
    }

    /// A vCPU's CPUID (x86) or arm64 init, then its boot state when `boot`: what every platform but TDX does.
    mutating func setUpVCPU(_ index: UInt32, boot: Bool) {
        let at = manifest.vcpus.location
        let vcpu = FdRef.vcpu(index)
        let entry = context.payloadEntry ?? 0
        if isX86 {
            add("cpuid.\(index)", .setCPUID2(vcpu: vcpu, from: isLinux ? .supportedHypervisor : .supported), at: at)
        } else {
            add("vcpu-init.\(index)", .armVCPUInit(vcpu: vcpu, features: [.psci0_2]), at: at)
        }
        guard boot, let payload = manifest.payload else { return }
        if isLinux {
            // Only the boot CPU starts at the entry; the others wait in the in-kernel local APIC for the
            // INIT/SIPI of the guest's SMP bring-up.
            if index == 0 {
                add("boot.0", .setBootState(vcpu: vcpu, mode: .linux, entry: entry, vcpuCount: vcpuCount), at: payload.format.location)
            }
        } else {
            let mode: PlanBootMode = isX86 ? PlanBootMode(payload.mode.value) : .el1
            add("boot.\(index)", .setBootState(vcpu: vcpu, mode: mode, entry: entry, vcpuCount: vcpuCount), at: payload.mode.location)
        }
    }

    // MARK: - Handlers

    mutating func lowerHandlers() {
        if isLinux {
            // With an in-kernel local APIC, HLT never exits: the guest ends by the i8042 reset or the exit port.
            handlers.append(.serial(source: manifest.root))
            handlers.append(.exitPort(source: manifest.root))
            handlers.append(.i8042(source: manifest.payload?.format.location))
        } else if isX86 {
            handlers.append(.serial(source: manifest.root))
            handlers.append(.exitPort(source: manifest.root))
            handlers.append(.halt(source: manifest.root))
        }
        for region in context.regions where region.backing.value == .none || region.readonly.value {
            handlers.append(
                Handler(
                    .mmio(region: region.name.value, range: GPARange(gpa: region.base.value, size: region.size.value), readonly: region.readonly.value),
                    source: region.location))
        }
        guard traits.hasPrivateMemory, !traits.possibleConversion.isEmpty else { return }
        let names = Set(context.convertibleNames)
        let convertible = context.regions.filter { names.contains($0.name.value) && $0.access.value == .convertible }
            .map { ConvertibleRange(region: $0.name.value, gpa: $0.base.value, size: $0.size.value) }
        guard !convertible.isEmpty else { return }
        let onShare = manifest.sharing.map { PlanOnShare($0.onShare.value) } ?? .punchHole
        let onUnshare = manifest.sharing.map { PlanOnUnshare($0.onUnshare.value) } ?? .discard
        let at = manifest.sharing?.location ?? manifest.platform.location
        if context.conversion.contains(.hypercall) {
            handlers.append(Handler(.hypercallMapGPARange(convertible: convertible, onShare: onShare, onUnshare: onUnshare), source: at))
        }
        if context.conversion.contains(.fault) {
            handlers.append(Handler(.memoryFault(convertible: convertible, onShare: onShare, onUnshare: onUnshare), source: at))
        }
    }
}
