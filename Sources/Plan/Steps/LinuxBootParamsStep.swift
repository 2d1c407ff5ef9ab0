import Diagnostics

/// The Linux/x86 boot protocol's zero page (`struct boot_params`) at `zeroPage`, written through `into`:
/// the kernel's setup header copied from the payload, the e820 map, the initrd's place, and the command
/// line at `cmdlineGPA`. Spelled `boot-params`.
public struct LinuxBootParamsStep: StepKind {
    public var into: Address
    public var zeroPage: UInt64
    public var cmdlineGPA: UInt64
    public var cmdline: String
    public var initrd: GPARange?
    public var e820: [E820Entry]

    public init(
        into: Address, zeroPage: UInt64, cmdlineGPA: UInt64, cmdline: String, initrd: GPARange?, e820: [E820Entry]
    ) {
        self.into = into
        self.zeroPage = zeroPage
        self.cmdlineGPA = cmdlineGPA
        self.cmdline = cmdline
        self.initrd = initrd
        self.e820 = e820
    }

    // MARK: What it is

    static let op = "boot-params"
    static let allowedKinds: Set<FdKind> = [.mapping]
    static let architectures: Set<PlanArch> = [.x86_64]

    var actsOn: FdRef? { into.map }

    func ioctls(arch: PlanArch) -> [Ioctl] { [] }

    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        if e820.count > LinuxZeroPage.maxE820Entries { problems.append(("e820", "the zero page holds at most 128 e820 entries")) }
        if cmdline.utf8.contains(0) { problems.append(("cmdline", "the command line must not contain a NUL byte")) }
        // Both ranges as [start, end), with ends that may not wrap past 2^64.
        let (pageEnd, pageWraps) = zeroPage.addingReportingOverflow(UInt64(LinuxZeroPage.size))
        let (lineEnd, lineWraps) = cmdlineGPA.addingReportingOverflow(UInt64(cmdline.utf8.count) + 1)
        if pageWraps { problems.append(("zero-page", "the zero page would end beyond the 64-bit address space")) }
        if lineWraps { problems.append(("cmdline-gpa", "the command line would end beyond the 64-bit address space")) }
        if cmdlineGPA < zeroPage {
            problems.append(("cmdline-gpa", "the command line must lie above the zero page (it is written through the zero page's mapping)"))
        } else if !pageWraps && !lineWraps && cmdlineGPA < pageEnd && zeroPage < lineEnd {
            problems.append(("cmdline-gpa", "the command line overlaps the zero page"))
        }
        return problems
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] {
        [
            "offset": .number(into.offset), "zero-page": .number(zeroPage), "cmdline-gpa": .number(cmdlineGPA),
            "cmdline": .string(cmdline),
            "initrd": initrd.map { .object(["gpa": .number($0.gpa), "size": .number($0.size)]) } ?? .null,
            "e820": .array(
                e820.map { .object(["address": .number($0.address), "size": .number($0.size), "type": .string($0.kind.rawValue)]) }),
        ]
    }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        let map = try d.on()
        let offset = try d.args.uint64("offset")
        let zeroPage = try d.args.uint64("zero-page")
        let cmdlineGPA = try d.args.uint64("cmdline-gpa")
        let cmdline = try d.args.string("cmdline")
        var initrd: GPARange?
        if var r = try d.args.optionalObject("initrd") {
            initrd = GPARange(gpa: try r.uint64("gpa"), size: try r.uint64("size"))
            try r.finish()
        }
        guard let items = try d.args.value("e820").arrayValue else { throw d.args.error("e820", "expected an array") }
        var e820: [E820Entry] = []
        for (n, item) in items.enumerated() {
            var r = try ObjectReader(item, path: d.args.field("e820[\(n)]"), context: d.context)
            e820.append(
                E820Entry(address: try r.uint64("address"), size: try r.uint64("size"), kind: try r.choice("type", E820Entry.Kind.self)))
            try r.finish()
        }
        return Self(
            into: Address(map, offset: offset), zeroPage: zeroPage, cmdlineGPA: cmdlineGPA, cmdline: cmdline, initrd: initrd,
            e820: e820)
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        let size = PlanFormatting.size
        var out = ["zero-page=\(hex(zeroPage))", "cmdline=\(hex(cmdlineGPA))", "\"\(PlanFormatting.escaped(cmdline))\""]
        if let initrd { out.append("initrd=\(hex(initrd.gpa))+\(size(initrd.size))") }
        let map = e820.map { "\(hex($0.address))+\(size($0.size)):\($0.kind.rawValue)" }.joined(separator: ",")
        out.append("e820=[\(map)]")
        return out
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        var lines = [
            "{ /* struct boot_params: the setup header from the payload, then the boot loader's fields */",
            "    unsigned char *zp = (unsigned char *)\(c.v(into.map)) + \(c.hex(into.offset));",
            "    static const char cmdline[] = \(PlanCRenderer.literal(cmdline));", "    size_t end;",
            "    memset(zp, 0, 4096);", "    kp_load(\(c.id), zp + 0x1f1, 0x290 - 0x1f1, 0x1f1);",
            "    end = 0x202 + (size_t)zp[0x201];", "    if (end < 0x290) memset(zp + end, 0, 0x290 - end);",
            "    zp[0x210] = 0xff; /* type_of_loader: undefined */",
            "    { uint32_t x = (uint32_t)\(c.hex(cmdlineGPA & 0xffff_ffff)); memcpy(zp + 0x228, &x, 4); } /* cmd_line_ptr */",
            "    { uint32_t x = (uint32_t)\(c.hex(cmdlineGPA >> 32)); memcpy(zp + 0x0c8, &x, 4); } /* ext_cmd_line_ptr */",
        ]
        do {
            let initrd = initrd ?? GPARange(gpa: 0, size: 0)
            lines += [
                "    { uint32_t x = (uint32_t)\(c.hex(initrd.gpa & 0xffff_ffff)); memcpy(zp + 0x218, &x, 4); } /* ramdisk_image */",
                "    { uint32_t x = (uint32_t)\(c.hex(initrd.gpa >> 32)); memcpy(zp + 0x0c0, &x, 4); } /* ext_ramdisk_image */",
                "    { uint32_t x = (uint32_t)\(c.hex(initrd.size & 0xffff_ffff)); memcpy(zp + 0x21c, &x, 4); } /* ramdisk_size */",
                "    { uint32_t x = (uint32_t)\(c.hex(initrd.size >> 32)); memcpy(zp + 0x0c4, &x, 4); } /* ext_ramdisk_size */",
            ]
        }
        lines.append("    zp[0x1e8] = \(e820.count); /* e820_entries */")
        for (n, entry) in e820.enumerated() {
            let at = 0x2d0 + 20 * n
            lines.append(
                "    { uint64_t e[2] = { \(c.hex(entry.address)), \(c.hex(entry.size)) }; uint32_t t = \(entry.kind.value); memcpy(zp + 0x\(String(at, radix: 16)), e, 16); memcpy(zp + 0x\(String(at + 16, radix: 16)), &t, 4); } /* e820: \(entry.kind.rawValue) */")
        }
        lines += [
            "    memcpy(zp + \(c.hex(cmdlineGPA - zeroPage)), cmdline, sizeof cmdline); /* the command line, NUL included */", "}",
        ]
        return lines
    }
}

extension Operation {
    /// The Linux/x86 boot protocol's zero page (`struct boot_params`) at `zeroPage`, written through `into`:
    /// the kernel's setup header copied from the payload, the e820 map, the initrd's place, and the command
    /// line at `cmdlineGPA`. Spelled `boot-params`.
    public static func linuxBootParams(
        into: Address, zeroPage: UInt64, cmdlineGPA: UInt64, cmdline: String, initrd: GPARange?, e820: [E820Entry]
    ) -> Operation {
        .linuxBootParams(LinuxBootParamsStep(into: into, zeroPage: zeroPage, cmdlineGPA: cmdlineGPA, cmdline: cmdline, initrd: initrd, e820: e820))
    }
}
