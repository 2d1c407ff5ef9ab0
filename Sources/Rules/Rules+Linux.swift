import Diagnostics
import GuestLayout
import Manifest

// Rules of `payload.format: linux`: an x86 bzImage booted through the Linux/x86 boot protocol
// (Documentation/arch/x86/boot.rst), with an optional initrd and command line (DESIGN §10).

extension RuleContext {
    /// `2.15` for the payload's boot protocol, or `?`.
    public var bzImageVersion: String {
        guard case .success(let image)? = bzImage else { return "?" }
        return image.versionText
    }

    /// The regions with memory, as the Linux layout sees them.
    public var linuxRAM: [LinuxBootLayout.RAM] {
        memslotRegions.map {
            LinuxBootLayout.RAM(name: $0.name.value, base: $0.base.value, size: $0.size.value, readonly: $0.readonly.value)
        }
    }

    /// The initrd's size, when there is one and it is readable.
    var initrdSize: UInt64? {
        guard let file = initrdFile, file.kind == .regular, file.bytes != nil else { return nil }
        return file.size
    }
}

/// `mode`, `entry` and `load` are the boot protocol's with `format: linux`; `initrd` and `cmdline` exist only there.
public enum LinuxKeys: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.linux-keys", severity: .error,
        summary: "`mode`, `entry` or `load` given with `format: linux`, or `initrd`/`cmdline` without it.",
        rationale: "The Linux boot protocol decides where a bzImage goes (0x100000), how it is entered (64-bit mode at its 64-bit entry, RSI = zero page) and where it runs (pref_address); a manifest value could only contradict it. `initrd` and `cmdline` are handed over in the zero page, which only Linux guests get.",
        kernel: "Nothing reaches the kernel; a guest entered elsewhere would fault at its first instruction.",
        fix: "Remove `mode`, `entry` and `load` from a Linux payload; use `format: linux` for `initrd` and `cmdline`.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload else { return }
        if payload.format.value == .linux {
            if let load = payload.load {
                diagnostics.append(emit("'load' is decided by the Linux boot protocol (the kernel loads at 0x100000)", at: load))
            }
            if let entry = payload.entry {
                diagnostics.append(emit("'entry' is decided by the Linux boot protocol (the 64-bit entry, 0x100200)", at: entry))
            }
            if payload.mode.isExplicit {
                diagnostics.append(emit("'mode' is decided by the Linux boot protocol (64-bit entry, long mode)", at: payload.mode))
            }
        } else {
            if let initrd = payload.initrd {
                diagnostics.append(emit("'initrd' needs 'format: linux'", at: initrd))
            }
            if let cmdline = payload.cmdline {
                diagnostics.append(emit("'cmdline' needs 'format: linux'", at: cmdline))
            }
        }
    }
}

/// Linux guests are x86 bzImages for now.
public enum LinuxArch: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.linux-arch", severity: .error, summary: "`format: linux` on arm64 (not yet).",
        rationale: "kvmplan boots Linux through the x86 boot protocol (a bzImage, a zero page, the 64-bit entry). The arm64 protocol (an Image with its 64-byte header, a device tree in x0, EL1 entry) is not implemented yet.",
        kernel: "Nothing reaches the kernel.",
        fix: "Use `arch: x86_64`, or boot an arm64 kernel as `format: elf` or `flat` with your own boot code.")

    public static let appliesTo: Set<Architecture> = [.arm64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, payload.format.value == .linux else { return }
        diagnostics.append(
            emit("'format: linux' is not supported on arm64 yet (kvmplan implements the x86 boot protocol only)", at: payload.format))
    }
}

/// Linux guests run where the launcher can build their boot state.
public enum LinuxPlatform: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.linux-platform", severity: .error, summary: "`format: linux` on a platform whose launch kvmplan cannot do for Linux.",
        rationale: "The launcher writes the zero page, command line and page tables into shared guest memory and sets the vCPU's registers. SEV-SNP and TDX guests start from measured private memory with firmware (OVMF / TDVF) that kvmplan does not provide, and their register state is not host-writable.",
        kernel: "KVM_SET_REGS on an SNP or TDX vCPU fails (EINVAL) once its state is protected; the guest could not read a zero page in shared memory before it validates it.",
        fix: "Use `platform: default` or `sw-protected` for a directly booted Linux kernel.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, payload.format.value == .linux, !context.isDamaged(.platform) else { return }
        let platform = context.manifest.platform.value
        guard platform != .default && platform != .swProtected else { return }
        diagnostics.append(
            emit(
                "'format: linux' boots a kernel directly, which platform '\(platform.rawValue)' cannot do (it needs measured firmware)",
                at: payload.format, notes: [DiagnosticNote("platform declared here", at: context.manifest.platform.location)]))
    }
}

