import Diagnostics

/// Column widths for rendering steps as aligned lines. `compact` separates cells by single spaces; a plan
/// rendering uses `PlanTextRenderer.layout(for:)` so its steps line up.
public struct StepLineLayout: Hashable, Sendable {
    public var definitionWidth: Int
    public var opWidth: Int
    public var fdWidth: Int
    public var argumentsWidth: Int

    public init(definitionWidth: Int, opWidth: Int, fdWidth: Int, argumentsWidth: Int) {
        self.definitionWidth = definitionWidth
        self.opWidth = opWidth
        self.fdWidth = fdWidth
        self.argumentsWidth = argumentsWidth
    }

    /// No alignment: `%vm = KVM_CREATE_VM %kvm type=KVM_X86_DEFAULT_VM`.
    public static let compact = StepLineLayout(definitionWidth: 0, opWidth: 0, fdWidth: 0, argumentsWidth: 0)

    var isCompact: Bool { self == .compact }
}

/// Renders a plan as the aligned text of DESIGN §4:
///
/// ```
/// # kvmplan plan 1 · x86_64 · sev-snp · snp-demo · sha256:…
/// %kvm      = open                         /dev/kvm
///             KVM_GET_API_VERSION          %kvm  expect 12
/// %vm       = KVM_CREATE_VM                %kvm  type=KVM_X86_SNP_VM             # guest.yaml:5:11
/// ```
///
/// Sizes print as `512MiB` when exact, addresses in hex, flags as names joined by `|`, `KVM_MEMORY_ENCRYPT_OP`
/// steps by their sub-command, steps of a posted uapi with a `posted uapi` mark. A `handlers:` section follows.
public struct PlanTextRenderer: Sendable {
    /// Show manifest locations as `# file:line:col` comments.
    public var showSources: Bool

    public init(showSources: Bool = true) { self.showSources = showSources }

    /// Widest `arguments` cell that still pushes comments to a common column; longer ones are not padded.
    static let maximumArgumentsWidth = 60

    // MARK: - Whole plans

    public func render(_ plan: Plan) -> String {
        var out = "# kvmplan plan \(plan.formatVersion) · \(plan.arch.rawValue) · \(plan.platform.rawValue) · \(plan.name)"
        out += " · \(plan.digest)\n"
        out += "# manifest \(plan.manifestDigest)\n"
        out += requirementsSection(plan)
        if let payload = plan.payload {
            var parts = [
                payload.path, payload.format.rawValue, "\(payload.size) bytes", PlanFormatting.shortDigest(payload.sha256),
                "load \(PlanFormatting.hex(payload.loadGPA))", "entry \(PlanFormatting.hex(payload.entry))",
                payload.mode.rawValue,
            ]
            if payload.measured { parts.append("measured") }
            out += "# payload: " + parts.joined(separator: " · ")
            if showSources, let source = payload.source { out += "  (\(source))" }
            out += "\n"
        }
        if let measurement = plan.measurement {
            if let digest = measurement.snpLaunchDigest {
                out += "# measurement: SNP launch digest \(digest)\n"
                out += "#   = the LAUNCH_UPDATEs (\(measurement.snpLaunchUpdates ?? "?")), then each vCPU's VMSA as KVM builds it\n"
            } else if let updates = measurement.snpLaunchUpdates {
                out += "# measurement: SNP launch digest after the LAUNCH_UPDATEs \(updates)\n"
                out += "#   (LAUNCH_FINISH then adds each vCPU's VMSA; this plan does not carry them)\n"
            }
            if let mrtd = measurement.tdxMRTD {
                out += "# measurement: TDX MRTD \(mrtd)\n"
                out += "#   = the KVM_TDX_INIT_MEM_REGION pages as the TDX module measures them (MEM.PAGE.ADD, MR.EXTEND)\n"
            }
        }
        out += "\n"
        // Each step's cells once: they size the columns, then fill them.
        let cells = plan.steps.map { Self.cells($0.operation) }
        let layout = Self.layout(forCells: cells)
        out.reserveCapacity(out.utf8.count + plan.steps.count * 120)
        for (step, c) in zip(plan.steps, cells) {
            out += Self.line(for: step, cells: c, layout: layout, showComment: true, showSource: showSources)
            out += "\n"
        }
        if !plan.handlers.isEmpty {
            out += "\nhandlers:\n"
            let lines = plan.handlers.map { "  " + Self.handlerText($0) }
            let width = min(lines.map(\.count).max() ?? 0, 100)
            for (line, handler) in zip(lines, plan.handlers) {
                if showSources, let source = handler.source {
                    out += Self.pad(line, width) + "  # \(source)\n"
                } else {
                    out += line + "\n"
                }
            }
        }
        return out
    }

