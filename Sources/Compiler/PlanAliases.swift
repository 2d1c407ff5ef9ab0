import Plan

// The Plan and Manifest modules both name a `BootMode`, `OnShare` and `OnUnshare`, and the module `Plan`
// is shadowed by its struct `Plan`, so files importing both refer to the plan's types by these names.
typealias PlanBootMode = BootMode
typealias PlanOnShare = OnShare
typealias PlanOnUnshare = OnUnshare

// The manifest's words for these, mapped case by case: a case added on one side without the other does not compile.

extension PlanBootMode {
    init(_ mode: ManifestBootMode) {
        switch mode {
        case .real: self = .real
        case .protected: self = .protected
        case .long: self = .long
        }
    }
}

extension PlanOnShare {
    init(_ policy: ManifestOnShare) {
        switch policy {
        case .punchHole: self = .punchHole
        case .keep: self = .keep
        }
    }
}

extension PlanOnUnshare {
    init(_ policy: ManifestOnUnshare) {
        switch policy {
        case .discard: self = .discard
        case .keep: self = .keep
        }
    }
}

extension PayloadInfo.Format {
    init(_ format: ManifestPayloadFormat) {
        switch format {
        case .flat: self = .flat
        case .elf: self = .elf
        case .firmware: self = .firmware
        case .linux: self = .linux
        }
    }
}