/// The payload is a bzImage kvmplan can boot.
public enum LinuxImage: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.linux-image", severity: .error, summary: "The payload of `format: linux` is not a bootable x86_64 bzImage.",
        rationale: "A bzImage carries the boot protocol's setup header: the magic \"HdrS\" at 0x202, the protocol version at 0x206 (kvmplan needs 2.06 or newer, and 2.12's xloadflags with XLF_KERNEL_64 for the 64-bit entry), LOADED_HIGH in loadflags, and setup_sects, init_size, cmdline_size, initrd_addr_max, pref_address. A truncated or corrupt header is reported here, never trusted.",
        kernel: "Nothing reaches the kernel; a guest entered at a wrong offset faults at once (KVM_EXIT_SHUTDOWN).",
        fix: "Point `path` at arch/x86/boot/bzImage of an x86_64 build (not vmlinux, not a compressed vmlinuz of another architecture).")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, case .failure(let failure)? = context.bzImage else { return }
        let shown = context.payloadPath ?? payload.path.value
        diagnostics.append(emit("payload '\(shown)': \(failure.reason)", at: payload.path))
    }
}

/// The kernel and its run area lie in writable RAM, and KVM's VMX pages do not collide with a region.
public enum LinuxPlacement: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.linux-placement", severity: .error, summary: "The kernel cannot be placed in RAM.",
        rationale: "The protected-mode kernel is loaded at 0x100000 and decompresses itself into [pref_address, pref_address + init_size) (a relocatable kernel aligns its load address up to kernel_alignment, never below pref_address; a non-relocatable one runs at pref_address). All of it must lie in one writable RAM region, as must the MP table at 0x9fc00. On Intel, KVM_SET_TSS_ADDR and KVM_SET_IDENTITY_MAP_ADDR need 0xfffbc000–0xfffbffff free of memslots; the in-kernel IOAPIC (0xfec00000) and local APICs (0xfee00000) need their pages free too.",
        kernel: "The decompressor writes into memory that does not exist (KVM_EXIT_MMIO storm or a triple fault); KVM_SET_TSS_ADDR over a memslot corrupts guest memory on VMX.",
        fix: "Start a RAM region at 0 that reaches past pref_address + init_size (64 MiB is plenty for a small kernel); keep 0xfffbc000–0xfffbffff free.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, payload.format.value == .linux, !context.isDamaged(.memory) else { return }
        let vmx = LinuxBootArea.identityMapAddress..<LinuxBootArea.vmxPagesEnd
        for region in context.regions {
            guard let end = region.end, region.base.value < vmx.upperBound, end > vmx.lowerBound else { continue }
            diagnostics.append(
                emit(
                    "region '\(region.name.value)' covers 0xfffbc000..0xfffbffff, where KVM keeps the TSS and identity-map pages of a Linux guest (KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR)",
                    at: region.base))
        }
        for (address, what) in [(UInt64(LinuxMPTableArea.ioAPICAddress), "IOAPIC"), (UInt64(LinuxMPTableArea.localAPICAddress), "local APIC")] {
            for region in context.memslotRegions {
                guard let end = region.end, region.base.value <= address, address < end else { continue }
                diagnostics.append(
                    emit(
                        "region '\(region.name.value)' has memory at \(ManifestInteger.formatHex(address)), where the in-kernel \(what) of a Linux guest lives (KVM_CREATE_IRQCHIP)",
                        at: region.base))
            }
        }
        if context.ramRegion(containing: LinuxMPTableArea.defaultAddress, length: 0x400).map({ !$0.readonly.value }) != true {
            diagnostics.append(
                emit("a Linux guest needs writable RAM at 0x9fc00..0x9ffff for its MP table (processors and IOAPIC)", at: payload.format))
        }
        if case .failure(.placement(let message))? = context.linuxLayout {
            diagnostics.append(emit(message, at: payload.path))
        }
    }
}

/// RAM holds the kernel and the initrd together.
public enum LinuxMemory: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.linux-memory", severity: .error, summary: "RAM is too small for the kernel and the initrd.",
        rationale: "The initrd is placed page-aligned above the kernel's run area [pref_address, pref_address + init_size), in the same region; the kernel needs both before it has any memory of its own.",
        kernel: "Nothing reaches the kernel; a truncated initrd makes the kernel panic (\"junk in compressed archive\" or no init).",
        fix: "Grow the RAM region, or shrink the initrd.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, !context.isDamaged(.memory),
            case .failure(.memory(let message))? = context.linuxLayout
        else { return }
        diagnostics.append(emit(message, at: payload.initrd?.site ?? payload.path.site))
    }
}