    private func requirementsSection(_ plan: Plan) -> String {
        let requires = plan.requires
        var rows: [(String, SourceLocation?)] = [
            ("KVM API version \(requires.apiVersion)", nil),
            ("VM type \(requires.vmType.type.name) = \(PlanFormatting.hex(requires.vmType.type.value))", requires.vmType.source),
        ]
        for requirement in requires.sortedCapabilities {
            var text = "\(requirement.cap.name) \(Self.expectationText(requirement.cap, requirement.expect))"
            if requirement.scope == .vm { text += " (on the VM fd)" }
            if requirement.cap.uapiStatus == .posted { text += " · posted uapi (\(UAPIStatus.postedSeries))" }
            rows.append((text, requirement.source))
        }
        if let flags = requires.guestMemfdFlags {
            rows.append(("guest_memfd flags \(flags.flags.text)", flags.source))
        }
        let width = rows.map(\.0.count).max() ?? 0
        var out = "# requires:\n"
        for (text, source) in rows {
            if showSources, let source {
                out += "#   " + Self.pad(text, width) + "  (\(source))\n"
            } else {
                out += "#   " + text + "\n"
            }
        }
        return out
    }

    // MARK: - One step

    /// The column widths that align `steps`.
    public static func layout(for steps: [Step]) -> StepLineLayout {
        layout(forCells: steps.map { cells($0.operation) })
    }

    static func layout(forCells all: [Cells]) -> StepLineLayout {
        var layout = StepLineLayout(definitionWidth: 0, opWidth: 0, fdWidth: 0, argumentsWidth: 0)
        for c in all {
            layout.definitionWidth = max(layout.definitionWidth, width(c.definition))
            layout.opWidth = max(layout.opWidth, width(c.op))
            layout.fdWidth = max(layout.fdWidth, width(c.fd))
            let arguments = c.arguments.reduce(max(0, c.arguments.count - 1)) { $0 + width($1) }
            if arguments <= maximumArgumentsWidth { layout.argumentsWidth = max(layout.argumentsWidth, arguments) }
        }
        return layout
    }

    /// One step as one line: `%gmem.ram = KVM_CREATE_GUEST_MEMFD %vm size=512MiB flags=0  # guest.yaml:11:7`.
    /// The launcher's `--trace` prints executed steps with this (`showComment: false`) followed by ` = result`.
    public static func line(
        for step: Step, layout: StepLineLayout = .compact, showComment: Bool = true, showSource: Bool = true
    ) -> String {
        line(for: step, cells: cells(step.operation), layout: layout, showComment: showComment, showSource: showSource)
    }

    static func line(for step: Step, cells c: Cells, layout: StepLineLayout, showComment: Bool, showSource: Bool) -> String {
        let gap = layout.isCompact ? 1 : 2
        // Built as bytes, column by column; `width` is the display width written so far.
        var line: [UInt8] = []
        line.reserveCapacity(160)
        var width = 0
        func append(_ text: String) {
            line.append(contentsOf: text.utf8)
            width += Self.width(text)
        }
        func spaces(_ n: Int) {
            guard n > 0 else { return }
            line.append(contentsOf: repeatElement(UInt8(ascii: " "), count: n))
            width += n
        }
        func padded(_ text: String, _ column: Int) {
            append(text)
            spaces(column - Self.width(text))
        }
        if c.definition.isEmpty {
            if !layout.isCompact { spaces(layout.definitionWidth + 3) }
        } else {
            padded(c.definition, layout.definitionWidth)
            append(" = ")
        }
        padded(c.op, layout.opWidth)
        if !c.fd.isEmpty || layout.fdWidth > 0 {
            spaces(gap)
            padded(c.fd, layout.fdWidth)
        }
        if !c.arguments.isEmpty {
            spaces(gap)
            let start = width
            for (n, argument) in c.arguments.enumerated() {
                if n > 0 { spaces(1) }
                append(argument)
            }
            spaces(layout.argumentsWidth - (width - start))
        }
        while line.last == UInt8(ascii: " ") {
            line.removeLast()
            width -= 1
        }

        var notes: [String] = []
        if step.uapiStatus == .posted { notes.append("posted uapi (\(UAPIStatus.postedSeries))") }
        if let comment = step.comment { notes.append(comment) }
        if showSource, let source = step.source { notes.append(source.description) }
        if showComment && !notes.isEmpty {
            if !layout.isCompact {
                let commentColumn =
                    layout.definitionWidth + 3 + layout.opWidth + 2 + layout.fdWidth + 2 + layout.argumentsWidth
                spaces(commentColumn - width)
            }
            append("  # ")
            for (n, note) in notes.enumerated() {
                if n > 0 { append(" · ") }
                append(note)
            }
        }
        return String(decoding: line, as: UTF8.self)
    }

