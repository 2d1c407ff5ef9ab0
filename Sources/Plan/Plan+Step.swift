import Diagnostics

/// One step of a plan: an operation with typed arguments, a stable id and the manifest location that caused it.
public struct Step: Hashable, Sendable {
    /// Stable, derived from manifest names (`vm`, `gmem.ram`, `slot.ram`, `attr.ram`, `vcpu.0`,
    /// `snp.launch-update.ram`); unique within a plan. The differ matches steps by id.
    public var id: String
    public var operation: Operation
    /// The manifest location that needs the step; nil for steps every plan has (`kvm`, `api-version`).
    public var source: SourceLocation?
    /// `posted` when the step relies on a uapi only in a posted series. Defaults to the operation's own status.
    public var uapiStatus: UAPIStatus
    /// A remark for people, shown in text and kept in JSON.
    public var comment: String?

    public init(
        _ id: String, _ operation: Operation, source: SourceLocation? = nil, uapiStatus: UAPIStatus? = nil,
        comment: String? = nil
    ) {
        self.id = id
        self.operation = operation
        self.source = source
        self.uapiStatus = uapiStatus ?? operation.uapiStatus
        self.comment = comment
    }

    /// Whether `id` is a well-formed step id: non-empty, of `A-Z a-z 0-9 . _ + -`.
    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty
            && id.utf8.allSatisfy { b in
                PlanFormatting.isLowerAlnum(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
                    || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "+") || b == UInt8(ascii: "-")
            }
    }
}
