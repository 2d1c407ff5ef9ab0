import Diagnostics

/// The manifest's own YAML tree: every node keeps its location and data path, so later stages can
/// point at the exact key or value (STYLE rule 4). Built from libyaml events (`ManifestSource`).
public struct YAMLNode: Sendable {
    public enum Kind: Sendable {
        /// A scalar and whether it was written plain (unquoted), which matters for `true`/`12` vs `"12"`.
        case scalar(String, plain: Bool)
        case mapping([Pair])
        case sequence([YAMLNode])
    }

    public struct Pair: Sendable {
        public var key: String
        public var keyLocation: SourceLocation
        public var value: YAMLNode
    }

    public var kind: Kind
    public var location: SourceLocation
    public var path: DataPath

    public var kindName: String {
        switch kind {
        case .scalar: "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }
}
