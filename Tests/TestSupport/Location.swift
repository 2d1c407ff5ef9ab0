import Diagnostics

/// `Diagnostics.SourceLocation`, named so files that also import Testing (which has its own `SourceLocation`)
/// can spell it: `Diagnostics.SourceLocation` would name a member of the `Diagnostics` struct. This file
/// imports only Diagnostics, so the name is unambiguous here.
public typealias ManifestLocation = SourceLocation
