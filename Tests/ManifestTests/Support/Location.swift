import Diagnostics

/// `Diagnostics.SourceLocation`, named so that files importing both Testing and Diagnostics (each with a
/// `SourceLocation`) can spell it; `Diagnostics.SourceLocation` would name a member of the `Diagnostics` struct.
typealias ManifestLocation = SourceLocation