    /// The cells of a step: the fd it defines, the op (the sub-command for `KVM_MEMORY_ENCRYPT_OP`), the fd it
    /// acts on, and its arguments.
    /// `open` shows the path it opens in the fd column.
    typealias Cells = (definition: String, op: String, fd: String, arguments: [String])

    static func cells(_ operation: Operation) -> Cells {
        let step = operation.step
        return (operation.defines?.description ?? "", operation.command ?? operation.op, step.textFd, step.textArguments)
    }

    /// `expect >= 1`, `expect bit 4`, `expect MMAP|INIT_SHARED`.
    static func expectationText(_ cap: Capability, _ expect: CapabilityExpectation) -> String {
        switch expect {
        case .atLeast(let minimum):
            return "expect >= \(minimum)"
        case .bits(let mask):
            if let names = cap.bitNames {
                let named = names.filter { mask & $0.bit != 0 }
                if named.reduce(0, { $0 | $1.bit }) == mask, !named.isEmpty {
                    return "expect " + named.map(\.name).joined(separator: "|")
                }
            }
            let bits = (0..<64).filter { mask & (1 << UInt64($0)) != 0 }.map(String.init)
            return bits.count == 1 ? "expect bit \(bits[0])" : "expect bits \(bits.joined(separator: ","))"
        }
    }

    // MARK: - Handlers

    /// `on KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE) in [ram]: set attributes; private→shared: punch hole; …`.
    public static func handlerText(_ handler: Handler) -> String {
        func conversion(_ ranges: [ConvertibleRange], _ onShare: OnShare, _ onUnshare: OnUnshare) -> String {
            let names = ranges.map(\.region).joined(separator: ", ")
            let share = onShare == .punchHole ? "punch hole" : "keep"
            let unshare = onUnshare == .discard ? "discard" : "keep"
            return "in [\(names)]: set attributes; private→shared: \(share); shared→private: \(unshare)"
        }
        switch handler.kind {
        case .serial(let port):
            return "on KVM_EXIT_IO port \(PlanFormatting.hex(UInt64(port))): 8250 UART, output → stdout"
        case .exitPort(let port):
            return "on KVM_EXIT_IO out port \(PlanFormatting.hex(UInt64(port))): exit with the byte written"
        case .mmio(let region, let range, let readonly):
            return "on KVM_EXIT_MMIO in \(region) \(range): "
                + (readonly ? "read-only memslot, writes exit" : "no memslot, accesses exit")
        case .hypercallMapGPARange(let ranges, let onShare, let onUnshare):
            return "on KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE) " + conversion(ranges, onShare, onUnshare)
        case .memoryFault(let ranges, let onShare, let onUnshare):
            return "on KVM_EXIT_MEMORY_FAULT " + conversion(ranges, onShare, onUnshare)
        case .halt:
            return "on KVM_EXIT_HLT: exit 0"
        case .i8042(let port):
            return "on KVM_EXIT_IO port \(PlanFormatting.hex(UInt64(port))) (i8042): no keyboard (status: input empty, output never drains); reset command 0xfe → exit 0"
        }
    }

    // MARK: - Helpers

    /// Display width for alignment: Unicode scalars (plans are ASCII but for paths and names), far cheaper
    /// than counting grapheme clusters on every cell of a 4096-region plan.
    static func width(_ text: String) -> Int { text.unicodeScalars.count }

    static func pad(_ text: String, _ width: Int) -> String {
        let count = Self.width(text)
        return count >= width ? text : text + String(repeating: " ", count: width - count)
    }
}