/// The initrd file is usable and fits below `initrd_addr_max`.
public enum LinuxInitrd: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.linux-initrd", severity: .error,
        summary: "The initrd is missing, unreadable or empty, or does not fit below the kernel's initrd_addr_max.",
        rationale: "`initrd` is resolved relative to the manifest's directory. The kernel reads the initrd only below initrd_addr_max (setup header 0x22c; 0x7fffffff for most kernels), so it must fit there, above the kernel.",
        kernel: "Nothing reaches the kernel; an initrd above initrd_addr_max is ignored by the kernel (\"initrd extends beyond end of memory\").",
        fix: "Fix the path, or make RAM below initrd_addr_max large enough.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, payload.format.value == .linux, let initrd = payload.initrd else { return }
        let shown = context.initrdPath ?? initrd.value
        guard let file = context.initrdFile else {
            diagnostics.append(emit("initrd '\(shown)' does not exist or cannot be read", at: initrd))
            return
        }
        switch file.kind {
        case .directory: diagnostics.append(emit("initrd '\(shown)' is a directory, not a file", at: initrd))
        case .other: diagnostics.append(emit("initrd '\(shown)' is not a regular file", at: initrd))
        case .regular:
            if file.size == 0 {
                diagnostics.append(emit("initrd '\(shown)' is empty", at: initrd))
            } else if file.bytes == nil {
                diagnostics.append(
                    emit("initrd '\(shown)' is larger than \(ManifestInteger.formatSize(PayloadFile.readLimit))", at: initrd))
            } else if case .failure(.initrd(let message))? = context.linuxLayout, !context.isDamaged(.memory) {
                diagnostics.append(emit(message, at: initrd))
            }
        }
    }
}

/// The command line fits the kernel's `cmdline_size` and the launcher's buffer.
public enum LinuxCmdline: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.linux-cmdline", severity: .error, summary: "The command line is longer than the kernel accepts, or contains a NUL.",
        rationale: "The kernel copies at most cmdline_size bytes (setup header 0x238; 2047 on x86) of the command line and silently drops the rest; the launcher's buffer at 0x9000 holds 16 KiB with the terminating NUL. A NUL would end the line early.",
        kernel: "Nothing reaches the kernel; a truncated command line loses its last options (often `console=` or `init=`) without a word.",
        fix: "Shorten the command line.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, payload.format.value == .linux, let cmdline = payload.cmdline else { return }
        let length = UInt64(cmdline.value.utf8.count)
        if cmdline.value.utf8.contains(0) {
            diagnostics.append(emit("the command line contains a NUL byte, which would end it early", at: cmdline))
        }
        if length >= LinuxBootArea.cmdlineLimit {
            diagnostics.append(
                emit("the command line is \(length) bytes; the launcher's buffer holds \(LinuxBootArea.cmdlineLimit - 1)", at: cmdline))
        } else if case .success(let image)? = context.bzImage, length > UInt64(image.cmdlineSize) {
            diagnostics.append(
                emit("the command line is \(length) bytes, longer than the kernel's cmdline_size \(image.cmdlineSize)", at: cmdline))
        }
    }
}

/// The MP table lists every vCPU.
public enum LinuxVCPUs: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.linux-vcpus", severity: .error, summary: "A Linux guest with more vCPUs than its MP table can list (32).",
        rationale: "Linux finds its processors in the MP table the launcher writes in the last KiB of base memory (0x9fc00, where Linux looks for it without ACPI); that KiB holds 32 processor entries with the IOAPIC and its interrupt routing.",
        kernel: "Processors beyond the table would never be started: they would wait in the in-kernel local APIC for an INIT/SIPI that never comes.",
        fix: "Use at most 32 vCPUs for a Linux guest.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, payload.format.value == .linux,
            context.manifest.vcpus.value > Int(LinuxMPTableArea.maxCPUs)
        else { return }
        diagnostics.append(
            emit(
                "\(context.manifest.vcpus.value) vCPUs, but a Linux guest's MP table lists at most \(LinuxMPTableArea.maxCPUs)",
                at: context.manifest.vcpus, notes: [DiagnosticNote("payload format declared here", at: payload.format.location)]))
    }
}

/// Where the launcher's MP table lists a Linux guest's processors and IOAPIC (mirrors `Plan.LinuxMPTable`;
/// the rules do not import the plan).
public enum LinuxMPTableArea {
    public static let defaultAddress: UInt64 = 0x9_fc00
    public static let maxCPUs: UInt32 = 32
    public static let ioAPICAddress: UInt32 = 0xfec0_0000
    public static let localAPICAddress: UInt32 = 0xfee0_0000
}
